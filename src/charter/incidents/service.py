"""Incident lifecycle use cases: open, edit, move through the lifecycle, change severity, acknowledge,
assign roles. Each checks its permission, changes state, writes the timeline and the ledger; never commits.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from charter.access.models import User
from charter.context import Ctx
from charter.incidents import catalog, escalation, metrics, playbooks, regulatory, releases_link
from charter.incidents.models import Incident, IncidentSequence, IncidentStatusChange
from charter.incidents.postmortems.service import check_close_gate
from charter.incidents.roles import assume, notify_team
from charter.incidents.rules import ENDED, FINISHED, incident_key
from charter.incidents.schemas import AckResult, IncidentCreate, IncidentUpdate, SeverityIn, TransitionIn
from charter.incidents.store import automatic, current_roles, get_incident, user_by_name
from charter.incidents.timeline import add_event
from charter.inventory.queries import get_system
from charter.kit.errors import Conflict, StaleVersion, ValidationFailed
from charter.kit.principal import Principal
from charter.ledger.chain import snapshot
from charter.notifications.delivery import deliver_pending
from charter.notifications.service import notify


def _snap(incident: Incident) -> dict[str, Any]:
    return snapshot(incident, exclude=frozenset({"id"}))


def _check_version(incident: Incident, version: int) -> None:
    if version != incident.version:
        raise StaleVersion(f"incident {incident.key}", version, incident.version)


def _touch(ctx: Ctx, incident: Incident) -> None:
    incident.version += 1
    incident.updated_at = ctx.now()
    ctx.session.flush()


def _next_seq(session: Session, year: int) -> int:
    """Take the next number of the year's sequence (row-locked; the first of a year inserts the row)."""
    stmt = select(IncidentSequence).where(IncidentSequence.year == year)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    row = session.execute(stmt).scalar_one_or_none()
    if row is None:
        try:
            with session.begin_nested():
                start = session.execute(select(func.max(Incident.seq)).where(Incident.year == year)).scalar() or 0
                row = IncidentSequence(year=year, last=start)
                session.add(row)
        except IntegrityError:  # another transaction created the year's row first
            row = session.execute(stmt).scalar_one()
    row.last += 1
    session.flush()
    return row.last


# ----------------------------------------------------------------------------- open


def open_incident(
    ctx: Ctx, data: IncidentCreate, *, dedup_key: str | None = None, reporter: Principal | None = None
) -> Incident:
    """Open an incident: key, release at the time it started, commander, escalation level 1, playbook."""
    ctx.require("incidents:write")
    cat = catalog.load()
    cat.severity(data.severity)
    cat.harm(data.harm_category)
    system = get_system(ctx.session, data.system)
    if system.stage == "retired":
        raise Conflict(f"system '{system.key}' is retired; incidents are opened on systems in service")
    now = ctx.now()
    started = data.started_at or now
    if started > now:
        raise ValidationFailed(
            "started_at is in the future; give when impact began (default: now)",
            errors=[{"loc": ["started_at"], "msg": "in the future"}],
        )
    policy = (
        escalation.get_policy(ctx.session, data.escalation_policy)
        if data.escalation_policy
        else escalation.policy_for_system(ctx.session, system.key)
    )
    commander = user_by_name(ctx.session, data.commander, "commander") if data.commander else None
    who = reporter or ctx.principal
    source = data.source or ("api" if who.kind == "token" else "manual")
    stage, release_id, release_label = releases_link.deployed_when(ctx, system, started)
    year = now.year
    seq = _next_seq(ctx.session, year)
    initial = cat.lifecycle.initial
    incident = Incident(
        key=incident_key(year, seq),
        year=year,
        seq=seq,
        title=data.title,
        description=data.description,
        system_id=system.id,
        system_stage=stage,
        release_id=release_id,
        release_label=release_label,
        severity=data.severity,
        harm_category=data.harm_category,
        reporter_id=who.user_id,
        reporter=who.actor,
        affected_users=data.affected_users,
        source=source,
        status=initial,
        status_category=cat.lifecycle.category(initial),
        started_at=started,
        detected_at=now,
        escalation_policy=policy.key,
        escalation_round=1,
        escalation_level=0,
        escalation_exhausted=False,
        dedup_key=dedup_key,
        serious=False,
        reminders_sent=[],
        reopen_count=0,
        created_at=now,
        updated_at=now,
        version=1,
    )
    ctx.session.add(incident)
    ctx.session.flush()
    ctx.session.add(
        IncidentStatusChange(
            incident_id=incident.id,
            from_status=None,
            to_status=initial,
            to_category=incident.status_category,
            at=now,
            actor=who.actor,
            reason="opened",
        )
    )
    add_event(
        ctx,
        incident,
        "opened",
        f"{data.severity} incident opened on {system.key} ({source})"
        + (f"; deployed release: {release_label}" if release_label else ""),
        {"severity": data.severity, "source": source, "release_id": release_id, "stage": stage},
    )
    commander_id = commander.id if commander else who.user_id
    if commander_id is not None:
        assume(ctx, incident, "commander", commander_id)
    ctx.session.flush()
    ctx.record("incident.opened", "incident", incident.key, after=_snap(incident))
    auto = automatic(ctx)
    escalation.start(auto, incident)
    playbooks.start_for_severity(auto, incident)
    ctx.session.flush()
    return incident


# ----------------------------------------------------------------------------- edit


def update_incident(ctx: Ctx, key: str, data: IncidentUpdate) -> Incident:
    ctx.require("incidents:write")
    incident = get_incident(ctx.session, key, lock=True)
    _check_version(incident, data.version)
    changes = data.model_dump(exclude_unset=True, exclude={"version", "reason"})
    if "harm_category" in changes:
        catalog.load().harm(changes["harm_category"])
    if "started_at" in changes and changes["started_at"] is not None and changes["started_at"] > incident.detected_at:
        raise ValidationFailed("started_at cannot be after the incident was detected (opened)")
    if "started_at" in changes and changes["started_at"] is None:
        changes.pop("started_at")
    changes = {k: v for k, v in changes.items() if getattr(incident, k) != v}
    if not changes:
        return incident
    before = _snap(incident)
    for field, value in changes.items():
        setattr(incident, field, value)
    _touch(ctx, incident)
    add_event(ctx, incident, "edited", f"changed {', '.join(sorted(changes))}", {"fields": sorted(changes)})
    ctx.record("incident.updated", "incident", incident.key, before, _snap(incident), data.reason)
    return incident


# ----------------------------------------------------------------------------- lifecycle


def _implicit_ack(ctx: Ctx, incident: Incident, now: datetime) -> None:
    if incident.acknowledged_at is None:
        incident.acknowledged_at = now
        incident.acknowledged_by_id = ctx.principal.user_id
    escalation.stop(incident)


def transition(ctx: Ctx, key: str, data: TransitionIn) -> Incident:
    """Move an incident to another status (the lifecycle table decides; reopen and decline need a reason)."""
    ctx.require("incidents:write")
    cat = catalog.load()
    life = cat.lifecycle
    incident = get_incident(ctx.session, key, lock=True)
    _check_version(incident, data.version)
    life.check(incident.key, incident.status, data.to)
    target_category = life.category(data.to)
    reopen = life.is_reopen(incident.status, data.to)
    if (reopen or target_category == "declined") and not data.reason:
        what = "reopen" if reopen else "decline"
        raise ValidationFailed(
            f"a reason is required to {what} incident {incident.key}", errors=[{"loc": ["reason"], "msg": "required"}]
        )
    duplicate_of: Incident | None = None
    if target_category == "duplicate":
        duplicate_of = _duplicate_target(ctx, incident, data.duplicate_of)
    elif data.duplicate_of:
        raise ValidationFailed("duplicate_of is only for a move to a duplicate status")
    if target_category == "closed":
        ctx.require("incidents:manage")

        check_close_gate(ctx.session, incident)
    before = _snap(incident)
    now = ctx.now()
    previous = incident.status
    incident.status = data.to
    incident.status_category = target_category
    if previous != data.to and life.category(previous) == "open":
        _implicit_ack(ctx, incident, now)
    if target_category == "mitigated" and incident.mitigated_at is None:
        incident.mitigated_at = now
    if target_category == "resolved" and incident.resolved_at is None:
        incident.resolved_at = now
    if target_category == "closed":
        incident.closed_at = now
    if target_category in FINISHED:
        escalation.stop(incident)
    incident.duplicate_of_id = duplicate_of.id if duplicate_of else None
    if reopen:
        incident.reopen_count += 1
        incident.closed_at = None
    _touch(ctx, incident)
    ctx.session.add(
        IncidentStatusChange(
            incident_id=incident.id,
            from_status=previous,
            to_status=data.to,
            to_category=target_category,
            at=now,
            actor=ctx.principal.actor,
            reason=data.reason,
            reopen=reopen,
        )
    )
    text = f"status {previous} → {data.to}" + (f" (duplicate of {duplicate_of.key})" if duplicate_of else "")
    if reopen:
        text = f"reopened: {previous} → {data.to}"
    add_event(
        ctx,
        incident,
        "status",
        text + (f": {data.reason}" if data.reason else ""),
        {"from": previous, "to": data.to, "reopen": reopen},
    )
    action = "incident.reopened" if reopen else f"incident.status.{data.to}"
    ctx.record(action, "incident", incident.key, before, _snap(incident), data.reason)
    notify_team(ctx, incident, "incident.status_changed", f"{incident.key} is now {data.to}: {incident.title}")
    return incident


def _duplicate_target(ctx: Ctx, incident: Incident, key: str | None) -> Incident:
    if not key:
        raise ValidationFailed(
            "duplicate_of is required: the key of the incident this one duplicates",
            errors=[{"loc": ["duplicate_of"], "msg": "required"}],
        )
    target = get_incident(ctx.session, key)
    if target.id == incident.id:
        raise ValidationFailed("an incident cannot be a duplicate of itself")
    if target.status_category == "duplicate":
        canonical = ctx.session.get(Incident, target.duplicate_of_id) if target.duplicate_of_id else None
        raise ValidationFailed(
            f"{target.key} is itself a duplicate" + (f" of {canonical.key}; use that key" if canonical else "")
        )
    return target


def resolve(ctx: Ctx, key: str, version: int, reason: str | None = None) -> Incident:
    """Shortcut: move to the lifecycle's resolved status."""
    incident = get_incident(ctx.session, key)
    target = catalog.load().lifecycle.first_of("resolved", incident.status)
    return transition(ctx, key, TransitionIn(to=target, version=version, reason=reason))


def close(ctx: Ctx, key: str, version: int, reason: str | None = None) -> Incident:
    """Shortcut: move to the lifecycle's closed status (postmortem gate applies)."""
    incident = get_incident(ctx.session, key)
    target = catalog.load().lifecycle.first_of("closed", incident.status)
    return transition(ctx, key, TransitionIn(to=target, version=version, reason=reason))


def change_severity(ctx: Ctx, key: str, data: SeverityIn) -> Incident:
    ctx.require("incidents:write")
    cat = catalog.load()
    new = cat.severity(data.severity)
    incident = get_incident(ctx.session, key, lock=True)
    _check_version(incident, data.version)
    if incident.status_category in ENDED:
        raise Conflict(f"incident {incident.key} is {incident.status}; reopen it to change its severity")
    if incident.severity == new.key:
        raise Conflict(f"incident {incident.key} is already {new.key}")
    old = cat.severity(incident.severity)
    before = _snap(incident)
    incident.severity = new.key
    escalation.on_severity_change(ctx, incident)
    _touch(ctx, incident)
    direction = "raised" if new.rank > old.rank else "lowered"
    add_event(
        ctx,
        incident,
        "severity",
        f"severity {direction}: {old.key} → {new.key}" + (f": {data.reason}" if data.reason else ""),
        {"from": old.key, "to": new.key},
    )
    ctx.record("incident.severity.changed", "incident", incident.key, before, _snap(incident), data.reason)
    playbooks.start_for_severity(automatic(ctx), incident)
    notify_team(
        ctx,
        incident,
        "incident.severity_changed",
        f"{incident.key} severity {direction} to {new.key}: {incident.title}",
    )
    return incident


def acknowledge(ctx: Ctx, key: str, via: str = "api") -> AckResult:
    """Acknowledge: stops escalation; the first to acknowledge becomes commander if there is none."""
    ctx.require("incidents:write")
    incident = get_incident(ctx.session, key, lock=True)
    if incident.status_category in ENDED:
        raise Conflict(
            f"incident {incident.key} is {incident.status}: only ongoing incidents can be acknowledged "
            f"(reopen it first if it needs attention again)",
            status=incident.status,
        )
    if incident.acknowledged_at is not None:
        by = ctx.session.get(User, incident.acknowledged_by_id) if incident.acknowledged_by_id else None
        return AckResult(
            key=incident.key,
            acknowledged_at=incident.acknowledged_at,
            acknowledged_by=by.username if by else None,
            already=True,
        )
    before = _snap(incident)
    now = ctx.now()
    incident.acknowledged_at = now
    incident.acknowledged_by_id = ctx.principal.user_id
    escalation.stop(incident)
    if ctx.principal.user_id is not None and not any(
        r.role == "commander" for r in current_roles(ctx.session, incident.id)
    ):
        assume(ctx, incident, "commander", ctx.principal.user_id)
    _touch(ctx, incident)
    add_event(ctx, incident, "ack", f"acknowledged by {ctx.principal.name} (via {via})", {"via": via})
    ctx.record("incident.acknowledged", "incident", incident.key, before, _snap(incident), f"via {via}")

    others = [u for u in escalation.paged_user_ids(ctx.session, incident) if u != ctx.principal.user_id]
    if others:
        notify(
            ctx,
            "incident.acknowledged",
            recipients=others,
            subject=f"{incident.key} acknowledged by {ctx.principal.name}",
            payload={"incident": incident.key},
            entity=("incident", incident.key),
            organisation=False,
        )
    return AckResult(key=incident.key, acknowledged_at=now, acknowledged_by=ctx.principal.name, already=False)


def sweep_now(ctx: Ctx) -> dict[str, Any]:
    """Run the incident sweeps (escalations, regulatory clocks, overdue action items) and commit them, then
    deliver what they queued (a job of its own: no transaction open while receivers are called)."""
    ctx.require("incidents:manage")
    out: dict[str, Any] = {
        "escalation": escalation.sweep(ctx),
        "regulatory": regulatory.sweep(ctx),
        "action_items": metrics.sweep_overdue_actions(ctx),
    }
    ctx.commit()
    out["deliveries"] = deliver_pending(automatic(ctx)).model_dump()
    return out
