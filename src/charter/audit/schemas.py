from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from charter.ledger.checks import Checkpoint, VerifyResult


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


class CheckpointIn(BaseModel):
    """A checkpoint kept outside the database (the JSON `charter audit checkpoint` prints)."""

    model_config = ConfigDict(extra="ignore")
    size: int = Field(ge=0, description="number of entries the checkpoint covers")
    head_hash: str = Field(pattern=r"^[0-9a-f]{64}$", description="hash of entry `size` (64 hex characters)")
    created_at: str = Field(min_length=1, max_length=64)
    key_id: str = Field(min_length=1, max_length=64)
    public_key: str = Field(min_length=1, max_length=100, description="Ed25519 public key, base64")
    signature: str = Field(min_length=1, max_length=200, description="Ed25519 signature, base64")

    def to_checkpoint(self) -> Checkpoint:
        return Checkpoint(self.size, self.head_hash, self.created_at, self.key_id, self.public_key, self.signature)


class VerifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    checkpoint: CheckpointIn | None = Field(
        default=None, description="also verify against this checkpoint, kept outside the database"
    )


class ProblemRead(BaseModel):
    seq: int | None = Field(description="the first broken entry's sequence number")
    kind: str = Field(description="hash_mismatch, prev_hash_mismatch, seq_gap, head_mismatch, checkpoint_... ")
    detail: str


class VerifyRead(BaseModel):
    ok: bool
    source: str
    size: int = Field(description="entries in the chain according to its head")
    head_hash: str
    entries_checked: int
    checkpoints_checked: int
    seconds: float
    entries_per_second: float
    problem: ProblemRead | None
    external_checkpoint: CheckpointIn | None
    key_ids: list[str]
    slow_entries: int = Field(description="entries not stored in the form append writes, re-read and re-hashed")

    @classmethod
    def of(cls, result: VerifyResult) -> VerifyRead:
        return cls.model_validate(result.to_dict())
