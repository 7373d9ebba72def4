"""Feedback tables: interactions, per-system settings, feedback keys, end-user feedback, queues, items, reviews."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from charter.kit.db import Base, Versioned


class Interaction(Base):
    """One AI interaction an application sent (input, output, model, prompt version), idempotent by its id.

    Written by the batch fast path (driver-level executemany, no ORM object per row); read through the ORM."""

    __tablename__ = "interactions"

    id: Mapped[int] = mapped_column(primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("ai_systems.id"))
    external_id: Mapped[str] = mapped_column(String(100))
    input: Mapped[str] = mapped_column(Text)
    output: Mapped[str] = mapped_column(Text)
    model: Mapped[str | None] = mapped_column(String(200))
    prompt_ref: Mapped[str | None] = mapped_column(String(200))  # name@version
    user_ref: Mapped[str | None] = mapped_column(String(200))  # pseudonymous
    meta: Mapped[Any] = mapped_column(JSON, nullable=True)
    score: Mapped[float | None]  # an automated judge's score, when the application sends one
    pii: Mapped[Any] = mapped_column(JSON, nullable=True)  # counts of what the PII guard found (never values)
    digest: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime]
    received_at: Mapped[datetime]
    # Blocking review: None (not held) | held | approved | edited | rejected
    decision: Mapped[str | None] = mapped_column(String(20))
    decision_text: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (
        UniqueConstraint("system_id", "external_id", name="uq_interactions_system_external"),
        Index("ix_interactions_system_received", "system_id", "received_at"),
    )


class FeedbackSettings(Versioned, Base):
    """Per-system feedback settings: PII guard, retention, flag-rate spike threshold."""

    __tablename__ = "feedback_settings"

    system_id: Mapped[int] = mapped_column(ForeignKey("ai_systems.id"), primary_key=True, autoincrement=False)
    pii_guard: Mapped[str] = mapped_column(String(20), default="off")  # off | mask | redact
    retention_days: Mapped[int] = mapped_column(default=90)
    spike_min_flags: Mapped[int] = mapped_column(default=10)
    spike_window_minutes: Mapped[int] = mapped_column(default=10)
    spike_rate: Mapped[float] = mapped_column(default=0.05)  # flags per interaction in the window
    spike_severity: Mapped[str] = mapped_column(String(20), default="HIGH")
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(200))


class FeedbackKey(Base):
    """A public, write-only feedback key: scoped to one system, posts feedback and nothing else. Stored hashed."""

    __tablename__ = "feedback_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("ai_systems.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    rate_per_minute: Mapped[int] = mapped_column(default=600)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(200))


class Feedback(Base):
    """End-user feedback on an interaction: thumbs up/down, a category, a comment. A flag: down or a category."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("ai_systems.id"))
    interaction_id: Mapped[int | None] = mapped_column(ForeignKey("interactions.id"), index=True)
    rating: Mapped[str | None] = mapped_column(String(10))  # up | down
    category: Mapped[str | None] = mapped_column(String(20))  # inaccurate | biased | harmful | other
    comment: Mapped[str] = mapped_column(Text, default="")
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    reporter: Mapped[str] = mapped_column(String(200))  # the ledger actor (a feedback key or a user)
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    key_id: Mapped[int | None] = mapped_column(ForeignKey("feedback_keys.id"))
    created_at: Mapped[datetime]

    __table_args__ = (Index("ix_feedback_system_created", "system_id", "created_at"),)


class ReviewQueue(Versioned, Base):
    """A review queue of one system: its rubric, sampling policy, lease and SLA, double-review rate."""

    __tablename__ = "review_queues"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    system_id: Mapped[int] = mapped_column(ForeignKey("ai_systems.id"), index=True)
    rubric: Mapped[Any] = mapped_column(JSON)
    sampling: Mapped[Any] = mapped_column(JSON)
    blocking: Mapped[bool] = mapped_column(Boolean, default=False)  # every interaction is held for review
    lease_seconds: Mapped[int] = mapped_column(default=600)
    sla_minutes: Mapped[int | None]
    double_review_rate: Mapped[float] = mapped_column(default=0.0)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))


class QueueItem(Base):
    """An interaction waiting for (or done with) review in a queue. Leased with a Core conditional UPDATE."""

    __tablename__ = "queue_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    queue_id: Mapped[int] = mapped_column(ForeignKey("review_queues.id"))
    interaction_id: Mapped[int] = mapped_column(ForeignKey("interactions.id"), index=True)
    reason: Mapped[str] = mapped_column(String(20))  # sampled | all | keyword | score | pii | flag | blocking
    status: Mapped[str] = mapped_column(String(20))  # pending | leased | done
    reviews_needed: Mapped[int] = mapped_column(default=1)
    reviews_done: Mapped[int] = mapped_column(default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None]
    leases: Mapped[int] = mapped_column(default=0)  # how many times it was handed out
    enqueued_at: Mapped[datetime]
    due_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("queue_id", "interaction_id", name="uq_queue_items_queue_interaction"),
        Index("ix_queue_items_queue_status", "queue_id", "status", "id"),
    )


class Review(Base):
    """One reviewer's verdict on a queue item: approve, edit (with the correction) or reject, with rubric scores."""

    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("queue_items.id"), index=True)
    queue_id: Mapped[int] = mapped_column(ForeignKey("review_queues.id"), index=True)
    interaction_id: Mapped[int] = mapped_column(ForeignKey("interactions.id"))
    reviewer: Mapped[str] = mapped_column(String(200))
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(20))  # approve | edit | reject
    scores: Mapped[Any] = mapped_column(JSON)
    correction: Mapped[str | None] = mapped_column(Text)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("item_id", "reviewer", name="uq_reviews_item_reviewer"),)
