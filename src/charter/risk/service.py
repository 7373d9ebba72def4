"""Risk register use cases: identify, assess, move, accept, expire — and the facts deployment gates read.

Each use case declares its permission, changes state, appends to the ledger; never commits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from charter.access.models import User
from charter.inventory.queries import get_system
from charter.kit.clock import as_utc
from charter.kit.errors import Conflict, PermissionDenied, StaleVersion, ValidationFailed
from charter.kit.numbering import lock_scope
from charter.kit.principal import require_distinct
from charter.ledger.chain import snapshot
from charter.risk import rules
from charter.risk.matrices.rules import MatrixSpec
from charter.risk.matrices.service import get_matrix, matrix_for, resolve_category
from charter.risk.models import Risk
from charter.risk.queries import get_risk
from charter.risk.schemas import Accept, Assess, RiskCreate, RiskUpdate, Transition
from charter.risk.scoring import apply_scores, mitigation_statuses, score_request

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from charter.context import Ctx

CLOSED_FOR_SCORING = frozenset({"accepted", "mitigated", "closed"})


# ----------------------------------------------------------------------------- helpers


def user_id(session: Session, username: str, field: str = "owner") -> int:
    uid = session.execute(select(User.id).where(User.username == username)).scalar_one_or_none()
    if uid is None:
        raise ValidationFailed(f"{field}: no user named '{username}'", errors=[{"loc": [field], "msg": "unknown user"}])
    return uid


def risk_matrix(session: Session, risk: Risk) -> MatrixSpec | None:
    if risk.matrix_name is None:
        return None
    return get_matrix(session, risk.matrix_name, risk.matrix_version)


def state_of(session: Session, risk: Risk) -> rules.RiskState:
    spec = risk_matrix(session, risk)
    band = spec.band(risk.residual_level) if spec and risk.residual_level else None
    return rules.RiskState(
        key=risk.key,
        status=risk.status,
        inherent_level=risk.inherent_level,
        residual_level=risk.residual_level,
        mitigation_statuses=mitigation_statuses(session, risk.id),
        residual_requires_acceptance=bool(band and band.requires_acceptance),
    )


def snap(risk: Risk) -> dict[str, Any]:
    return snapshot(risk, exclude=frozenset({"id"}))


def _check_version(risk: Risk, version: int) -> None:
    if version != risk.version:
        raise StaleVersion(f"risk {risk.key}", version, risk.version)


def check_title_free(session: Session, system_id: int, title: str, exclude_id: int | None = None) -> None:
    stmt = select(Risk.key).where(
        Risk.system_id == system_id, func.lower(Risk.title) == title.lower(), Risk.status != "closed"
    )
    if exclude_id is not None:
        stmt = stmt.where(Risk.id != exclude_id)
    found = session.execute(stmt.limit(1)).scalar_one_or_none()
    if found:
        raise Conflict(f"{found} of this system already has the title {title!r}; update it instead of adding twice")


# ----------------------------------------------------------------------------- use cases


def create_risk(ctx: Ctx, data: RiskCreate, *, reason: str | None = None) -> Risk:
    ctx.require("risks:write")
    session = ctx.session
    system = get_system(session, data.system)
    category = resolve_category(session, data.category)
    owner_id = user_id(session, data.owner) if data.owner else ctx.principal.user_id
    if owner_id is None:
        raise ValidationFailed(
            "owner: give the username of the risk owner", errors=[{"loc": ["owner"], "msg": "required"}]
        )
    check_title_free(session, system.id, data.title)
    scoring = score_request(session, None, data) if data.has_inherent or data.has_residual else None
    now = ctx.now()
    spec = scoring[0] if scoring else matrix_for(session, data.matrix, None, None)
    risk = _insert_numbered(
        ctx,
        dict(
            system_id=system.id,
            title=data.title,
            description=data.description,
            category=category,
            owner_id=owner_id,
            status="identified",
            level=None,
            score=0,
            next_review_at=rules.next_review(now, spec, None),
            created_at=now,
            updated_at=now,
            status_changed_at=now,
            version=1,
        ),
    )
    ctx.record("risk.identified", "risk", risk.key, after=snap(risk), reason=reason)
    if scoring:
        before = snap(risk)
        apply_scores(ctx, risk, *scoring, data.rationale, new=True)
        session.flush()
        ctx.record("risk.assessed", "risk", risk.key, before=before, after=snap(risk), reason=data.rationale or None)
    return risk


def _insert_numbered(ctx: Ctx, values: dict[str, Any]) -> Risk:
    """Insert with the next sequential key, allocated under the scope's lock (kit/numbering.py)."""
    lock_scope(ctx.session, "risk")
    number = (ctx.session.execute(select(func.max(Risk.number))).scalar() or 0) + 1
    risk = Risk(number=number, key=rules.format_key(number), **values)
    ctx.session.add(risk)
    ctx.session.flush()
    return risk


def update_risk(ctx: Ctx, key: str, data: RiskUpdate) -> Risk:
    ctx.require("risks:write")
    risk = get_risk(ctx.session, key)
    _check_version(risk, data.version)
    changes = data.model_dump(exclude_unset=True, exclude={"version", "reason"})
    if "title" in changes:
        check_title_free(ctx.session, risk.system_id, changes["title"], exclude_id=risk.id)
    if "category" in changes:
        changes["category"] = resolve_category(ctx.session, changes["category"])
    if "owner" in changes:
        owner = changes.pop("owner")
        if not owner:
            raise ValidationFailed("owner: a risk always has an owner", errors=[{"loc": ["owner"], "msg": "required"}])
        changes["owner_id"] = user_id(ctx.session, owner)
        if risk.status == "accepted" and changes["owner_id"] == risk.accepted_by_id:
            raise PermissionDenied(
                f"separation of duties: {owner} accepted risk {risk.key}, so cannot also own it while accepted",
                rule="separation-of-duties",
            )
    if "next_review_at" in changes:
        if changes["next_review_at"] is None:
            raise ValidationFailed(
                "next_review_at cannot be empty", errors=[{"loc": ["next_review_at"], "msg": "required"}]
            )
        changes["next_review_at"] = as_utc(changes["next_review_at"])
    changes = {k: v for k, v in changes.items() if getattr(risk, k) != v}
    if not changes:
        return risk
    before = snap(risk)
    for field, value in changes.items():
        setattr(risk, field, value)
    risk.version += 1
    risk.updated_at = ctx.now()
    ctx.session.flush()
    ctx.record("risk.updated", "risk", risk.key, before=before, after=snap(risk), reason=data.reason)
    return risk


def assess_risk(ctx: Ctx, key: str, data: Assess) -> Risk:
    ctx.require("risks:write")
    risk = get_risk(ctx.session, key)
    _check_version(risk, data.version)
    if risk.status in CLOSED_FOR_SCORING:
        raise Conflict(
            f"risk {risk.key} is {risk.status}; reopen it (move it to 'assessed' with a reason) before re-assessing"
        )
    spec, inherent, residual = score_request(ctx.session, risk, data)
    before = snap(risk)
    apply_scores(ctx, risk, spec, inherent, residual, data.rationale)
    risk.version += 1
    ctx.session.flush()
    ctx.record("risk.assessed", "risk", risk.key, before=before, after=snap(risk), reason=data.rationale or None)
    return risk


def transition_risk(ctx: Ctx, key: str, data: Transition) -> Risk:
    ctx.require("risks:write")
    risk = get_risk(ctx.session, key)
    _check_version(risk, data.version)
    rules.check_transition(state_of(ctx.session, risk), data.to, data.reason)
    reopen = rules.is_reopen(risk.status, data.to)
    before = snap(risk)
    now = ctx.now()
    risk.status = data.to
    risk.status_changed_at = now
    risk.updated_at = now
    if reopen:
        risk.next_review_at = now  # a reopened risk needs review now
    elif data.to == "mitigated":
        spec = risk_matrix(ctx.session, risk)
        if spec is not None:
            risk.next_review_at = rules.next_review(now, spec, risk.level)
    risk.version += 1
    ctx.session.flush()
    action = "risk.reopened" if reopen else f"risk.status.{data.to}"
    ctx.record(action, "risk", risk.key, before=before, after=snap(risk), reason=data.reason)
    return risk


def accept_risk(ctx: Ctx, key: str, data: Accept) -> Risk:
    """Governance accepts a residual risk: justification and expiry required; never the owner."""
    ctx.require("risks:accept")
    risk = get_risk(ctx.session, key)
    require_distinct(ctx.principal, risk.owner_id, "accept the residual risk of")
    _check_version(risk, data.version)
    rules.check_transition(state_of(ctx.session, risk), "accepted", data.justification, via_accept=True)
    spec = risk_matrix(ctx.session, risk)
    assert spec is not None  # a residual level implies a matrix
    now = ctx.now()
    expires_at = as_utc(data.expires_at)
    rules.check_acceptance(now, expires_at, spec.acceptance_max_days, data.justification)
    before = snap(risk)
    risk.status = "accepted"
    risk.status_changed_at = now
    risk.updated_at = now
    risk.accepted_by_id = ctx.principal.user_id
    risk.accepted_at = now
    risk.accepted_until = expires_at
    risk.acceptance_justification = data.justification.strip()
    risk.next_review_at = min(rules.next_review(now, spec, risk.residual_level), expires_at)
    risk.version += 1
    ctx.session.flush()
    ctx.record("risk.accepted", "risk", risk.key, before=before, after=snap(risk), reason=data.justification)
    return risk


def expire_acceptances(ctx: Ctx) -> list[str]:
    """Sweep: every accepted risk whose acceptance has lapsed goes back to 'assessed', due for review.

    Reads already treat such risks as open (rules.is_open); this makes it durable and visible in the ledger.
    """
    ctx.require("risks:write")
    now = ctx.now()
    stmt = (
        select(Risk)
        .where(Risk.status == "accepted", Risk.accepted_until.is_not(None), Risk.accepted_until <= now)
        .order_by(Risk.number)
    )
    keys = []
    for risk in ctx.session.execute(stmt).scalars():
        before = snap(risk)
        risk.status = "assessed"
        risk.status_changed_at = now
        risk.updated_at = now
        risk.next_review_at = risk.accepted_until or now
        risk.version += 1
        ctx.session.flush()
        ctx.record(
            "risk.acceptance_expired",
            "risk",
            risk.key,
            before=before,
            after=snap(risk),
            reason=f"the acceptance lapsed at {before['accepted_until']}; the risk needs review",
        )
        keys.append(risk.key)
    return keys
