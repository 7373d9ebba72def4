from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class EntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    seq: int
    ts: datetime
    actor: str
    action: str
    entity_type: str
    entity_id: str
    before: Any
    after: Any
    request_id: str | None
    reason: str | None
    prev_hash: str
    hash: str


class CheckpointRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    size: int
    head_hash: str
    created_at: datetime
    key_id: str
    public_key: str
    signature: str
