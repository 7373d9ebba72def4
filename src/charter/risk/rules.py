"""Pure risk-register rules: the lifecycle table and its guards, effective level, review cadence,
acceptance limits and the deployment-gate facts. No database, no web imports."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, Literal, get_args

from charter.kit.errors import Conflict, IllegalTransition, ValidationFailed
from charter.risk.matrices.rules import LEVEL_ORDER, MatrixSpec

Status = Literal["identified", "assessed", "treating", "accepted", "mitigated", "closed"]
STATUSES: Final[tuple[Status, ...]] = get_args(Status)
OPEN_STATUSES: Final = frozenset({"identified", "assessed", "treating"})
REOPEN_FROM: Final = frozenset({"accepted", "mitigated", "closed"})

# Every allowed status move. Anything not listed is refused (409) naming the allowed ones.
# Moves back to 'identified' / 'assessed' from accepted, mitigated or closed are "reopen" (reason required).
TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    "identified": frozenset({"assessed", "closed"}),
    "assessed": frozenset({"treating"}),
    "treating": frozenset({"accepted", "mitigated"}),
    "accepted": frozenset({"closed", "assessed"}),
    "mitigated": frozenset({"closed", "assessed"}),
    "closed": frozenset({"identified", "assessed"}),
}

MitigationStatus = Literal["planned", "in_progress", "done", "cancelled"]
MITIGATION_STATUSES: Final[tuple[MitigationStatus, ...]] = get_args(MitigationStatus)
MITIGATION_ACTIVE: Final = frozenset({"planned", "in_progress"})
MITIGATION_TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    "planned": frozenset({"in_progress", "done", "cancelled"}),
    "in_progress": frozenset({"planned", "done", "cancelled"}),
    "done": frozenset({"in_progress"}),
    "cancelled": frozenset({"planned"}),
}

UNASSESSED: Final = "UNASSESSED"
MIN_JUSTIFICATION: Final = 20


@dataclass(frozen=True)
class RiskState:
    """What the lifecycle guards need to know about one risk."""

    key: str
    status: str
    inherent_level: str | None = None
    residual_level: str | None = None
    mitigation_statuses: tuple[str, ...] = ()
    residual_requires_acceptance: bool = False


def is_reopen(current: str, target: str) -> bool:
    return current in REOPEN_FROM and target in ("identified", "assessed")


def check_transition(state: RiskState, target: str, reason: str | None, *, via_accept: bool = False) -> None:
    """Refuse a move the table does not allow, or whose guard is not met, saying what to do instead."""
    allowed = TRANSITIONS.get(state.status, frozenset())
    if target not in allowed:
        raise IllegalTransition(f"risk {state.key}", state.status, target, allowed)
    who = f"risk {state.key}"
    if target == "accepted" and not via_accept:
        raise Conflict(
            f"{who}: acceptance needs a justification and an expiry date; use "
            f"'charter risk accept' (POST /api/v1/risks/{state.key}/accept)"
        )
    if target == "accepted" and state.residual_level is None:
        raise Conflict(f"{who}: assess the residual risk before accepting it (residual likelihood and impact)")
    if target == "assessed" and state.inherent_level is None:
        if state.status == "closed":
            raise Conflict(f"{who} was never assessed; reopen it to 'identified' instead")
        raise Conflict(f"{who} has no inherent assessment yet; assess it (likelihood and impact) first")
    if target == "identified" and state.inherent_level is not None:
        raise Conflict(f"{who} has been assessed; reopen it to 'assessed' instead")
    if target == "mitigated":
        _check_mitigated(state)
    if (is_reopen(state.status, target) or (state.status == "identified" and target == "closed")) and not (
        reason and reason.strip()
    ):
        what = "reopening" if is_reopen(state.status, target) else "closing an unassessed (withdrawn) risk"
        raise ValidationFailed(
            f"{who}: {what} needs a reason", errors=[{"loc": ["reason"], "msg": f"required for {what}"}]
        )


def _check_mitigated(state: RiskState) -> None:
    who = f"risk {state.key}"
    if state.residual_level is None:
        raise Conflict(f"{who}: assess the residual risk before marking it mitigated")
    if "done" not in state.mitigation_statuses:
        raise Conflict(f"{who}: no mitigation is done yet; mark at least one mitigation done first")
    active = [s for s in state.mitigation_statuses if s in MITIGATION_ACTIVE]
    if active:
        raise Conflict(f"{who}: {len(active)} mitigation(s) still planned or in progress; finish or cancel them")
    if state.residual_requires_acceptance:
        raise Conflict(
            f"{who}: the residual level {state.residual_level} cannot be closed as mitigated; "
            "governance must accept it ('charter risk accept') or it must be treated further"
        )


def check_mitigation_transition(label: str, current: str, target: str) -> None:
    allowed = MITIGATION_TRANSITIONS.get(current, frozenset())
    if target != current and target not in allowed:
        raise IllegalTransition(label, current, target, allowed)


def effective(
    inherent: tuple[str, int] | None, residual: tuple[str, int] | None, mitigation_statuses: Iterable[str]
) -> tuple[str | None, int]:
    """The level and score a risk is treated as having now.

    The residual counts only once the mitigations that justify it are done: a residual is assessed,
    at least one mitigation is done and none is still planned or in progress. Otherwise the inherent
    level counts. Unassessed: (None, 0).
    """
    statuses = list(mitigation_statuses)
    if residual and "done" in statuses and not any(s in MITIGATION_ACTIVE for s in statuses):
        return residual
    if inherent:
        return inherent
    return None, 0


def next_review(now: datetime, matrix: MatrixSpec, level: str | None) -> datetime:
    """Default next review: the level band's review_days; unassessed risks use the strictest band."""
    band = matrix.band(level) if level else None
    days = band.review_days if band else min(b.review_days for b in matrix.levels)
    return now + timedelta(days=days)


def check_acceptance(now: datetime, expires_at: datetime, max_days: int, justification: str) -> None:
    problems = []
    latest = now + timedelta(days=max_days)
    if len(justification.strip()) < MIN_JUSTIFICATION:
        problems.append(
            {
                "loc": ["justification"],
                "msg": f"explain why the risk is acceptable (at least {MIN_JUSTIFICATION} characters)",
            }
        )
    if expires_at <= now:
        problems.append({"loc": ["expires_at"], "msg": "must be in the future"})
    elif expires_at > latest:
        problems.append(
            {
                "loc": ["expires_at"],
                "msg": f"an acceptance may last at most {max_days} days (until {latest:%Y-%m-%d})",
            }
        )
    if problems:
        detail = "; ".join(f"{p['loc'][0]}: {p['msg']}" for p in problems)
        raise ValidationFailed(f"cannot accept the risk: {detail}", errors=problems)


def acceptance_expired(status: str, accepted_until: datetime | None, now: datetime) -> bool:
    return status == "accepted" and accepted_until is not None and accepted_until <= now


def is_open(status: str, accepted_until: datetime | None, now: datetime) -> bool:
    """Open: identified, assessed or treating — or accepted with an expired acceptance."""
    return status in OPEN_STATUSES or acceptance_expired(status, accepted_until, now)


def is_overdue(status: str, next_review_at: datetime, now: datetime) -> bool:
    return status != "closed" and next_review_at <= now


@dataclass(frozen=True)
class FactRow:
    """One risk as the gate facts see it."""

    key: str
    status: str
    level: str | None  # effective level
    next_review_at: datetime
    accepted_until: datetime | None = None
    mitigation_statuses: tuple[str, ...] = field(default=())


def compute_gate_facts(rows: Iterable[FactRow], now: datetime) -> dict[str, Any]:
    """The risk facts a deployment gate evaluates for one system (see docs/risk.md)."""
    by_level = {level: 0 for level in (*LEVEL_ORDER, UNASSESSED)}
    open_critical: list[str] = []
    high_without: list[str] = []
    high_without_plan: list[str] = []
    overdue: list[str] = []
    expired: list[str] = []
    open_keys: list[str] = []
    for r in sorted(rows, key=lambda r: _key_number(r.key)):
        if is_overdue(r.status, r.next_review_at, now):
            overdue.append(r.key)
        if acceptance_expired(r.status, r.accepted_until, now):
            expired.append(r.key)
        if not is_open(r.status, r.accepted_until, now):
            continue
        open_keys.append(r.key)
        level = r.level or UNASSESSED
        by_level[level] = by_level.get(level, 0) + 1
        if level == "CRITICAL":
            open_critical.append(r.key)
        if level == "HIGH":
            if "done" not in r.mitigation_statuses:
                high_without.append(r.key)
            if not any(s != "cancelled" for s in r.mitigation_statuses):
                high_without_plan.append(r.key)
    return {
        "open_total": len(open_keys),
        "open_critical": len(open_critical),
        "open_high": by_level["HIGH"],
        "open_high_without_mitigation": len(high_without),
        "open_high_without_plan": len(high_without_plan),
        "open_unassessed": by_level[UNASSESSED],
        "overdue_reviews": len(overdue),
        "accepted_expired": len(expired),
        "open_by_level": by_level,
        "open_keys": open_keys,
        "open_critical_keys": open_critical,
        "high_without_mitigation_keys": high_without,
        "high_without_plan_keys": high_without_plan,
        "overdue_review_keys": overdue,
        "accepted_expired_keys": expired,
    }


def _key_number(key: str) -> tuple[int, str]:
    digits = key.rsplit("-", 1)[-1]
    return (int(digits), key) if digits.isdigit() else (0, key)


def format_key(number: int) -> str:
    return f"RISK-{number:04d}"
