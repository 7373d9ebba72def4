"""Lookups and small writes the incident use cases share (no permission checks: callers do those)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from charter.access.models import User
from charter.context import Ctx
from charter.incidents.models import Incident, IncidentLink, IncidentRole
from charter.kit.errors import NotFound, ValidationFailed
from charter.kit.principal import SYSTEM
from charter.ledger.rules import to_jsonable

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def get_incident(session: Session, key: str, *, lock: bool = False) -> Incident:
    """The incident by key; lock=True takes its row lock on PostgreSQL (sweeper vs. request races)."""
    stmt = select(Incident).where(Incident.key == key.upper())
    if lock and session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    incident = session.execute(stmt).scalar_one_or_none()
    if incident is None:
        raise NotFound(f"no incident with key '{key}'", entity="incident")
    return incident


def user_by_name(session: Session, username: str, field: str = "username") -> User:
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None or user.disabled:
        raise ValidationFailed(
            f"{field}: no active user named '{username}'", errors=[{"loc": [field], "msg": "unknown user"}]
        )
    return user


def usernames(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(session.execute(select(User.id, User.username).where(User.id.in_(wanted))).all())


def current_roles(session: Session, incident_id: int) -> list[IncidentRole]:
    return list(
        session.scalars(
            select(IncidentRole)
            .where(IncidentRole.incident_id == incident_id, IncidentRole.renounced_at.is_(None))
            .order_by(IncidentRole.id)
        )
    )


def role_holder(session: Session, incident_id: int, role: str) -> int | None:
    for r in current_roles(session, incident_id):
        if r.role == role:
            return r.user_id
    return None


def add_link(
    ctx: Ctx, incident: Incident, kind: str, ref: str, label: str = "", data: dict[str, Any] | None = None
) -> IncidentLink:
    """Link the incident to something elsewhere (idempotent per (kind, ref))."""
    existing = ctx.session.execute(
        select(IncidentLink).where(
            IncidentLink.incident_id == incident.id, IncidentLink.kind == kind, IncidentLink.ref == ref
        )
    ).scalar_one_or_none()
    if existing is not None:
        return existing
    link = IncidentLink(
        incident_id=incident.id,
        kind=kind,
        ref=ref,
        label=label[:300],
        data=to_jsonable(data or {}),
        created_at=ctx.now(),
    )
    ctx.session.add(link)
    ctx.session.flush()
    return link


def links(session: Session, incident_id: int, kind: str | None = None) -> list[IncidentLink]:
    stmt = select(IncidentLink).where(IncidentLink.incident_id == incident_id)
    if kind:
        stmt = stmt.where(IncidentLink.kind == kind)
    return list(session.scalars(stmt.order_by(IncidentLink.id)))


def automatic(ctx: Ctx) -> Ctx:
    """The same transaction acting as Charter itself: for consequences nobody decided by hand
    (starting the playbook, paging, reminders). The human cause is in the ledger entry before it."""
    return ctx.acting_as(SYSTEM)
