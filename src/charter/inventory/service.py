"""Inventory use cases. Each declares its permission, changes state, appends to the ledger; never commits."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import delete, select

from charter.access.models import User
from charter.inventory.models import AISystem, SystemTag
from charter.inventory.queries import get_system
from charter.inventory.rules import check_transition
from charter.inventory.schemas import SystemCreate, SystemUpdate, Transition
from charter.kit.errors import Conflict, StaleVersion, ValidationFailed
from charter.ledger.chain import snapshot

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from charter.context import Ctx


def _user_id(session: Session, username: str) -> int:
    uid = session.execute(select(User.id).where(User.username == username)).scalar_one_or_none()
    if uid is None:
        raise ValidationFailed(
            f"owner: no user named '{username}'", errors=[{"loc": ["body", "owner"], "msg": "unknown user"}]
        )
    return uid


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
