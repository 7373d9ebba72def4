"""The incident timeline: automatic events and human updates in one list.

Updates are editable by their author only; each edit is ledgered with the text before and after,
so the ledger keeps the truth while the timeline shows the current wording.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from charter.incidents.models import Incident, TimelineEntry
from charter.incidents.rules import ENDED
from charter.incidents.schemas import TimelineRead
from charter.kit.errors import Conflict, PermissionDenied, StaleVersion, ValidationFailed
from charter.ledger.chain import snapshot
from charter.ledger.rules import to_jsonable

if TYPE_CHECKING:
    from charter.context import Ctx


def add_event(ctx: Ctx, incident: Incident, event: str, body: str, data: dict[str, Any] | None = None) -> TimelineEntry:
    """Append an automatic event (status, severity, role, alert, rollback, playbook, escalation, ...)."""
    entry = TimelineEntry(
        incident_id=incident.id,
        at=ctx.now(),
        kind="event",
        event=event,
        author_id=None,
        actor=ctx.principal.actor,
        body=body,
        data=to_jsonable(data or {}),
        version=1,
    )
    ctx.session.add(entry)
    ctx.session.flush()
    return entry


def post_update(ctx: Ctx, incident: Incident, body: str) -> TimelineEntry:
    ctx.require("incidents:write")
    if incident.status_category in ENDED:
        raise Conflict(
            f"incident {incident.key} is {incident.status}: reopen it before adding updates",
            status=incident.status,
        )
    entry = TimelineEntry(
        incident_id=incident.id,
        at=ctx.now(),
        kind="update",
        event=None,
        author_id=ctx.principal.user_id,
        actor=ctx.principal.actor,
        body=body,
        data={},
        version=1,
    )
    ctx.session.add(entry)
    ctx.session.flush()
    ctx.record("incident.update.posted", "incident", incident.key, after=snapshot(entry, exclude=frozenset({"id"})))
    return entry


def edit_update(ctx: Ctx, incident: Incident, entry_id: int, body: str, version: int) -> TimelineEntry:
    ctx.require("incidents:write")
    entry = ctx.session.get(TimelineEntry, entry_id)
    if entry is None or entry.incident_id != incident.id:
        raise ValidationFailed(f"incident {incident.key} has no timeline entry {entry_id}")
    if entry.kind != "update":
        raise Conflict("automatic timeline events cannot be edited; post an update instead")
    if entry.author_id is None or entry.author_id != ctx.principal.user_id:
        raise PermissionDenied("only the author of an update can edit it", rule="author-only")
    if version != entry.version:
        raise StaleVersion(f"timeline entry {entry_id}", version, entry.version)
    if body == entry.body:
        return entry
    before = snapshot(entry, exclude=frozenset({"id"}))
    entry.body = body
    entry.edited_at = ctx.now()
    entry.version += 1
    ctx.session.flush()
    ctx.record(
        "incident.update.edited",
        "incident",
        incident.key,
        before=before,
        after=snapshot(entry, exclude=frozenset({"id"})),
        reason=f"timeline entry {entry_id} edited by its author",
    )
    return entry


def to_read(entry: TimelineEntry, authors: dict[int, str]) -> TimelineRead:
    return TimelineRead(
        id=entry.id,
        at=entry.at,
        kind=entry.kind,
        event=entry.event,
        actor=entry.actor,
        author=authors.get(entry.author_id) if entry.author_id else None,
        body=entry.body,
        data=entry.data or {},
        edited_at=entry.edited_at,
        version=entry.version,
    )


def entries(ctx: Ctx, incident: Incident) -> list[TimelineEntry]:
    return list(
        ctx.session.scalars(
            select(TimelineEntry)
            .where(TimelineEntry.incident_id == incident.id)
            .order_by(TimelineEntry.at, TimelineEntry.id)
        )
    )
