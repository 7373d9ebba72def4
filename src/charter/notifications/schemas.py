from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from charter.notifications.rules import ChannelKind


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ChannelCreate(_In):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._-]*$")
    kind: ChannelKind
    target: str = Field(
        min_length=3,
        max_length=2_000,
        description="webhook: an http(s) URL; apprise: an Apprise URL (slack://..., mailto://..., json://...)",
    )
    secret: str | None = Field(
        default=None, min_length=16, max_length=200, description="webhook signing secret; default: generated"
    )
    organisation: bool = Field(default=False, description="an organisation channel (needs notifications:manage)")


class ChannelUpdate(_In):
    version: int
    name: str | None = Field(default=None, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._-]*$")
    target: str | None = Field(default=None, min_length=3, max_length=2_000)
    enabled: bool | None = None
    rotate_secret: bool = False


class ChannelRead(BaseModel):
    id: int
    name: str
    kind: str
    target: str = Field(description="webhook URL, or the Apprise scheme only (its URL may hold credentials)")
    owner: str | None
    enabled: bool
    created_at: datetime
    updated_at: datetime
    version: int
    secret: str | None = Field(default=None, description="shown once: at creation and when rotated")


class SubscriptionCreate(_In):
    event_type: str = Field(max_length=100, description="'incident.escalated', 'incident.*' or '*'")
    channel_id: int
    organisation: bool = Field(default=False, description="subscribe the organisation (notifications:manage)")


class SubscriptionRead(BaseModel):
    id: int
    user: str | None
    event_type: str
    channel_id: int
    channel: str
    created_at: datetime


class NotificationRead(BaseModel):
    id: int
    event_type: str
    subject: str
    body: str
    payload: dict[str, Any]
    entity_type: str | None
    entity_id: str | None
    created_at: datetime
    read_at: datetime | None


class DeliveryRead(BaseModel):
    attempt: int
    at: datetime
    ok: bool
    status_code: int | None
    error: str | None
    duration_ms: int


class OutboxRead(BaseModel):
    id: int
    notification_id: int
    event_type: str
    subject: str
    recipient: str | None
    channel_id: int
    channel: str
    status: str
    attempts: int
    next_attempt_at: datetime
    delivered_at: datetime | None
    last_error: str | None
    deliveries: list[DeliveryRead]


class DeliveryReport(BaseModel):
    attempted: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
