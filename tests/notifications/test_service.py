from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from charter.kit.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from charter.ledger.models import LedgerEntry
from charter.notifications import inbox, service
from charter.notifications.delivery import deliver_pending, list_outbox
from charter.notifications.models import DeliveryAttempt, Notification, OutboxMessage
from charter.notifications.rules import MAX_ATTEMPTS, verify_signature
from charter.notifications.schemas import ChannelCreate, ChannelUpdate, SubscriptionCreate
from tests.notifications.receiver import Receiver


def webhook(actors, who: str, url: str, name: str = "hook", **kw):  # type: ignore[no-untyped-def]
    return service.create_channel(actors.ctx(who), ChannelCreate(name=name, kind="webhook", target=url, **kw))


def subscribe(actors, who: str, channel_id: int, event: str = "*", **kw):  # type: ignore[no-untyped-def]
    return service.subscribe(actors.ctx(who), SubscriptionCreate(event_type=event, channel_id=channel_id, **kw))


def test_notify_queues_inbox_and_outbox_rows_without_delivering(actors, receiver: Receiver) -> None:
    channel = webhook(actors, "engineer", receiver.url + "/eng")
    subscribe(actors, "engineer", channel.id, "incident.*")
    eng = actors.users["engineer"].id
    notes = service.notify(
        actors.ctx("admin"), "incident.escalated", recipients=[eng, eng], subject="INC paged", payload={"k": 1}
    )
    assert [n.user_id for n in notes] == [eng]  # once per person, however often listed
    outbox = actors.session.scalars(select(OutboxMessage)).all()
    assert [(o.channel_id, o.status, o.attempts) for o in outbox] == [(channel.id, "pending", 0)]
    assert receiver.received == []  # nothing leaves before the sweep
    assert [n.subject for n in inbox.inbox(actors.ctx("engineer"))] == ["INC paged"]


def test_people_without_a_matching_subscription_get_only_the_inbox_row(actors, receiver: Receiver) -> None:
    channel = webhook(actors, "engineer", receiver.url)
    subscribe(actors, "engineer", channel.id, "alert.*")
    service.notify(actors.ctx(), "incident.opened", recipients=[actors.users["engineer"].id], subject="x")
    assert actors.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    assert len(inbox.inbox(actors.ctx("engineer"))) == 1


def test_webhook_delivery_is_signed_and_the_receiver_can_verify_it(actors, receiver: Receiver, clock) -> None:
    channel = webhook(actors, "engineer", receiver.url + "/charter")
    secret = channel.secret
    assert secret and len(secret) >= 32
    subscribe(actors, "engineer", channel.id)
    service.notify(
        actors.ctx(),
        "incident.opened",
        recipients=[actors.users["engineer"].id],
        subject="INC-2026-0001 opened",
        payload={"incident": "INC-2026-0001"},
        per_recipient={actors.users["engineer"].id: {"ack_url": "http://x/ack"}},
        entity=("incident", "INC-2026-0001"),
    )
    report = deliver_pending(actors.ctx())
    assert (report.attempted, report.delivered) == (1, 1)
    [got] = receiver.received
    assert got.path == "/charter"
    ts = got.headers["x-charter-timestamp"]
    # The receiver's own check, independent of Charter's helper:
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + got.body, hashlib.sha256).hexdigest()
    assert got.headers["x-charter-signature"] == f"v1={mac}"
    assert verify_signature(secret, ts, got.body, got.headers["x-charter-signature"], int(clock.now().timestamp()))
    doc = got.json()
    assert doc["event"] == "incident.opened" == got.headers["x-charter-event"]
    assert doc["data"] == {"incident": "INC-2026-0001", "ack_url": "http://x/ack"}
    assert doc["recipient"] == "engineer"
    assert doc["entity"] == {"type": "incident", "id": "INC-2026-0001"}
    outbox = actors.session.scalars(select(OutboxMessage)).one()
    assert (outbox.status, outbox.attempts, outbox.delivered_at) == ("delivered", 1, clock.now())
    assert deliver_pending(actors.ctx()).attempted == 0  # delivered once, never again


def test_a_tampered_body_fails_verification_at_the_receiver(actors, receiver: Receiver, clock) -> None:
    channel = webhook(actors, "engineer", receiver.url)
    subscribe(actors, "engineer", channel.id)
    service.notify(actors.ctx(), "incident.opened", recipients=[actors.users["engineer"].id], subject="s")
    deliver_pending(actors.ctx())
    [got] = receiver.received
    body = json.loads(got.body)
    body["subject"] = "forged"
    forged = json.dumps(body).encode()
    now = int(clock.now().timestamp())
    assert not verify_signature(
        channel.secret, got.headers["x-charter-timestamp"], forged, got.headers["x-charter-signature"], now
    )


def test_failed_deliveries_retry_with_exponential_backoff_and_are_logged(actors, receiver: Receiver, clock) -> None:
    receiver.statuses = [500, 503]
    channel = webhook(actors, "engineer", receiver.url)
    subscribe(actors, "engineer", channel.id)
    service.notify(actors.ctx(), "incident.opened", recipients=[actors.users["engineer"].id], subject="s")
    first = deliver_pending(actors.ctx())
    assert (first.attempted, first.retrying) == (1, 1)
    outbox = actors.session.scalars(select(OutboxMessage)).one()
    assert outbox.next_attempt_at == clock.now() + timedelta(seconds=30)
    assert "HTTP 500" in (outbox.last_error or "")
    assert deliver_pending(actors.ctx()).attempted == 0  # not due yet
    clock.advance(seconds=30)
    deliver_pending(actors.ctx())
    assert outbox.next_attempt_at == clock.now() + timedelta(minutes=1)  # doubled
    clock.advance(minutes=1)
    third = deliver_pending(actors.ctx())
    assert third.delivered == 1
    log = list_outbox(actors.ctx())[0]
    assert [(d.attempt, d.ok, d.status_code) for d in log.deliveries] == [
        (1, False, 500),
        (2, False, 503),
        (3, True, 200),
    ]
    assert log.status == "delivered" and log.last_error is None
    assert len(receiver.received) == 3


def test_delivery_gives_up_after_the_maximum_attempts(actors, clock) -> None:
    channel = webhook(actors, "engineer", "http://127.0.0.1:9/unreachable")  # discard port: refused
    subscribe(actors, "engineer", channel.id)
    service.notify(actors.ctx(), "incident.opened", recipients=[actors.users["engineer"].id], subject="s")
    for _ in range(MAX_ATTEMPTS):
        deliver_pending(actors.ctx())
        clock.advance(hours=2)
    outbox = actors.session.scalars(select(OutboxMessage)).one()
    assert (outbox.status, outbox.attempts) == ("failed", MAX_ATTEMPTS)
    assert "ConnectError" in (outbox.last_error or "")
    assert deliver_pending(actors.ctx()).attempted == 0
    assert actors.session.scalar(select(func.count()).select_from(DeliveryAttempt)) == MAX_ATTEMPTS


def test_apprise_channels_deliver_through_apprise(actors, receiver: Receiver) -> None:
    # Apprise's json:// scheme posts to any HTTP endpoint: a real Apprise delivery to the local receiver.
    host = receiver.url.removeprefix("http://")
    channel = service.create_channel(
        actors.ctx("engineer"), ChannelCreate(name="apprise", kind="apprise", target=f"json://{host}/apprise")
    )
    assert service.channel_read(actors.session, channel).target == "json://…"  # credentials never shown
    subscribe(actors, "engineer", channel.id, "incident.opened")
    service.notify(
        actors.ctx(),
        "incident.opened",
        recipients=[actors.users["engineer"].id],
        subject="[CRITICAL] INC-2026-0001 opened",
        body="Acknowledge to stop escalation.",
        payload={"ack_url": "http://charter/ack/abc"},
    )
    assert deliver_pending(actors.ctx()).delivered == 1
    [got] = receiver.received
    assert got.path == "/apprise"
    doc = got.json()
    assert doc["title"] == "[CRITICAL] INC-2026-0001 opened"
    assert "Acknowledge: http://charter/ack/abc" in doc["message"]


def test_organisation_channels_get_one_message_per_event(actors, receiver: Receiver) -> None:
    channel = webhook(actors, "governance", receiver.url, name="org", organisation=True)
    subscribe(actors, "governance", channel.id, "incident.opened", organisation=True)
    service.notify(
        actors.ctx(),
        "incident.opened",
        recipients=[actors.users["engineer"].id, actors.users["approver"].id],
        subject="s",
    )
    deliver_pending(actors.ctx())
    assert len(receiver.received) == 1
    assert receiver.received[0].json()["recipient"] is None


def test_bad_channels_and_subscriptions_are_refused_clearly(actors) -> None:
    with pytest.raises(ValidationFailed, match="http:// or https://"):
        webhook(actors, "engineer", "ftp://example.com/x")
    with pytest.raises(ValidationFailed, match="Apprise does not recognise"):
        service.create_channel(actors.ctx("engineer"), ChannelCreate(name="a", kind="apprise", target="nosuch://x"))
    with pytest.raises(PermissionDenied):
        webhook(actors, "engineer", "https://example.com", organisation=True)
    channel = webhook(actors, "engineer", "https://example.com/h")
    with pytest.raises(Conflict, match="already exists"):
        webhook(actors, "engineer", "https://example.com/h2")
    with pytest.raises(ValidationFailed, match="is not an event type"):
        subscribe(actors, "engineer", channel.id, "incident..opened")
    subscribe(actors, "engineer", channel.id, "incident.opened")
    with pytest.raises(Conflict, match="already subscribed"):
        subscribe(actors, "engineer", channel.id, "incident.opened")
    with pytest.raises(NotFound):  # someone else's channel does not exist for you
        subscribe(actors, "approver", channel.id, "incident.opened")


def test_channel_changes_are_ledgered_without_secrets(actors) -> None:
    channel = webhook(actors, "engineer", "https://example.com/h")
    old_secret = channel.secret
    service.update_channel(actors.ctx("engineer"), channel.id, ChannelUpdate(version=1, rotate_secret=True))
    assert channel.secret != old_secret and channel.version == 2
    entries = actors.session.scalars(
        select(LedgerEntry).where(LedgerEntry.entity_type == "notification_channel").order_by(LedgerEntry.seq)
    ).all()
    assert [e.action for e in entries] == ["notification.channel.created", "notification.channel.updated"]
    assert all("secret" not in (e.after or {}) for e in entries)
    assert entries[1].reason == "signing secret rotated"


def test_a_disabled_channel_receives_nothing(actors, receiver: Receiver) -> None:
    channel = webhook(actors, "engineer", receiver.url)
    subscribe(actors, "engineer", channel.id)
    service.update_channel(actors.ctx("engineer"), channel.id, ChannelUpdate(version=1, enabled=False))
    service.notify(actors.ctx(), "incident.opened", recipients=[actors.users["engineer"].id], subject="s")
    assert actors.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    assert actors.session.scalar(select(func.count()).select_from(Notification)) == 1
