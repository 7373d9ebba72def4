"""Releases over HTTP: thin endpoints over charter.releases.service and charter.releases.deploy."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from charter.access.deps import CtxDep, PrincipalDep, WritingCtxDep
from charter.inventory.queries import get_system
from charter.inventory.rules import DeploymentStage
from charter.kit.routing import API, threaded
from charter.releases import deploy, gate, history, queries, service, verify
from charter.releases.schemas import (
    DecisionIn,
    DeploymentRead,
    GateRead,
    PointerRead,
    PromoteIn,
    ReleaseCreate,
    ReleaseRead,
    ReleaseSummary,
    RollbackIn,
    StageRequest,
    StagesIn,
    StagesRead,
    VerificationRead,
    WithdrawIn,
)

router = APIRouter(prefix=f"{API}/systems/{{key}}", tags=["releases"])
evaluations_router = APIRouter(prefix=f"{API}/gate-evaluations", tags=["releases"])
routers = (router, evaluations_router)
SHA = Annotated[str, Query(min_length=64, max_length=64, description="SHA-256 of the running artifact")]


def _read(ctx: CtxDep, key: str, version: int) -> ReleaseRead:
    return queries.read_release(ctx, key, version)


@router.post("/releases", status_code=201, summary="Submit a release (immutable once submitted)")
def submit(key: str, body: ReleaseCreate, ctx: CtxDep) -> ReleaseRead:
    system, release = service.submit_release(ctx, key, body)
    ctx.commit()
    return queries.to_read(ctx.session, system, release)


@router.get("/releases", summary="List a system's releases with their status per stage")
def list_releases(key: str, ctx: CtxDep) -> list[ReleaseSummary]:
    return queries.list_releases(ctx, key)


@router.get("/releases/{version}", summary="Read one release: artifacts, change record, stages, approvals")
def read(key: str, version: int, ctx: CtxDep) -> ReleaseRead:
    return queries.read_release(ctx, key, version)


@router.get("/releases/{v1}/diff/{v2}", summary="What changed between two releases")
def diff(key: str, v1: int, v2: int, ctx: CtxDep) -> dict[str, Any]:
    return queries.diff_releases(ctx, key, v1, v2)


@router.post("/releases/{version}/requests", status_code=201, summary="Request promotion to a stage")
def request_stage(key: str, version: int, body: StageRequest, ctx: CtxDep) -> ReleaseRead:
    service.request_stage(ctx, key, version, body)
    ctx.commit()
    return _read(ctx, key, version)


@router.post("/releases/{version}/approvals", status_code=201, summary="Approve or reject a release for a stage")
def decide(key: str, version: int, body: DecisionIn, ctx: CtxDep) -> ReleaseRead:
    service.decide(ctx, key, version, body)
    ctx.commit()
    return _read(ctx, key, version)


@router.post("/releases/{version}/withdraw", summary="Withdraw a release from a stage")
def withdraw(key: str, version: int, body: WithdrawIn, ctx: CtxDep) -> ReleaseRead:
    deploy.withdraw(ctx, key, version, body)
    ctx.commit()
    return _read(ctx, key, version)


@router.post(
    "/releases/{version}/promote",
    summary="Deploy a release to a stage; the gate is evaluated now and a failure is a 409 naming the rules",
)
def promote(key: str, version: int, body: PromoteIn, ctx: CtxDep) -> dict[str, Any]:
    try:
        move, evaluation = deploy.promote(ctx, key, version, body)
    except deploy.GateRefused:
        ctx.commit()  # the refused evaluation is evidence too
        raise
    ctx.commit()
    system = get_system(ctx.session, key)
    return {
        "deployment": history.to_deployment_read(ctx.session, system, [move])[0].model_dump(mode="json"),
        "gate": gate.to_read(evaluation, key, version).model_dump(mode="json"),
    }


@router.post("/rollback", summary="Redeploy the previous (or a named) release at a stage, with a reason")
def rollback(key: str, body: RollbackIn, ctx: CtxDep) -> DeploymentRead:
    move = deploy.rollback(ctx, key, body)
    ctx.commit()
    system = get_system(ctx.session, key)
    return history.to_deployment_read(ctx.session, system, [move])[0]


@router.get("/deployments", summary="What is deployed at each stage now, and possible shadow deployments")
def deployments(key: str, ctx: CtxDep) -> dict[str, Any]:
    stages = queries.read_stages(ctx, key)
    flagged = verify.verifications(ctx, key, flagged=True, limit=20)
    return {
        "system": key,
        "stages": stages.stages,
        "deployed": [p.model_dump(mode="json") for p in stages.pointers],
        "possible_shadow_deployments": [v.model_dump(mode="json") for v in flagged],
    }


@router.get("/deployments/history", summary="Every pointer move: who, when, from, to, why")
def deployment_history(key: str, ctx: CtxDep, stage: DeploymentStage | None = None) -> list[DeploymentRead]:
    return history.history(ctx, key, stage)


@router.get("/deployments/at", summary="What was deployed at a stage at time T")
def deployed_at(key: str, stage: DeploymentStage, at: datetime, ctx: CtxDep) -> PointerRead:
    return history.deployed_at(ctx, key, stage, at)


@router.get(
    "/deployments/verify",
    summary="Does this artifact belong to the release deployed at the stage? (recorded; failures are flagged)",
)
@threaded  # it records the verification: a write transaction, never on the event loop
def verify_deployment(key: str, stage: DeploymentStage, sha256: SHA, ctx: WritingCtxDep) -> VerificationRead:
    result = verify.verify(ctx, key, stage, sha256)
    ctx.commit()
    return result


@router.get("/deployments/verifications", summary="Recorded verifications; flagged=true: possible shadow deployments")
def verifications(
    key: str,
    ctx: CtxDep,
    flagged: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[VerificationRead]:
    return verify.verifications(ctx, key, flagged, limit)


@router.get("/release-stages", summary="The release stages this system goes through")
def read_stages(key: str, ctx: CtxDep) -> StagesRead:
    return queries.read_stages(ctx, key)


@router.put("/release-stages", summary="Choose the release stages this system goes through")
def set_stages(key: str, body: StagesIn, ctx: CtxDep) -> StagesRead:
    result = service.set_stages(ctx, key, body)
    ctx.commit()
    return result


@router.post(
    "/releases/{version}/gate",
    summary="Evaluate the gate of a stage for a release (stored as evidence); 200 with passed true or false",
)
async def check_gate(
    key: str,
    version: int,
    stage: DeploymentStage,
    request: Request,
    principal: PrincipalDep,
    include_facts: bool = False,
) -> GateRead:
    state = request.app.state
    return await gate.check(
        gate.GateService(state.session_factory, state.clock, state.settings),
        principal,
        key,
        version,
        stage,
        head=getattr(request.state, "ledger_head", None),  # read when the token was authenticated
        request_id=getattr(request.state, "request_id", None),
        include_facts=include_facts,
    )


@router.get("/releases/{version}/gate-evaluations", summary="Stored gate evaluations of a release")
def list_evaluations(key: str, version: int, ctx: CtxDep, stage: DeploymentStage | None = None) -> list[GateRead]:
    return queries.list_evaluations(ctx, key, version, stage)


@evaluations_router.get("/{evaluation_id}", summary="One stored gate evaluation, with the facts it saw")
def read_evaluation(evaluation_id: int, ctx: CtxDep) -> GateRead:
    return queries.read_evaluation(ctx, evaluation_id)
