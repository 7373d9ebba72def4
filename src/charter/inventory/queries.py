"""Reading the inventory: one system, the filtered list (permission checked, never writes)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from charter.access.models import User
from charter.context import Ctx
from charter.inventory.models import AISystem, SystemTag
from charter.inventory.rules import TRANSITIONS
from charter.inventory.schemas import SystemRead
from charter.kit.errors import NotFound
from charter.kit.pagination import paginate

SORTABLE = {
    "key": AISystem.key,
    "name": AISystem.name,
    "stage": AISystem.stage,
    "risk_tier": AISystem.risk_tier,
    "created_at": AISystem.created_at,
    "updated_at": AISystem.updated_at,
}


@dataclass(frozen=True)
class SystemFilter:
    stage: str | None = None
    risk_tier: str | None = None
    owner: str | None = None
    tag: str | None = None
    q: str | None = None


def get_system(session: Session, key: str, *, for_update: bool = False) -> AISystem:
    """The system with this key. for_update locks its row (PostgreSQL) until the transaction ends, so two
    writers holding the same version cannot both pass the version check; SQLite serialises writers anyway."""
    stmt = select(AISystem).where(AISystem.key == key)
    if for_update:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    system = session.execute(stmt).scalar_one_or_none()
    if system is None:
        raise NotFound(f"no AI system with key '{key}'", entity="system")
    return system


def _owner_names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(select(User.id, User.username).where(User.id.in_(ids))).all()
    return {uid: name for uid, name in rows}


def to_read(session: Session, system: AISystem, owners: dict[int, str] | None = None) -> SystemRead:
    if owners is None:
        owners = _owner_names(session, {system.owner_id} if system.owner_id else set())
    return SystemRead.model_validate(
        {
            **{c: getattr(system, c) for c in SystemRead.model_fields if hasattr(system, c)},
            "owner": owners.get(system.owner_id) if system.owner_id else None,
            "allowed_transitions": sorted(TRANSITIONS[system.stage]),
        }
    )


def list_systems(
    ctx: Ctx, flt: SystemFilter, *, sort: str = "key", limit: int = 50, cursor: str | None = None
) -> tuple[list[SystemRead], str | None]:
    ctx.require("systems:read")
    stmt = select(AISystem)
    if flt.stage:
        stmt = stmt.where(AISystem.stage == flt.stage)
    if flt.risk_tier:
        stmt = stmt.where(AISystem.risk_tier == flt.risk_tier)
    if flt.owner:
        stmt = stmt.join(User, User.id == AISystem.owner_id).where(User.username == flt.owner)
    if flt.tag:
        stmt = stmt.where(AISystem.id.in_(select(SystemTag.system_id).where(SystemTag.tag == flt.tag)))
    if flt.q:
        stmt = stmt.where(
            AISystem.name.icontains(flt.q, autoescape=True) | AISystem.key.icontains(flt.q, autoescape=True)
        )
    rows, next_cursor = paginate(
        ctx.session, stmt, sort=sort, sortable=SORTABLE, id_col=AISystem.id, limit=limit, cursor=cursor
    )
    owners = _owner_names(ctx.session, {r.owner_id for r in rows if r.owner_id})
    return [to_read(ctx.session, r, owners) for r in rows], next_cursor


def read_system(ctx: Ctx, key: str) -> SystemRead:
    ctx.require("systems:read")
    return to_read(ctx.session, get_system(ctx.session, key))
