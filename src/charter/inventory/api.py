from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from charter.access.deps import CtxDep
from charter.inventory import queries, service
from charter.inventory.rules import LifecycleStage, RiskTier
from charter.inventory.schemas import SystemCreate, SystemRead, SystemUpdate, Transition
from charter.kit.pagination import Page
from charter.kit.routing import API

router = APIRouter(prefix=f"{API}/systems", tags=["inventory"])


@router.get("", summary="List AI systems")
def list_systems(
    ctx: CtxDep,
    stage: LifecycleStage | None = None,
    risk_tier: RiskTier | None = None,
    owner: str | None = None,
    tag: str | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    sort: str = "key",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> Page[SystemRead]:
    flt = queries.SystemFilter(stage=stage, risk_tier=risk_tier, owner=owner, tag=tag, q=q)
    items, next_cursor = queries.list_systems(ctx, flt, sort=sort, limit=limit, cursor=cursor)
    return Page[SystemRead](items=items, next_cursor=next_cursor)


@router.post("", status_code=201, summary="Register an AI system")
def create_system(body: SystemCreate, ctx: CtxDep) -> SystemRead:
    system = service.create_system(ctx, body)
    ctx.commit()
    return queries.to_read(ctx.session, system)


@router.get("/{key}", summary="Read one AI system")
def read_system(key: str, ctx: CtxDep) -> SystemRead:
    return queries.read_system(ctx, key)


@router.patch("/{key}", summary="Change an AI system (send the version you read)")
def update_system(key: str, body: SystemUpdate, ctx: CtxDep) -> SystemRead:
    system = service.update_system(ctx, key, body)
    ctx.commit()
    return queries.to_read(ctx.session, system)


@router.post("/{key}/transitions", summary="Move an AI system to another lifecycle stage")
def transition_system(key: str, body: Transition, ctx: CtxDep) -> SystemRead:
    system = service.transition_system(ctx, key, body)
    ctx.commit()
    return queries.to_read(ctx.session, system)
