"""Incident roles (commander, technical lead, communications, scribe, liaison): one holder at a time,
with assumed and renounced times; and telling the people on an incident about a change."""

from __future__ import annotations

from charter.access.models import User
from charter.context import Ctx
from charter.incidents import catalog, escalation
from charter.incidents.models import Incident, IncidentRole
from charter.incidents.rules import ENDED
from charter.incidents.schemas import RoleIn
from charter.incidents.store import current_roles, get_incident, user_by_name
from charter.incidents.timeline import add_event
from charter.kit.errors import Conflict
from charter.notifications.service import notify


def _touch(ctx: Ctx, incident: Incident) -> None:
    incident.version += 1
    incident.updated_at = ctx.now()
    ctx.session.flush()


def assume(ctx: Ctx, incident: Incident, role: str, user_id: int) -> IncidentRole | None:
    now = ctx.now()
    for held in current_roles(ctx.session, incident.id):
        if held.role == role:
            if held.user_id == user_id:
                return None
            held.renounced_at = now
    assignment = IncidentRole(
        incident_id=incident.id, role=role, user_id=user_id, assumed_at=now, assigned_by=ctx.principal.actor
    )
    ctx.session.add(assignment)
    ctx.session.flush()
    user = ctx.session.get(User, user_id)
    add_event(
        ctx, incident, "role", f"{user.username if user else user_id} is {role}", {"role": role, "user_id": user_id}
    )
    return assignment


def assign_role(ctx: Ctx, key: str, data: RoleIn) -> Incident:
    ctx.require("incidents:write")
    catalog.load().role(data.role)
    incident = get_incident(ctx.session, key, lock=True)
    if incident.status_category in ENDED:
        raise Conflict(f"incident {incident.key} is {incident.status}; roles are for ongoing incidents")
    user = user_by_name(ctx.session, data.username)
    before = [(r.role, r.user_id) for r in current_roles(ctx.session, incident.id)]
    if assume(ctx, incident, data.role, user.id) is None:
        raise Conflict(f"{user.username} already is {data.role} of {incident.key}")
    _touch(ctx, incident)
    ctx.record(
        "incident.role.assumed",
        "incident",
        incident.key,
        before={"roles": before},
        after={"roles": [(r.role, r.user_id) for r in current_roles(ctx.session, incident.id)]},
    )
    return incident


def renounce_role(ctx: Ctx, key: str, role: str) -> Incident:
    ctx.require("incidents:write")
    catalog.load().role(role)
    incident = get_incident(ctx.session, key, lock=True)
    held = [r for r in current_roles(ctx.session, incident.id) if r.role == role]
    if not held:
        raise Conflict(f"nobody is {role} of {incident.key}")
    before = [(r.role, r.user_id) for r in current_roles(ctx.session, incident.id)]
    for r in held:
        r.renounced_at = ctx.now()
    user = ctx.session.get(User, held[0].user_id)
    add_event(ctx, incident, "role", f"{user.username if user else '?'} is no longer {role}", {"role": role})
    _touch(ctx, incident)
    ctx.record(
        "incident.role.renounced",
        "incident",
        incident.key,
        before={"roles": before},
        after={"roles": [(r.role, r.user_id) for r in current_roles(ctx.session, incident.id)]},
    )
    return incident


def notify_team(ctx: Ctx, incident: Incident, event: str, subject: str) -> None:
    """Tell the incident's role holders and everyone paged (except the person who acted)."""
    people = {r.user_id for r in current_roles(ctx.session, incident.id)}
    people.update(escalation.paged_user_ids(ctx.session, incident))
    people.discard(ctx.principal.user_id)
    notify(
        ctx,
        event,
        recipients=sorted(people),
        subject=subject,
        payload={"incident": incident.key, "status": incident.status, "severity": incident.severity},
        entity=("incident", incident.key),
    )
