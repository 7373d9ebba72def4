"""Gate policies and gate checks over HTTP."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy.exc import OperationalError
from starlette.concurrency import run_in_threadpool

from charter.access.principal import Principal
from charter.db import read_only
from charter.deps import CtxDep, PrincipalDep, request_ctx
from charter.policy import gate, service
from charter.policy.schemas import GateRead, PolicyRead, PolicySave, Stage, ValidateRequest
from charter.routing import API

router = APIRouter(prefix=API, tags=["policy"])


@router.get("/gate-facts", summary="The facts a gate rule can use: namespaces, fields and CEL types")
def facts_schema(ctx: CtxDep) -> list[dict[str, Any]]:
    ctx.require("policies:read")
    from charter.policy.facts import providers

    return providers()


@router.get("/policies", summary="List gate policies (latest version of each)")
def list_policies(ctx: CtxDep, stage: Stage | None = None) -> list[PolicyRead]:
    return [service.to_read(p) for p in service.list_policies(ctx, stage)]


@router.post("/policies/validate", summary="Compile and type-check rules without saving them")
def validate(body: ValidateRequest, ctx: CtxDep) -> dict[str, Any]:
    count = service.validate_rules(ctx, body.rules)
    return {"valid": True, "rules": count}


@router.post("/policies/install-defaults", summary="Install or update the shipped default policies")
def install_defaults(ctx: CtxDep) -> list[dict[str, Any]]:
    rows = service.install_defaults(ctx)
    ctx.commit()
    return [{"name": p.name, "version": p.version, "stage": p.stage, "changed": changed} for p, changed in rows]


@router.get("/policies/{name}", summary="Read a policy (latest version, or ?version=N)")
def read_policy(name: str, ctx: CtxDep, version: int | None = None) -> PolicyRead:
    return service.to_read(service.read_policy(ctx, name, version))


@router.get("/policies/{name}/versions", summary="Every version of a policy")
def versions(name: str, ctx: CtxDep) -> list[PolicyRead]:
    return [service.to_read(p) for p in service.list_versions(ctx, name)]


@router.put(
    "/policies/{name}",
    summary="Save a new version of a policy; rules are compiled and type-checked (422 with line and column)",
)
def save_policy(name: str, body: PolicySave, ctx: CtxDep, response: Response) -> PolicyRead:
    policy, changed = service.save_policy(ctx, name, body)
    ctx.commit()
    response.status_code = 201 if changed else 200
    return service.to_read(policy)


@router.post(
    "/systems/{key}/releases/{version}/gate",
    summary="Evaluate the gate of a stage for a release (stored as evidence); 200 with passed true or false",
)
async def check_gate(
    key: str, version: int, stage: Stage, request: Request, principal: PrincipalDep, include_facts: bool = False
) -> GateRead:
    # The hot path of CI pipelines. When an earlier check evaluated the same (system, release, stage) under
    # the current ledger head from facts still fresh (charter.policy.gate.prepared_check), the evaluation is
    # stored again without a thread hop or a read; otherwise it is evaluated in a worker thread. Either way
    # it is stored through the group-commit writer before the answer is sent (docs/decisions.md, D8).
    principal.require("gate:check")
    app = request.app.state
    now = app.clock.now()
    head = getattr(request.state, "ledger_head", None)  # read when the token was authenticated
    ttl = app.settings.gate_facts_ttl_seconds
    prepared = gate.prepared_check(key, version, stage, head, now, ttl) if head is not None else None
    if prepared is not None:
        values = gate.check_values(prepared, stage, principal.actor, now)
    else:
        values = await run_in_threadpool(_evaluate_now, request, principal, key, version, stage)
    evaluation_id = await gate.evaluation_inserter(app.session_factory).insert(values)
    return gate.read_values(values, evaluation_id, key, version, include_facts)


def _evaluate_now(request: Request, principal: Principal, key: str, version: int, stage: str) -> dict[str, Any]:
    with request_ctx(request, principal) as ctx:
        # Evaluate in a read-only transaction (on SQLite: no write lock while the facts are assembled).
        read_only(ctx.session)
        try:
            evaluation = gate.evaluate_check(ctx, key, version, stage)
        except OperationalError:
            # SQLite: the first gate ever installs the shipped defaults, and another write committed in
            # between (SQLITE_BUSY_SNAPSHOT). Evaluate again in an ordinary write transaction.
            ctx.session.rollback()
            evaluation = gate.evaluate_check(ctx, key, version, stage)
        ctx.commit()  # ends the read (or keeps the defaults just installed)
        return gate.evaluation_values(evaluation)


@router.get("/systems/{key}/releases/{version}/gate-evaluations", summary="Stored gate evaluations of a release")
def list_evaluations(key: str, version: int, ctx: CtxDep, stage: Stage | None = None) -> list[GateRead]:
    return [gate.to_read(e, key, version) for e in gate.list_evaluations(ctx, key, version, stage)]


@router.get("/gate-evaluations/{evaluation_id}", summary="One stored gate evaluation, with the facts it saw")
def read_evaluation(evaluation_id: int, ctx: CtxDep) -> GateRead:
    evaluation, key, version = gate.read_evaluation(ctx, evaluation_id)
    return gate.to_read(evaluation, key, version, include_facts=True)
