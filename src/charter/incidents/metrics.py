"""Incident metrics (MTTA, MTTR, counts per system and severity, overdue action items) and the sweep
that tells owners about overdue action items once."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from charter.context import Ctx
from charter.incidents.models import ActionItem, Incident
from charter.incidents.postmortems.service import action_read
from charter.incidents.rules import ACTION_OPEN, LIVE, format_duration
from charter.incidents.schemas import ActionRead, MetricsRead
from charter.incidents.store import automatic, usernames
from charter.inventory.models import AISystem
from charter.notifications.service import notify
from charter.sweeps import sweep_lock


def _mean(values: list[timedelta]) -> float | None:
    return sum(v.total_seconds() for v in values) / len(values) if values else None


def overdue_actions(ctx: Ctx, system: str | None = None) -> list[ActionRead]:
    ctx.require("incidents:read")
    today = ctx.now().date()
    stmt = (
        select(ActionItem, Incident.key)
        .join(Incident, Incident.id == ActionItem.incident_id)
        .where(ActionItem.status.in_(ACTION_OPEN), ActionItem.due_date < today)
    )
    if system:
        stmt = stmt.join(AISystem, AISystem.id == Incident.system_id).where(AISystem.key == system)
    rows = list(ctx.session.execute(stmt.order_by(ActionItem.due_date, ActionItem.id)).all())
    names = usernames(ctx.session, [item.owner_id for item, _ in rows])
    return [action_read(item, key, names.get(item.owner_id, "?"), today) for item, key in rows]


def compute(
    ctx: Ctx, *, since: datetime | None = None, until: datetime | None = None, system: str | None = None
) -> MetricsRead:
    """Over incidents detected in [since, until): MTTA = detected → acknowledged, MTTR = started → resolved.
    Declined and duplicate incidents are not counted."""
    ctx.require("incidents:read")
    stmt = (
        select(Incident, AISystem.key)
        .join(AISystem, AISystem.id == Incident.system_id)
        .where(Incident.status_category.not_in(("declined", "duplicate")))
    )
    if since:
        stmt = stmt.where(Incident.detected_at >= since)
    if until:
        stmt = stmt.where(Incident.detected_at < until)
    if system:
        stmt = stmt.where(AISystem.key == system)
    rows = list(ctx.session.execute(stmt).all())
    acks = [i.acknowledged_at - i.detected_at for i, _ in rows if i.acknowledged_at]
    fixes = [i.resolved_at - i.started_at for i, _ in rows if i.resolved_at]
    by_system: dict[str, int] = {}
    by_severity: dict[str, int] = {}
    by_both: dict[str, dict[str, int]] = {}
    open_by_severity: dict[str, int] = {}
    for incident, key in rows:
        by_system[key] = by_system.get(key, 0) + 1
        by_severity[incident.severity] = by_severity.get(incident.severity, 0) + 1
        cell = by_both.setdefault(key, {})
        cell[incident.severity] = cell.get(incident.severity, 0) + 1
        if incident.status_category in LIVE:
            open_by_severity[incident.severity] = open_by_severity.get(incident.severity, 0) + 1
    mtta, mttr = _mean(acks), _mean(fixes)
    return MetricsRead(
        since=since,
        until=until,
        incidents=len(rows),
        mtta_seconds=mtta,
        mttr_seconds=mttr,
        mtta=format_duration(timedelta(seconds=mtta)) if mtta is not None else None,
        mttr=format_duration(timedelta(seconds=mttr)) if mttr is not None else None,
        by_system=dict(sorted(by_system.items())),
        by_severity=by_severity,
        by_system_severity=dict(sorted(by_both.items())),
        open_by_severity=open_by_severity,
        overdue_action_items=overdue_actions(ctx, system),
    )


def sweep_overdue_actions(ctx: Ctx) -> dict[str, Any]:
    """Tell each owner once when an action item becomes overdue."""
    ctx.require("incidents:manage")
    if not sweep_lock(ctx.session, "incidents.action_items"):
        return {"skipped": "another sweeper holds the lock"}

    now = ctx.now()
    rows = list(
        ctx.session.execute(
            select(ActionItem, Incident.key)
            .join(Incident, Incident.id == ActionItem.incident_id)
            .where(
                ActionItem.status.in_(ACTION_OPEN),
                ActionItem.due_date < now.date(),
                ActionItem.overdue_notified_at.is_(None),
            )
        ).all()
    )
    auto = automatic(ctx)
    for item, key in rows:
        item.overdue_notified_at = now
        notify(
            auto,
            "incident.action_item_overdue",
            recipients=[item.owner_id],
            subject=f"Overdue action item from {key}: {item.title} (due {item.due_date})",
            payload={"incident": key, "action_item": item.id, "due_date": item.due_date.isoformat()},
            entity=("incident_action", str(item.id)),
        )
    ctx.session.flush()
    return {"notified": [item.id for item, _ in rows]}
