"""Feedback request and response models."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# Oversize limits (a larger payload is refused whole with 413, naming the item and the field).
MAX_BATCH = 1000
MAX_TEXT = 100_000  # characters of an input or an output
MAX_META_BYTES = 16_384  # of metadata, as JSON
MAX_COMMENT = 4000


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# ----------------------------------------------------------------------------- interactions


class InteractionIn(_In):
    id: str = Field(min_length=1, max_length=100, description="the application's id (idempotency key)")
    input: str
    output: str
    model: str | None = Field(default=None, max_length=200)
    prompt: str | None = Field(default=None, max_length=200, description="prompt version, name@version")
    user: str | None = Field(default=None, max_length=200, description="a pseudonymous user reference")
    score: float | None = Field(default=None, description="an automated judge's score (sampling trigger)")
    metadata: dict[str, Any] | None = None
    at: datetime | None = Field(default=None, description="when it happened; default: when received")


class InteractionBatch(_In):
    interactions: list[InteractionIn] = Field(description=f"1 to {MAX_BATCH} interactions")


class IngestResult(BaseModel):
    accepted: int
    duplicates: int
    queued: int
    held: list[str] = Field(description="ids held for blocking review: poll their decision")


class InteractionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    system: str
    input: str
    output: str
    model: str | None
    prompt: str | None
    user: str | None
    score: float | None
    metadata: dict[str, Any] | None
    pii: dict[str, Any] | None
    occurred_at: datetime
    received_at: datetime
    decision: str | None


class DecisionRead(BaseModel):
    id: str
    decision: Literal["held", "approved", "edited", "rejected", "not_held"]
    text: str | None = Field(description="the output to release: the correction when edited, none when rejected")
    decided_at: datetime | None
    decided_by: str | None


# ----------------------------------------------------------------------------- settings


class SettingsIn(_In):
    version: int | None = Field(default=None, description="the version you read (omit the first time)")
    pii_guard: Literal["off", "mask", "redact"] | None = None
    retention_days: int | None = Field(default=None, ge=1, le=3650)
    spike_min_flags: int | None = Field(default=None, ge=1)
    spike_window_minutes: int | None = Field(default=None, ge=1, le=1440)
    spike_rate: float | None = Field(default=None, ge=0, le=1)
    spike_severity: Literal["LOW", "MEDIUM", "HIGH", "CRITICAL"] | None = None


class SettingsRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    system: str
    pii_guard: str
    retention_days: int
    spike_min_flags: int
    spike_window_minutes: int
    spike_rate: float
    spike_severity: str
    version: int


# ----------------------------------------------------------------------------- keys and feedback


class KeyCreate(_In):
    name: str = Field(default="feedback", min_length=1, max_length=100)
    rate_per_minute: int = Field(default=600, ge=1, le=1_000_000)


class KeyRead(BaseModel):
    id: int
    system: str
    name: str
    prefix: str
    rate_per_minute: int
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    key: str | None = Field(default=None, description="the key itself: shown once, at creation")


class FeedbackIn(_In):
    interaction: str | None = Field(default=None, max_length=100, description="the interaction id it is about")
    rating: Literal["up", "down"] | None = None
    category: Literal["inaccurate", "biased", "harmful", "other"] | None = None
    comment: str = ""


class FeedbackRead(BaseModel):
    id: int
    system: str
    interaction: str | None
    rating: str | None
    category: str | None
    comment: str
    flagged: bool
    reporter: str
    created_at: datetime
    status: str = Field(description="flag status: received | queued | in_review | reviewed (approve/edit/reject)")
    incident: str | None = None


# ----------------------------------------------------------------------------- queues and reviews


class QueueCreate(_In):
    key: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")
    name: str = Field(default="", max_length=200)
    system: str
    rubric: list[dict[str, Any]] | None = Field(default=None, description="default: accuracy, tone, hallucination")
    sampling: dict[str, Any] | None = None
    blocking: bool = False
    lease_seconds: int = Field(default=600, ge=10, le=86_400)
    sla_minutes: int | None = Field(default=None, ge=1)
    double_review_rate: float = Field(default=0.0, ge=0, le=1)


class QueueUpdate(_In):
    version: int
    name: str | None = Field(default=None, max_length=200)
    rubric: list[dict[str, Any]] | None = None
    sampling: dict[str, Any] | None = None
    blocking: bool | None = None
    lease_seconds: int | None = Field(default=None, ge=10, le=86_400)
    sla_minutes: int | None = Field(default=None, ge=1)
    double_review_rate: float | None = Field(default=None, ge=0, le=1)


class QueueRead(BaseModel):
    key: str
    name: str
    system: str
    rubric: list[dict[str, Any]]
    sampling: dict[str, Any]
    blocking: bool
    lease_seconds: int
    sla_minutes: int | None
    double_review_rate: float
    version: int
    pending: int = 0
    leased: int = 0
    done: int = 0


class ItemRead(BaseModel):
    id: int
    queue: str
    reason: str
    status: str
    reviews_needed: int
    reviews_done: int
    lease_owner: str | None
    lease_expires_at: datetime | None
    enqueued_at: datetime
    due_at: datetime | None
    interaction: InteractionRead
    rubric: list[dict[str, Any]]


class ReviewIn(_In):
    action: Literal["approve", "edit", "reject"]
    scores: dict[str, Any] | None = None
    correction: str | None = Field(default=None, description="the corrected output (required for edit)")
    comment: str = Field(default="", max_length=MAX_COMMENT)


class ReviewRead(BaseModel):
    id: int
    item: int
    queue: str
    interaction: str
    reviewer: str
    action: str
    scores: dict[str, Any]
    correction: str | None
    comment: str
    created_at: datetime


class AgreementRead(BaseModel):
    queue: str
    double_reviewed: int
    action_agreement: float | None = Field(
        description="share of double-reviewed items where both chose the same action"
    )
    action_kappa: float | None = Field(description="Cohen's kappa between first and second reviewer on the action")
    judge_items: int
    judge_agreement: float | None = Field(
        description="share of reviewed items with a judge score where the judge (score >= 0.5 = pass) agreed with "
        "the reviewer (approve = pass)"
    )
