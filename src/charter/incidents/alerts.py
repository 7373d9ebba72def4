"""Alerts → incidents, through the monitoring module's alert hook.

A firing alert whose severity alerts.yaml maps to an incident severity opens an incident — or joins the
one still ongoing for the same system and alert rule (dedup). A resolved alert is noted on the timeline
of every incident it is linked to. Runs as Charter itself, inside the alert's transaction.
"""

from __future__ import annotations

from sqlalchemy import select

from charter.context import Ctx
from charter.incidents import catalog, service
from charter.incidents.models import Incident, IncidentLink
from charter.incidents.rules import LIVE
from charter.incidents.schemas import IncidentCreate
from charter.incidents.store import add_link, automatic
from charter.incidents.timeline import add_event
from charter.inventory.models import AISystem
from charter.monitoring.alerts.hooks import AlertChange, on_alert_change
from charter.notifications.service import notify


def dedup_key(change: AlertChange) -> str:
    return f"alert-rule:{change.system_id}:{change.rule_key}"


def _ongoing(ctx: Ctx, change: AlertChange) -> Incident | None:
    stmt = (
        select(Incident)
        .where(
            Incident.system_id == change.system_id,
            Incident.dedup_key == dedup_key(change),
            Incident.status_category.in_(sorted(LIVE)),
        )
        .order_by(Incident.id.desc())
        .limit(1)
    )
    if ctx.session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return ctx.session.execute(stmt).scalar_one_or_none()


def _alert_label(change: AlertChange) -> str:
    labels = ", ".join(f"{k}={v}" for k, v in sorted(change.labels.items()))
    return f"{change.rule_key}" + (f" {{{labels}}}" if labels else "") + f" ({change.severity})"


def on_alert(ctx: Ctx, change: AlertChange) -> None:
    """The monitoring hook: tell the system owner; open or join on firing, note resolutions."""
    auto = automatic(ctx)
    if change.new_state not in ("firing", "resolved"):
        return
    _tell_owner(auto, change)
    if change.new_state == "firing":
        _firing(auto, change)
    else:
        _resolved(auto, change)


def _tell_owner(ctx: Ctx, change: AlertChange) -> None:
    """alert.firing / alert.resolved to the system's owner and the organisation's subscribed channels."""
    owner = ctx.session.execute(select(AISystem.owner_id).where(AISystem.id == change.system_id)).scalar()
    notify(
        ctx,
        f"alert.{change.new_state}",
        recipients=[owner] if owner is not None else [],
        subject=f"[{change.severity}] {change.system_key}: {_alert_label(change)} {change.new_state}",
        body=change.summary,
        payload={
            "alert_id": change.alert_id,
            "system": change.system_key,
            "rule": change.rule_key,
            "severity": change.severity,
            "labels": change.labels,
            "value": change.value,
        },
        entity=("alert", str(change.alert_id)),
    )


def _firing(ctx: Ctx, change: AlertChange) -> None:
    cat = catalog.load()
    severity = cat.alert_severity_map.get(change.severity.lower())
    if severity is None:
        return
    incident = _ongoing(ctx, change)
    data = {"alert_id": change.alert_id, "rule": change.rule_key, "labels": change.labels, "value": change.value}
    if incident is None:
        incident = service.open_incident(
            ctx,
            IncidentCreate(
                title=f"Alert {change.rule_key} firing on {change.system_key}"[:300],
                description=change.summary,
                system=change.system_key,
                severity=severity,
                harm_category=cat.alert_harm_category,
                source="alert",
                started_at=min(change.at, ctx.now()),
            ),
            dedup_key=dedup_key(change),
        )
        text = f"opened by alert {_alert_label(change)}: {change.summary}"
    else:
        text = f"alert {_alert_label(change)} firing; joined this incident: {change.summary}"
        incident.updated_at = ctx.now()
        incident.version += 1
        ctx.record("incident.alert.joined", "incident", incident.key, after=data, reason=change.summary)
    add_link(ctx, incident, "alert", str(change.alert_id), label=_alert_label(change), data=data)
    add_event(ctx, incident, "alert", text, data)


def _resolved(ctx: Ctx, change: AlertChange) -> None:
    linked = ctx.session.scalars(
        select(Incident)
        .join(IncidentLink, IncidentLink.incident_id == Incident.id)
        .where(IncidentLink.kind == "alert", IncidentLink.ref == str(change.alert_id))
    )
    for incident in linked:
        add_event(
            ctx,
            incident,
            "alert",
            f"alert {_alert_label(change)} resolved: {change.summary}",
            {"alert_id": change.alert_id, "rule": change.rule_key, "state": "resolved"},
        )


on_alert_change(on_alert)
