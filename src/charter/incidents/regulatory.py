"""EU AI Act Art. 73 serious-incident clocks: flag, deadline, time left, escalation before expiry, report.

The deadline runs from when the organisation became aware (aware_at) — which is therefore required.
Reminders (regulatory.yaml) go out at fractions of the window and/or hours before the deadline; each one
reaches further up the incident's escalation policy (reminder n pages policy level n+1), plus the
governance role, the incident's role holders. An unreported incident past its deadline is escalated once more.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from charter.access.models import User
from charter.context import Ctx
from charter.incidents import catalog, escalation
from charter.incidents.models import Incident
from charter.incidents.rules import format_duration, reminder_times, report_deadline
from charter.incidents.schemas import RegulatoryState, ReportedIn, SeriousIn
from charter.incidents.store import automatic, current_roles, get_incident
from charter.incidents.timeline import add_event
from charter.kit.clock import as_utc
from charter.kit.errors import Conflict, ValidationFailed
from charter.ledger.chain import snapshot
from charter.notifications.service import notify
from charter.sweeps import sweep_lock

SWEEP_NAME = "incidents.regulatory"
OVERDUE = "overdue"


def _snap(incident: Incident) -> dict[str, Any]:
    return snapshot(incident, exclude=frozenset({"id"}))


def _times(incident: Incident) -> list[datetime]:
    if incident.aware_at is None or incident.report_deadline is None:
        return []
    return reminder_times(incident.aware_at, incident.report_deadline, catalog.load().regulatory.reminders)


def _schedule(incident: Incident, now: datetime) -> None:
    """The next moment the sweep must act: the next unsent reminder, else the deadline (overdue)."""
    if incident.reported_at is not None or not incident.serious or incident.report_deadline is None:
        incident.next_reminder_at = None
        return
    sent = set(incident.reminders_sent or [])
    pending = [t for t in _times(incident) if t.isoformat() not in sent and t > now]
    if pending:
        incident.next_reminder_at = pending[0]
    elif OVERDUE not in sent:
        incident.next_reminder_at = incident.report_deadline
    else:
        incident.next_reminder_at = None


def state(incident: Incident, now: datetime) -> RegulatoryState:
    if not incident.serious:
        return RegulatoryState(serious=False)
    reg = catalog.load().regulatory
    case = reg.cases.get(incident.serious_case or "")
    left = None
    if incident.report_deadline is not None:
        left = incident.report_deadline - (incident.reported_at or now)
    return RegulatoryState(
        serious=True,
        case=incident.serious_case,
        case_label=case.label if case else None,
        article=case.article if case else None,
        days=case.days if case else None,
        aware_at=incident.aware_at,
        deadline=incident.report_deadline,
        time_left_seconds=int(left.total_seconds()) if left is not None else None,
        time_left=format_duration(left),
        overdue=bool(left is not None and left.total_seconds() < 0 and incident.reported_at is None),
        reported_at=incident.reported_at,
        reference=incident.report_reference,
        next_reminder_at=incident.next_reminder_at,
    )


def flag_serious(ctx: Ctx, key: str, data: SeriousIn) -> Incident:
    """Flag (or re-flag with another case) an incident as an EU AI Act serious incident."""
    ctx.require("incidents:write")
    if data.aware_at is None:
        raise ValidationFailed(
            "aware_at is required: the Art. 73 reporting deadline runs from when the organisation became "
            "aware of the serious incident; give that time (ISO 8601, e.g. 2026-03-01T09:30:00Z)",
            errors=[{"loc": ["aware_at"], "msg": "required"}],
        )
    case = catalog.load().regulatory.case(data.case)
    incident = get_incident(ctx.session, key, lock=True)
    now = ctx.now()
    aware = as_utc(data.aware_at)
    if aware > now:
        raise ValidationFailed("aware_at is in the future", errors=[{"loc": ["aware_at"], "msg": "in the future"}])
    if incident.reported_at is not None:
        raise Conflict(f"incident {incident.key} was already reported on {incident.reported_at.isoformat()}")
    before = _snap(incident)
    incident.serious = True
    incident.serious_case = case.key
    incident.aware_at = aware
    incident.report_deadline = report_deadline(aware, case)
    incident.reminders_sent = [t.isoformat() for t in _times(incident) if t <= now]  # past ones are moot
    _schedule(incident, now)
    incident.version += 1
    incident.updated_at = now
    ctx.session.flush()
    add_event(
        ctx,
        incident,
        "regulatory",
        f"flagged as a serious incident ({case.label}, {case.article}): report due "
        f"{incident.report_deadline.isoformat()} ({case.days} days from awareness)",
        {"case": case.key, "deadline": incident.report_deadline, "aware_at": aware},
    )
    ctx.record("incident.serious.flagged", "incident", incident.key, before, _snap(incident), data.reason)
    _tell(automatic(ctx), incident, 0, f"{incident.key} is a serious incident: report due in {case.days} days")
    return incident


def record_report(ctx: Ctx, key: str, data: ReportedIn) -> Incident:
    ctx.require("incidents:write")
    incident = get_incident(ctx.session, key, lock=True)
    if not incident.serious:
        raise Conflict(f"incident {incident.key} is not flagged as a serious incident; flag it first")
    if incident.reported_at is not None:
        raise Conflict(f"incident {incident.key} was already reported on {incident.reported_at.isoformat()}")
    now = ctx.now()
    reported = as_utc(data.reported_at) if data.reported_at else now
    if reported > now:
        raise ValidationFailed("reported_at is in the future")
    if incident.aware_at is not None and reported < incident.aware_at:
        raise ValidationFailed("reported_at is before the organisation became aware (aware_at)")
    before = _snap(incident)
    incident.reported_at = reported
    incident.report_reference = data.reference
    incident.next_reminder_at = None
    incident.version += 1
    incident.updated_at = now
    ctx.session.flush()
    late = incident.report_deadline is not None and reported > incident.report_deadline
    add_event(
        ctx,
        incident,
        "regulatory",
        f"serious incident reported to the authority{' LATE' if late else ''}"
        + (f" (reference {data.reference})" if data.reference else ""),
        {"reported_at": reported, "late": late},
    )
    ctx.record("incident.serious.reported", "incident", incident.key, before, _snap(incident))
    return incident


def _tell(ctx: Ctx, incident: Incident, step: int, subject: str) -> list[str]:
    """Notify the role holders, the policy's level step+1 and the regulatory notify roles; return usernames."""
    reg = catalog.load().regulatory
    people: dict[int, str] = {}
    for r in current_roles(ctx.session, incident.id):
        user = ctx.session.get(User, r.user_id)
        if user:
            people[user.id] = user.username
    policy = escalation.get_policy(ctx.session, incident.escalation_policy)
    level = min(step, len(policy.levels) - 1)
    for user in escalation.recipients(ctx.session, incident, policy.levels[level]):
        people[user.id] = user.username
    for role in reg.notify_roles:
        for user in ctx.session.scalars(select(User).where(User.role == role, User.disabled.is_(False))):
            people[user.id] = user.username
    state_now = state(incident, ctx.now())
    notify(
        ctx,
        "incident.regulatory_deadline",
        recipients=list(people),
        subject=subject,
        body=(
            f"{reg.reference}: report {incident.key} ({incident.title}) to the market surveillance authority by "
            f"{incident.report_deadline.isoformat() if incident.report_deadline else '?'}; "
            f"time left: {state_now.time_left}."
        ),
        payload={
            "incident": incident.key,
            "deadline": incident.report_deadline.isoformat() if incident.report_deadline else None,
            "time_left_seconds": state_now.time_left_seconds,
            "url": f"{ctx.settings.base_url}/api/v1/incidents/{incident.key}",
        },
        entity=("incident", incident.key),
    )
    return sorted(people.values())


def sweep(ctx: Ctx) -> dict[str, Any]:
    """Send due deadline reminders (escalating each time) and the overdue escalation."""
    ctx.require("incidents:manage")
    if not sweep_lock(ctx.session, SWEEP_NAME):
        return {"skipped": "another sweeper holds the regulatory lock"}
    now = ctx.now()
    stmt = (
        select(Incident)
        .where(
            Incident.serious.is_(True),
            Incident.reported_at.is_(None),
            Incident.next_reminder_at.is_not(None),
            Incident.next_reminder_at <= now,
        )
        .order_by(Incident.next_reminder_at, Incident.id)
    )
    if ctx.session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    reminded: list[str] = []
    for incident in list(ctx.session.scalars(stmt)):
        before = _snap(incident)
        sent = list(incident.reminders_sent or [])
        due = [t for t in _times(incident) if t.isoformat() not in sent and t <= now]
        deadline = incident.report_deadline
        overdue = deadline is not None and now >= deadline and OVERDUE not in sent
        if overdue:
            sent.extend(t.isoformat() for t in due)
            sent.append(OVERDUE)
            step = len(sent)
            subject = f"OVERDUE: serious incident {incident.key} was not reported by its deadline"
        elif due:
            sent.extend(t.isoformat() for t in due)
            step = len([s for s in sent if s != OVERDUE])
            left = format_duration(deadline - now) if deadline else "?"
            subject = f"Serious incident {incident.key}: report due in {left}"
        else:
            _schedule(incident, now)
            continue
        incident.reminders_sent = sent
        _schedule(incident, now)
        incident.version += 1
        incident.updated_at = now
        ctx.session.flush()
        told = _tell(ctx, incident, step, subject)
        add_event(ctx, incident, "regulatory", f"{subject} — notified {', '.join(told) or 'nobody'}", {"step": step})
        ctx.record("incident.serious.escalated", "incident", incident.key, before, _snap(incident), subject)
        reminded.append(incident.key)
    return {"reminded": reminded}
