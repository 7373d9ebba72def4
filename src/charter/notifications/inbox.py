"""The in-app inbox: a person's notifications, newest first, and marking them read."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from charter.kit.errors import NotFound
from charter.notifications.models import Notification
from charter.notifications.schemas import NotificationRead

if TYPE_CHECKING:
    from charter.context import Ctx


def _note_read(n: Notification) -> NotificationRead:
    return NotificationRead(
        id=n.id,
        event_type=n.event_type,
        subject=n.subject,
        body=n.body,
        payload=n.payload or {},
        entity_type=n.entity_type,
        entity_id=n.entity_id,
        created_at=n.created_at,
        read_at=n.read_at,
    )


def inbox(ctx: Ctx, *, unread: bool = False, limit: int = 50) -> list[NotificationRead]:
    ctx.require("notifications:own")
    stmt = select(Notification).where(Notification.user_id == ctx.principal.user_id)
    if unread:
        stmt = stmt.where(Notification.read_at.is_(None))
    rows = ctx.session.scalars(stmt.order_by(Notification.id.desc()).limit(min(max(limit, 1), 500)))
    return [_note_read(n) for n in rows]


def mark_read(ctx: Ctx, notification_id: int) -> NotificationRead:
    ctx.require("notifications:own")
    note = ctx.session.get(Notification, notification_id)
    if note is None or note.user_id != ctx.principal.user_id:
        raise NotFound(f"no notification {notification_id} of yours", entity="notification")
    if note.read_at is None:
        note.read_at = ctx.now()
        ctx.session.flush()
    return _note_read(note)
