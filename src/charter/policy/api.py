"""Gate policies over HTTP. (Gate checks are the release gate's: charter.releases.api.)"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from charter.access.deps import CtxDep
from charter.inventory.rules import DeploymentStage
from charter.kit.routing import API
from charter.policy import queries, service
from charter.policy.schemas import PolicyRead, PolicySave, ValidateRequest

router = APIRouter(prefix=API, tags=["policy"])


@router.get("/gate-facts", summary="The facts a gate rule can use: namespaces, fields and CEL types")
def facts_schema(ctx: CtxDep) -> list[dict[str, Any]]:
    return queries.facts_schema(ctx)


@router.get("/policies", summary="List gate policies (latest version of each)")
def list_policies(ctx: CtxDep, stage: DeploymentStage | None = None) -> list[PolicyRead]:
    return [queries.to_read(p) for p in queries.list_policies(ctx, stage)]


@router.post("/policies/validate", summary="Compile and type-check rules without saving them")
def validate(body: ValidateRequest, ctx: CtxDep) -> dict[str, Any]:
    count = queries.validate_rules(ctx, body.rules)
    return {"valid": True, "rules": count}


@router.post("/policies/install-defaults", summary="Install or update the shipped default policies")
def install_defaults(ctx: CtxDep) -> list[dict[str, Any]]:
    rows = service.install_defaults(ctx)
    ctx.commit()
    return [{"name": p.name, "version": p.version, "stage": p.stage, "changed": changed} for p, changed in rows]


@router.get("/policies/{name}", summary="Read a policy (latest version, or ?version=N)")
def read_policy(name: str, ctx: CtxDep, version: int | None = None) -> PolicyRead:
    return queries.to_read(queries.read_policy(ctx, name, version))


@router.get("/policies/{name}/versions", summary="Every version of a policy")
def versions(name: str, ctx: CtxDep) -> list[PolicyRead]:
    return [queries.to_read(p) for p in queries.list_versions(ctx, name)]


@router.put(
    "/policies/{name}",
    summary="Save a new version of a policy; rules are compiled and type-checked (422 with line and column)",
)
def save_policy(name: str, body: PolicySave, ctx: CtxDep, response: Response) -> PolicyRead:
    policy, changed = service.save_policy(ctx, name, body)
    ctx.commit()
    response.status_code = 201 if changed else 200
    return queries.to_read(policy)
