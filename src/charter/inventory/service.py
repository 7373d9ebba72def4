"""Inventory use cases. Each declares its permission, changes state, appends to the ledger; never commits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import delete, select

from charter.access.models import User
from charter.errors import Conflict, NotFound, StaleVersion, ValidationFailed
from charter.inventory.models import AISystem, SystemTag
from charter.inventory.rules import TRANSITIONS, check_transition
from charter.inventory.schemas import SystemCreate, SystemRead, SystemUpdate, Transition
from charter.ledger.service import snapshot
from charter.pagination import paginate

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from charter.context import Ctx

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


def _user_id(session: Session, username: str) -> int:
    uid = session.execute(select(User.id).where(User.username == username)).scalar_one_or_none()
    if uid is None:
        raise ValidationFailed(
            f"owner: no user named '{username}'", errors=[{"loc": ["body", "owner"], "msg": "unknown user"}]
        )
    return uid


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


def _sync_tags(session: Session, system: AISystem) -> None:
    session.execute(delete(SystemTag).where(SystemTag.system_id == system.id))
    for tag in system.tags:
        session.add(SystemTag(system_id=system.id, tag=tag))


def _snap(session: Session, system: AISystem) -> dict[str, object]:
    return snapshot(system, exclude=frozenset({"id"}))


def create_system(ctx: Ctx, data: SystemCreate) -> AISystem:
    ctx.require("systems:write")
    if data.risk_tier != "unclassified":
        ctx.require("systems:classify")
    if ctx.session.execute(select(AISystem.id).where(AISystem.key == data.key)).first():
        raise Conflict(f"an AI system with key '{data.key}' already exists")
    owner_id = _user_id(ctx.session, data.owner) if data.owner else ctx.principal.user_id
    now = ctx.now()
    system = AISystem(
        **data.model_dump(exclude={"owner"}),
        owner_id=owner_id,
        stage="proposed",
        created_at=now,
        updated_at=now,
        stage_changed_at=now,
        version=1,
    )
    ctx.session.add(system)
    ctx.session.flush()
    _sync_tags(ctx.session, system)
    ctx.record("system.registered", "system", system.key, after=_snap(ctx.session, system))
    return system


def update_system(ctx: Ctx, key: str, data: SystemUpdate) -> AISystem:
    """Change fields; a change of risk tier (or its reason) also needs systems:classify.

    Fields sent with their current value are not changes: a request that changes nothing keeps the
    version and writes no ledger entry.
    """
    ctx.require("systems:write")
    system = get_system(ctx.session, key, for_update=True)
    if data.version != system.version:
        raise StaleVersion(f"system '{key}'", data.version, system.version)
    changes = data.model_dump(exclude_unset=True, exclude={"version", "reason"})
    if "owner" in changes:
        owner = changes.pop("owner")
        changes["owner_id"] = _user_id(ctx.session, owner) if owner else None
    changes = {k: v for k, v in changes.items() if getattr(system, k) != v}
    if changes.keys() & {"risk_tier", "risk_tier_reason"}:
        ctx.require("systems:classify")
    merged_type = changes.get("deployment_type", system.deployment_type)
    merged_vendor = changes.get("vendor_name", system.vendor_name)
    if merged_type in ("vendor_api", "vendor_saas") and not merged_vendor:
        raise ValidationFailed(
            f"vendor_name is required for deployment_type {merged_type}",
            errors=[{"loc": ["body", "vendor_name"], "msg": "required for vendor systems"}],
        )
    if not changes:
        return system
    before = _snap(ctx.session, system)
    for field, value in changes.items():
        setattr(system, field, value)
    system.version += 1
    system.updated_at = ctx.now()
    ctx.session.flush()
    if "tags" in changes:
        _sync_tags(ctx.session, system)
    ctx.record(
        "system.updated",
        "system",
        system.key,
        before=before,
        after=_snap(ctx.session, system),
        reason=data.reason,
    )
    return system


def transition_system(ctx: Ctx, key: str, data: Transition) -> AISystem:
    ctx.require("systems:transition")
    system = get_system(ctx.session, key, for_update=True)
    if data.version != system.version:
        raise StaleVersion(f"system '{key}'", data.version, system.version)
    check_transition(key, system.stage, data.to)
    before = _snap(ctx.session, system)
    now = ctx.now()
    system.stage = data.to
    system.stage_changed_at = now
    system.updated_at = now
    system.version += 1
    ctx.session.flush()
    ctx.record(
        f"system.stage.{data.to}",
        "system",
        system.key,
        before=before,
        after=_snap(ctx.session, system),
        reason=data.reason,
    )
    return system


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
