"""Mitigations of a risk: add, progress, finish. Changing one re-computes the risk's effective level."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import func, select

from charter.kit.errors import Conflict, NotFound, StaleVersion
from charter.kit.numbering import lock_scope
from charter.ledger.chain import snapshot
from charter.risk import rules
from charter.risk.models import Risk, RiskMitigation
from charter.risk.queries import get_risk
from charter.risk.schemas import MitigationCreate, MitigationUpdate
from charter.risk.scoring import refresh_effective
from charter.risk.service import snap, user_id

if TYPE_CHECKING:
    from charter.context import Ctx

FROZEN = frozenset({"mitigated", "closed"})


def _label(risk: Risk, number: int) -> str:
    return f"{risk.key}/M{number}"


def get_mitigation(ctx: Ctx, risk: Risk, number: int) -> RiskMitigation:
    m = ctx.session.execute(
        select(RiskMitigation).where(RiskMitigation.risk_id == risk.id, RiskMitigation.number == number)
    ).scalar_one_or_none()
    if m is None:
        raise NotFound(f"risk {risk.key} has no mitigation M{number}", entity="mitigation")
    return m


def _touch_risk(ctx: Ctx, risk: Risk) -> None:
    refresh_effective(ctx.session, risk)
    risk.version += 1
    risk.updated_at = ctx.now()


def _refuse_frozen(risk: Risk) -> None:
    if risk.status in FROZEN:
        raise Conflict(
            f"risk {risk.key} is {risk.status}: its mitigations are settled; reopen it (move it to 'assessed' "
            "with a reason) to change them"
        )


def add_mitigation(ctx: Ctx, key: str, data: MitigationCreate) -> RiskMitigation:
    ctx.require("risks:write")
    risk = get_risk(ctx.session, key)
    _refuse_frozen(risk)
    lock_scope(ctx.session, f"risk-mitigation:{risk.id}")
    number = (
        ctx.session.execute(select(func.max(RiskMitigation.number)).where(RiskMitigation.risk_id == risk.id)).scalar()
        or 0
    ) + 1
    now = ctx.now()
    m = RiskMitigation(
        risk_id=risk.id,
        number=number,
        description=data.description,
        owner_id=user_id(ctx.session, data.owner) if data.owner else risk.owner_id,
        due_date=data.due_date,
        status=data.status,
        created_at=now,
        updated_at=now,
        completed_at=now if data.status == "done" else None,
        version=1,
    )
    ctx.session.add(m)
    ctx.session.flush()
    before = snap(risk)
    _touch_risk(ctx, risk)
    ctx.session.flush()
    ctx.record(
        "risk.mitigation.added",
        "risk",
        _label(risk, number),
        after=snapshot(m, exclude=frozenset({"id"})),
    )
    if before["level"] != risk.level:
        ctx.record("risk.level.changed", "risk", risk.key, before=before, after=snap(risk))
    return m


def update_mitigation(ctx: Ctx, key: str, number: int, data: MitigationUpdate) -> RiskMitigation:
    ctx.require("risks:write")
    risk = get_risk(ctx.session, key)
    m = get_mitigation(ctx, risk, number)
    if data.version != m.version:
        raise StaleVersion(f"mitigation {_label(risk, number)}", data.version, m.version)
    _refuse_frozen(risk)
    changes = data.model_dump(exclude_unset=True, exclude={"version", "reason"})
    if "owner" in changes:
        owner = changes.pop("owner")
        changes["owner_id"] = user_id(ctx.session, owner) if owner else risk.owner_id
    if changes.get("status") is not None:
        rules.check_mitigation_transition(f"mitigation {_label(risk, number)}", m.status, changes["status"])
    changes = {k: v for k, v in changes.items() if v is not None or k == "due_date"}
    changes = {k: v for k, v in changes.items() if getattr(m, k) != v}
    if not changes:
        return m
    before_m = snapshot(m, exclude=frozenset({"id"}))
    before_risk = snap(risk)
    now = ctx.now()
    for field, value in changes.items():
        setattr(m, field, value)
    if "status" in changes:
        m.completed_at = now if m.status == "done" else None
    m.version += 1
    m.updated_at = now
    ctx.session.flush()
    _touch_risk(ctx, risk)
    ctx.session.flush()
    ctx.record(
        "risk.mitigation.updated",
        "risk",
        _label(risk, number),
        before=before_m,
        after=snapshot(m, exclude=frozenset({"id"})),
        reason=data.reason,
    )
    if before_risk["level"] != risk.level:
        ctx.record("risk.level.changed", "risk", risk.key, before=before_risk, after=snap(risk))
    return m
