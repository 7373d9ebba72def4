"""Notification tables: channels, subscriptions, the in-app inbox, the outbox and its delivery log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from charter.kit.db import Base, Versioned


class NotificationChannel(Versioned, Base):
    """Where messages go: an Apprise URL (Slack, Teams, email, ...) or a signed outbound webhook.

    owner_id None: an organisation channel (managed with notifications:manage); otherwise a person's own.
    """

    __tablename__ = "notification_channels"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))  # webhook | apprise
    target: Mapped[str] = mapped_column(Text)  # the URL (kept out of read models for apprise: it may hold keys)
    secret: Mapped[str | None] = mapped_column(String(200))  # webhook signing secret (never in the ledger)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("owner_id", "name", name="uq_notification_channels_owner_name"),)


class NotificationSubscription(Base):
    """A user (or, user_id None, the organisation) wants events of a type on a channel.

    event_type: an exact type ('incident.escalated'), a prefix pattern ('incident.*') or '*'.
    """

    __tablename__ = "notification_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    event_type: Mapped[str] = mapped_column(String(100))
    channel_id: Mapped[int] = mapped_column(ForeignKey("notification_channels.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("user_id", "event_type", "channel_id", name="uq_notification_subscriptions_user_event"),
    )


class Notification(Base):
    """One message for one person (or, user_id None, for the organisation's channels): the in-app inbox."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    event_type: Mapped[str] = mapped_column(String(100), index=True)
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[Any] = mapped_column(JSON, default=dict)
    entity_type: Mapped[str | None] = mapped_column(String(60))
    entity_id: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
    read_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_notifications_entity", "entity_type", "entity_id"),)


class OutboxMessage(Base):
    """A notification waiting to be delivered to one channel; written in the same transaction as the event."""

    __tablename__ = "notification_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id", ondelete="CASCADE"), index=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("notification_channels.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    # A delivery job's claim: other jobs skip the message until the lease runs out (charter.notifications.delivery).
    leased_until: Mapped[datetime | None]
    lease_token: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (Index("ix_notification_outbox_due", "status", "next_attempt_at"),)


class DeliveryAttempt(Base):
    """The delivery log: one row per attempt to deliver an outbox message."""

    __tablename__ = "notification_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("notification_outbox.id", ondelete="CASCADE"), index=True)
    attempt: Mapped[int]
    at: Mapped[datetime]
    ok: Mapped[bool] = mapped_column(Boolean)
    status_code: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(default=0)
