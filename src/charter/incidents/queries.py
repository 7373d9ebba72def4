"""Reading incidents: the read model (with escalation and regulatory clocks), detail, list, timeline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import case, func, select

from charter.incidents import catalog, escalation, regulatory
from charter.incidents.models import ActionItem, Incident, IncidentRole, Postmortem
from charter.incidents.rules import ACTION_OPEN, durations
from charter.incidents.schemas import EscalationState, IncidentDetail, IncidentRead, LinkRead, RoleRead, TimelineRead
from charter.incidents.store import current_roles, get_incident, links, usernames
from charter.incidents.timeline import entries
from charter.incidents.timeline import to_read as timeline_read
from charter.inventory.models import AISystem
from charter.kit.pagination import paginate

if TYPE_CHECKING:
    from datetime import date, datetime

    from sqlalchemy.orm import Session

    from charter.context import Ctx

SORTABLE = {
    "key": Incident.id,
    "detected_at": Incident.detected_at,
    "started_at": Incident.started_at,
    "updated_at": Incident.updated_at,
    "severity": Incident.severity,
    "status": Incident.status,
}


@dataclass(frozen=True)
class IncidentFilter:
    status: str | None = None
    category: str | None = None
    severity: str | None = None
    system: str | None = None
    source: str | None = None
    serious: bool | None = None
    unacknowledged: bool | None = None
    q: str | None = None


def to_read(session: Session, incident: Incident, now: datetime) -> IncidentRead:
    cat = catalog.load()
    sev = cat.severities.get(incident.severity)
    status = cat.lifecycle.statuses.get(incident.status)
    roles = current_roles(session, incident.id)
    names = usernames(session, [r.user_id for r in roles] + [incident.acknowledged_by_id])
    system = session.get(AISystem, incident.system_id)
    duplicate = session.get(Incident, incident.duplicate_of_id) if incident.duplicate_of_id else None
    pm = session.execute(select(Postmortem.status).where(Postmortem.incident_id == incident.id)).scalar()
    role_map = {r.role: names.get(r.user_id, "?") for r in roles}
    return IncidentRead(
        key=incident.key,
        title=incident.title,
        description=incident.description,
        system=system.key if system else "?",
        system_stage=incident.system_stage,
        release_id=incident.release_id,
        release=incident.release_label,
        severity=incident.severity,
        severity_rank=sev.rank if sev else 0,
        severity_colour=sev.colour if sev else "#777777",
        harm_category=incident.harm_category,
        reporter=incident.reporter,
        affected_users=incident.affected_users,
        source=incident.source,
        status=incident.status,
        status_label=status.label if status else incident.status,
        status_category=incident.status_category,
        allowed_transitions=sorted(cat.lifecycle.transitions.get(incident.status, frozenset())),
        duplicate_of=duplicate.key if duplicate else None,
        started_at=incident.started_at,
        detected_at=incident.detected_at,
        acknowledged_at=incident.acknowledged_at,
        acknowledged_by=names.get(incident.acknowledged_by_id) if incident.acknowledged_by_id else None,
        mitigated_at=incident.mitigated_at,
        resolved_at=incident.resolved_at,
        closed_at=incident.closed_at,
        commander=role_map.get("commander"),
        roles=role_map,
        escalation=EscalationState(**escalation.state(session, incident)),
        regulatory=regulatory.state(incident, now),
        postmortem_status=pm,
        postmortem_required=bool(sev and sev.postmortem_required),
        created_at=incident.created_at,
        updated_at=incident.updated_at,
        version=incident.version,
    )


def seconds(incident: Incident) -> dict[str, int | None]:
    spans = durations(
        incident.started_at, incident.detected_at, incident.acknowledged_at, incident.mitigated_at, incident.resolved_at
    )
    return {k: (int(v.total_seconds()) if v is not None else None) for k, v in spans.items()}


def detail(session: Session, incident: Incident, now: datetime) -> IncidentDetail:
    base = to_read(session, incident, now)
    history = list(
        session.scalars(select(IncidentRole).where(IncidentRole.incident_id == incident.id).order_by(IncidentRole.id))
    )
    names = usernames(session, [r.user_id for r in history])
    return IncidentDetail(
        **base.model_dump(),
        role_history=[
            RoleRead(
                role=r.role, username=names.get(r.user_id, "?"), assumed_at=r.assumed_at, renounced_at=r.renounced_at
            )
            for r in history
        ],
        links=[
            LinkRead(kind=lk.kind, ref=lk.ref, label=lk.label, data=lk.data or {}, created_at=lk.created_at)
            for lk in links(session, incident.id)
        ],
        durations=seconds(incident),
    )


def read_incident(ctx: Ctx, key: str) -> IncidentDetail:
    ctx.require("incidents:read")
    return detail(ctx.session, get_incident(ctx.session, key), ctx.now())


def list_incidents(
    ctx: Ctx, flt: IncidentFilter, *, sort: str = "-key", limit: int = 50, cursor: str | None = None
) -> tuple[list[IncidentRead], str | None]:
    ctx.require("incidents:read")
    stmt = select(Incident)
    if flt.status:
        stmt = stmt.where(Incident.status == flt.status)
    if flt.category:
        stmt = stmt.where(Incident.status_category == flt.category)
    if flt.severity:
        stmt = stmt.where(Incident.severity == flt.severity.upper())
    if flt.system:
        stmt = stmt.join(AISystem, AISystem.id == Incident.system_id).where(AISystem.key == flt.system)
    if flt.source:
        stmt = stmt.where(Incident.source == flt.source)
    if flt.serious is not None:
        stmt = stmt.where(Incident.serious.is_(flt.serious))
    if flt.unacknowledged:
        stmt = stmt.where(Incident.acknowledged_at.is_(None))
    if flt.q:
        like = f"%{flt.q.lower()}%"
        stmt = stmt.where(Incident.title.ilike(like) | Incident.key.ilike(like))
    rows, next_cursor = paginate(
        ctx.session, stmt, sort=sort, sortable=SORTABLE, id_col=Incident.id, limit=limit, cursor=cursor
    )
    now = ctx.now()
    return [to_read(ctx.session, r, now) for r in rows], next_cursor


def read_timeline(ctx: Ctx, key: str) -> list[TimelineRead]:
    ctx.require("incidents:read")
    incident = get_incident(ctx.session, key)
    rows = entries(ctx, incident)
    authors = usernames(ctx.session, [e.author_id for e in rows])
    return [timeline_read(e, authors) for e in rows]


@dataclass(frozen=True)
class PostmortemInReview:
    """A postmortem submitted for review."""

    incident: str
    title: str
    submitted_at: datetime | None


def postmortems_for_me_to_review(ctx: Ctx, *, limit: int = 50) -> list[PostmortemInReview]:
    """Postmortems in review that the signed-in person did not write (an author does not approve their own)."""
    ctx.require("incidents:read")
    rows = ctx.session.execute(
        select(Incident.key, Incident.title, Postmortem.submitted_at, Postmortem.author_id)
        .join(Incident, Incident.id == Postmortem.incident_id)
        .where(Postmortem.status == "in_review")
        .limit(limit)
    )
    return [
        PostmortemInReview(incident=key, title=title, submitted_at=since)
        for key, title, since, author in rows
        if author != ctx.principal.user_id
    ]


@dataclass(frozen=True)
class OwnActionItem:
    """An open postmortem action item owned by the signed-in person."""

    incident: str
    title: str
    due_date: date
    overdue: bool


def my_open_action_items(ctx: Ctx, *, limit: int = 50) -> list[OwnActionItem]:
    """The signed-in person's open action items, earliest due first (none for a principal without a user)."""
    ctx.require("incidents:read")
    if ctx.principal.user_id is None:
        return []
    today = ctx.now().date()
    rows = ctx.session.execute(
        select(Incident.key, ActionItem.title, ActionItem.due_date)
        .join(Incident, Incident.id == ActionItem.incident_id)
        .where(ActionItem.owner_id == ctx.principal.user_id, ActionItem.status.in_(ACTION_OPEN))
        .order_by(ActionItem.due_date)
        .limit(limit)
    )
    return [OwnActionItem(incident=key, title=title, due_date=due, overdue=due < today) for key, title, due in rows]


def opened_since(ctx: Ctx, days: tuple[int, ...]) -> dict[int, int]:
    """{days: incidents detected in the last that many days} (the governance home page's trend)."""
    ctx.require("incidents:read")
    now = ctx.now()
    cols = [func.sum(case((Incident.detected_at >= now - timedelta(days=d), 1), else_=0)) for d in days]
    row = ctx.session.execute(select(*cols)).one()
    return {d: int(row[i] or 0) for i, d in enumerate(days)}
