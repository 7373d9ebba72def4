"""Delivering the outbox: signed webhooks and Apprise, with retries, backoff and a delivery log.

deliver_pending(ctx) is what the sweeper (and the API's "deliver now") call. It never holds a database
transaction while it talks to the outside world: claim (a short transaction takes due messages under a
lease, on PostgreSQL FOR UPDATE SKIP LOCKED, and renders what to send) → send (no transaction open) →
record (a short transaction logs each attempt and marks the message delivered, or schedules the next try
with exponential backoff; after MAX_ATTEMPTS it gives up: status 'failed', last error kept). A worker that
dies mid-send leaves its messages leased until LEASE passes; then they are claimed again (at least once:
receivers dedupe by the X-Charter-Delivery id).
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import apprise
import httpx
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from charter.access.models import User
from charter.context import Ctx
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
from charter.notifications.targets import AllowList, TargetRefused, apprise_url_needs_check, check_url, host_of, pinned

WEBHOOK_TIMEOUT = 5.0
LEASE = timedelta(minutes=5)
BATCH = 20  # messages per claim: even if every one times out (5 s), the batch is sent well inside its lease


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


def send_webhook(message: Claimed, ts: int, allow: AllowList) -> Outcome:
    """POST to the address checked now (resolved for this send), with the host's Host header and TLS name."""
    try:
        address = check_url(message.target, allow)[0]
    except TargetRefused as exc:
        return Outcome(False, None, f"refused: {exc}")
    url, host_header = pinned(message.target, address)
    server_name = host_of(message.target)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "charter-webhooks",
        EVENT_HEADER: message.event,
        DELIVERY_HEADER: str(message.outbox_id),
        TIMESTAMP_HEADER: str(ts),
        SIGNATURE_HEADER: signature(message.secret, ts, message.body),
        "Host": host_header,
    }
    extensions = {"sni_hostname": server_name[0]} if server_name else {}
    try:
        with httpx.Client(timeout=WEBHOOK_TIMEOUT, follow_redirects=False) as http:
            resp = http.post(url, content=message.body, headers=headers, extensions=extensions)
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


def send_apprise(message: Claimed, allow: AllowList) -> Outcome:
    if apprise_url_needs_check(message.target):
        try:
            check_url(message.target, allow)
        except TargetRefused as exc:
            return Outcome(False, None, f"refused: {exc}")
    sender = apprise.Apprise()
    if not sender.add(message.target):
        return Outcome(False, None, "Apprise does not recognise the channel URL")
    with apprise.LogCapture(level=apprise.logging.WARNING) as captured:  # type: ignore[no-untyped-call]
        ok = bool(sender.notify(title=message.subject, body=message.body.decode()))
    return Outcome(True) if ok else Outcome(False, None, (captured.getvalue().strip() or "Apprise failed")[-2000:])


@dataclass(frozen=True)
class Claimed:
    """One outbox message claimed for sending, with everything the send needs (no ORM object: the claim's
    transaction has ended by the time it is sent)."""

    outbox_id: int
    lease: str
    attempt: int  # the attempt this send is (1-based)
    kind: str  # webhook | apprise | none (the channel is gone or disabled)
    target: str
    secret: str
    event: str
    subject: str
    body: bytes  # the webhook body, or the Apprise text
    problem: str | None = None


def _claim(ctx: Ctx, limit: int, lease_for: timedelta) -> list[Claimed]:
    """Short transaction: take up to `limit` due messages under a lease (another worker skips them until it
    expires) and render what to send. On PostgreSQL the rows are read FOR UPDATE SKIP LOCKED."""
    now = ctx.now()
    stmt = (
        select(OutboxMessage)
        .where(
            OutboxMessage.status == "pending",
            OutboxMessage.next_attempt_at <= now,
            or_(OutboxMessage.leased_until.is_(None), OutboxMessage.leased_until < now),
        )
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
    )
    if ctx.session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    claimed: list[Claimed] = []
    for outbox in list(ctx.session.scalars(stmt)):
        lease = secrets.token_hex(8)
        outbox.leased_until = now + lease_for
        outbox.lease_token = lease
        claimed.append(_render(ctx.session, outbox, lease, now))
    ctx.session.flush()
    ctx.commit()
    return claimed


def _render(session: Session, outbox: OutboxMessage, lease: str, now: datetime) -> Claimed:
    channel = session.get(NotificationChannel, outbox.channel_id)
    note = session.get(Notification, outbox.notification_id)
    message = Claimed(outbox.id, lease, outbox.attempts + 1, "none", "", "", "", "", b"")
    if channel is None or note is None:
        return replace(message, problem="channel or notification no longer exists")
    message = replace(message, event=note.event_type, subject=note.subject)
    if not channel.enabled:
        return replace(message, problem="channel is disabled")
    if channel.kind == "webhook":
        recipient = session.get(User, note.user_id).username if note.user_id else None  # type: ignore[union-attr]
        body = webhook_body(outbox, note, recipient, now)
    else:
        body = apprise_text(note).encode()
    return replace(message, kind=channel.kind, target=channel.target, secret=channel.secret or "", body=body)


def _send(message: Claimed, ts: int, allow: AllowList) -> Outcome:
    """No transaction is open here: a slow receiver holds up nothing but this job."""
    if message.problem is not None:
        return Outcome(False, None, message.problem)
    if message.kind == "webhook":
        return send_webhook(message, ts, allow)
    return send_apprise(message, allow)


def _record(ctx: Ctx, sent: list[tuple[Claimed, Outcome, int]], report: DeliveryReport) -> None:
    """Short transaction: the outcome of each send, for the messages whose lease is still ours."""
    now = ctx.now()
    for message, outcome, duration_ms in sent:
        outbox = ctx.session.get(OutboxMessage, message.outbox_id, populate_existing=True)
        if outbox is None or outbox.lease_token != message.lease:
            continue  # the lease ran out and another worker took the message over: its outcome counts
        outbox.attempts += 1
        outbox.leased_until = None
        outbox.lease_token = None
        ctx.session.add(
            DeliveryAttempt(
                outbox_id=outbox.id,
                attempt=outbox.attempts,
                at=now,
                ok=outcome.ok,
                status_code=outcome.status_code,
                error=outcome.error,
                duration_ms=duration_ms,
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
    ctx.commit()


def deliver_pending(ctx: Ctx, limit: int = 100) -> DeliveryReport:
    """Deliver every due outbox message (up to `limit`): claim (a short transaction, with a lease) → send
    (no transaction open) → record (a short transaction). A job that owns its commits: the caller's session
    must hold no uncommitted changes of its own (commit them first); a slow or dead receiver never holds a
    database lock."""
    ctx.require("notifications:manage")
    if ctx.session.new or ctx.session.dirty or ctx.session.deleted:
        raise RuntimeError("deliver_pending commits its own claims: commit the caller's changes first")
    report = DeliveryReport()
    allow = AllowList.parse(ctx.settings.webhook_allow)
    remaining = limit
    while remaining > 0:
        claimed = _claim(ctx, min(BATCH, remaining), LEASE)
        if not claimed:
            break
        remaining -= len(claimed)
        ts = int(ctx.now().timestamp())
        sent: list[tuple[Claimed, Outcome, int]] = []
        for message in claimed:
            started = time.perf_counter()
            outcome = _send(message, ts, allow)
            sent.append((message, outcome, int((time.perf_counter() - started) * 1000)))
        _record(ctx, sent, report)
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
