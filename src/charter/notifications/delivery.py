"""Delivering the outbox: signed webhooks and Apprise, with retries, backoff and a delivery log.

deliver_pending(ctx) is what the sweeper (and tests) call. It takes due outbox rows (on PostgreSQL
with FOR UPDATE SKIP LOCKED, so several sweepers never send one message twice), sends each, logs the
attempt, and either marks it delivered or schedules the next try with exponential backoff; after
MAX_ATTEMPTS it gives up (status 'failed', last error kept).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy import select

from charter.access.models import User
from charter.kit.clock import isoformat
from charter.notifications.models import DeliveryAttempt, Notification, NotificationChannel, OutboxMessage
from charter.notifications.rules import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    MAX_ATTEMPTS,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    backoff,
    signature,
)
from charter.notifications.schemas import DeliveryRead, DeliveryReport, OutboxRead

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy.orm import Session

    from charter.context import Ctx

WEBHOOK_TIMEOUT = 5.0


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status_code: int | None = None
    error: str | None = None


def webhook_body(outbox: OutboxMessage, note: Notification, recipient: str | None, now: datetime) -> bytes:
    doc: dict[str, Any] = {
        "id": outbox.id,
        "notification_id": note.id,
        "event": note.event_type,
        "subject": note.subject,
        "body": note.body,
        "data": note.payload or {},
        "entity": {"type": note.entity_type, "id": note.entity_id} if note.entity_type else None,
        "recipient": recipient,
        "created_at": isoformat(note.created_at),
        "sent_at": isoformat(now),
    }
    return json.dumps(doc, separators=(",", ":"), sort_keys=True, default=str).encode()


def send_webhook(channel: NotificationChannel, outbox: OutboxMessage, body: bytes, event: str, ts: int) -> Outcome:
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "charter-webhooks",
        EVENT_HEADER: event,
        DELIVERY_HEADER: str(outbox.id),
        TIMESTAMP_HEADER: str(ts),
        SIGNATURE_HEADER: signature(channel.secret or "", ts, body),
    }
    try:
        with httpx.Client(timeout=WEBHOOK_TIMEOUT, follow_redirects=False) as http:
            resp = http.post(channel.target, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return Outcome(False, None, f"{exc.__class__.__name__}: {exc}"[:2000])
    if 200 <= resp.status_code < 300:
        return Outcome(True, resp.status_code)
    return Outcome(False, resp.status_code, f"HTTP {resp.status_code}: {resp.text[:500]}")


def apprise_text(note: Notification) -> str:
    lines = [note.body] if note.body else []
    payload = note.payload or {}
    for label, key in (("Open", "url"), ("Acknowledge", "ack_url")):
        if payload.get(key):
            lines.append(f"{label}: {payload[key]}")
    return "\n".join(lines) or note.subject


def send_apprise(channel: NotificationChannel, note: Notification) -> Outcome:
    import apprise

    sender = apprise.Apprise()
    if not sender.add(channel.target):
        return Outcome(False, None, "Apprise does not recognise the channel URL")
    with apprise.LogCapture(level=apprise.logging.WARNING) as captured:  # type: ignore[no-untyped-call]
        ok = bool(sender.notify(title=note.subject, body=apprise_text(note)))
    return Outcome(True) if ok else Outcome(False, None, (captured.getvalue().strip() or "Apprise failed")[-2000:])


def _send(session: Session, outbox: OutboxMessage, now: datetime) -> Outcome:
    channel = session.get(NotificationChannel, outbox.channel_id)
    note = session.get(Notification, outbox.notification_id)
    if channel is None or note is None:
        return Outcome(False, None, "channel or notification no longer exists")
    if not channel.enabled:
        return Outcome(False, None, "channel is disabled")
    if channel.kind == "webhook":
        recipient = session.get(User, note.user_id).username if note.user_id else None  # type: ignore[union-attr]
        body = webhook_body(outbox, note, recipient, now)
        return send_webhook(channel, outbox, body, note.event_type, int(now.timestamp()))
    return send_apprise(channel, note)


def deliver_pending(ctx: Ctx, limit: int = 100) -> DeliveryReport:
    """Deliver every due outbox message (up to `limit`); flushes, the caller commits."""
    ctx.require("notifications:manage")
    now = ctx.now()
    stmt = (
        select(OutboxMessage)
        .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
    )
    if ctx.session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    report = DeliveryReport()
    for outbox in list(ctx.session.scalars(stmt)):
        started = time.perf_counter()
        outcome = _send(ctx.session, outbox, now)
        outbox.attempts += 1
        ctx.session.add(
            DeliveryAttempt(
                outbox_id=outbox.id,
                attempt=outbox.attempts,
                at=now,
                ok=outcome.ok,
                status_code=outcome.status_code,
                error=outcome.error,
                duration_ms=int((time.perf_counter() - started) * 1000),
            )
        )
        report.attempted += 1
        if outcome.ok:
            outbox.status = "delivered"
            outbox.delivered_at = now
            outbox.last_error = None
            report.delivered += 1
        elif outbox.attempts >= MAX_ATTEMPTS:
            outbox.status = "failed"
            outbox.last_error = outcome.error
            report.failed += 1
        else:
            outbox.next_attempt_at = now + backoff(outbox.attempts)
            outbox.last_error = outcome.error
            report.retrying += 1
        ctx.session.flush()
    return report


def list_outbox(ctx: Ctx, *, status: str | None = None, limit: int = 100) -> list[OutboxRead]:
    """The delivery log: outbox messages with every attempt (notifications:manage)."""
    ctx.require("notifications:manage")
    stmt = select(OutboxMessage)
    if status:
        stmt = stmt.where(OutboxMessage.status == status)
    rows = list(ctx.session.scalars(stmt.order_by(OutboxMessage.id.desc()).limit(min(max(limit, 1), 500))))
    out: list[OutboxRead] = []
    for o in rows:
        note = ctx.session.get(Notification, o.notification_id)
        channel = ctx.session.get(NotificationChannel, o.channel_id)
        user = ctx.session.get(User, note.user_id) if note and note.user_id else None
        attempts = ctx.session.scalars(
            select(DeliveryAttempt).where(DeliveryAttempt.outbox_id == o.id).order_by(DeliveryAttempt.attempt)
        )
        out.append(
            OutboxRead(
                id=o.id,
                notification_id=o.notification_id,
                event_type=note.event_type if note else "?",
                subject=note.subject if note else "?",
                recipient=user.username if user else None,
                channel_id=o.channel_id,
                channel=channel.name if channel else "?",
                status=o.status,
                attempts=o.attempts,
                next_attempt_at=o.next_attempt_at,
                delivered_at=o.delivered_at,
                last_error=o.last_error,
                deliveries=[
                    DeliveryRead(
                        attempt=a.attempt,
                        at=a.at,
                        ok=a.ok,
                        status_code=a.status_code,
                        error=a.error,
                        duration_ms=a.duration_ms,
                    )
                    for a in attempts
                ],
            )
        )
    return out
