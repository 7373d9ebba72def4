"""Request and response bodies of the data module."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from charter.data.pii.catalog import ENTITIES, NLP_ENTITIES
from charter.data.rules import Classification, DatasetStatus, DeletionMethod, LegalBasis

SYSTEM_KEY = r"^[a-z0-9][a-z0-9-]{1,62}[a-z0-9]$"
KNOWN_ENTITIES = frozenset(ENTITIES + NLP_ENTITIES)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("pii_categories", check_fields=False)
    @classmethod
    def _entities(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return None
        unknown = sorted(set(v) - KNOWN_ENTITIES)
        if unknown:
            raise ValueError(
                f"unknown PII categor{'y' if len(unknown) == 1 else 'ies'} {', '.join(unknown)}; use the entity "
                f"type names: {', '.join(sorted(KNOWN_ENTITIES))}"
            )
        return sorted(set(v))

    @field_validator("systems", check_fields=False)
    @classmethod
    def _systems(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else sorted(set(v))


class DatasetCreate(_In):
    namespace: str = Field(min_length=1, max_length=1000, description="OpenLineage namespace, e.g. s3://bucket")
    name: str = Field(min_length=1, max_length=1000, description="OpenLineage name, e.g. raw/tickets")
    owner: str | None = Field(default=None, description="username of the data owner; default: you")
    purpose: str = Field(default="", max_length=5_000)
    legal_basis: LegalBasis
    classification: Classification
    pii_categories: list[str] = Field(default_factory=list, max_length=60)
    location: str = Field(default="", max_length=1000, description="where the data lives (URI)")
    retention_days: int | None = Field(default=None, ge=1, le=36_500, description="omitted: kept until deleted")
    systems: list[str] = Field(default_factory=list, max_length=200, description="keys of AI systems using it")


class DatasetUpdate(_In):
    version: int = Field(description="the version you read; a stale version is refused with 409")
    owner: str | None = None
    purpose: str | None = Field(default=None, max_length=5_000)
    legal_basis: LegalBasis | None = None
    classification: Classification | None = None
    pii_categories: list[str] | None = Field(default=None, max_length=60)
    location: str | None = Field(default=None, max_length=1000)
    retention_days: int | None = Field(default=None, ge=1, le=36_500)
    systems: list[str] | None = Field(default=None, max_length=200)
    reason: str | None = Field(default=None, max_length=2_000)


class DatasetRead(BaseModel):
    id: int
    namespace: str
    name: str
    owner: str | None
    purpose: str
    legal_basis: str
    classification: str
    pii_categories: list[str]
    location: str
    retention_days: int | None
    retain_until: datetime | None
    systems: list[str]
    status: DatasetStatus
    created_at: datetime
    updated_at: datetime
    status_changed_at: datetime
    version: int


class DeletionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    method: DeletionMethod
    deleted_at: datetime | None = Field(default=None, description="when the data was deleted; default: now")
    description: str = Field(default="", max_length=5_000, description="how: what was deleted, where")
    evidence_id: int | None = Field(default=None, description="the deletion certificate, already stored as evidence")
    version: int


class DeletionRead(BaseModel):
    id: int
    dataset_id: int
    method: str
    description: str
    deleted_at: datetime
    deleted_by: str
    recorded_at: datetime
    evidence_id: int | None
    certificate_sha256: str | None


class LineageAccepted(BaseModel):
    accepted: int
    duplicates: int


class AuditRead(BaseModel):
    id: int
    dataset_id: int | None
    source: str
    format: str
    records: int
    records_with_pii: int
    entities: dict[str, int]
    report: dict[str, Any]
    evidence_id: int | None
    run_id: int | None
    item_id: str | None
    created_at: datetime
    created_by: str


class PolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    entities: dict[str, str] = Field(default_factory=dict, description="entity type -> action")
    default: str = "redact"
    threshold: float | None = None
    on_undetectable: Literal["warn", "block"] = "warn"
    ttl_seconds: int = Field(default=3600, ge=60, le=30 * 86_400, description="how long pseudonyms can be restored")
    version: int | None = Field(default=None, description="the version you read, when changing a policy")


class PolicyRead(BaseModel):
    vendor: str
    entities: dict[str, str]
    default: str
    threshold: float | None
    on_undetectable: str
    ttl_seconds: int
    version: int
    updated_at: datetime


class GuardIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(max_length=1_000_000)
    vendor: str = Field(min_length=1, max_length=200)
    scope: str = Field(default="", max_length=200, description="groups pseudonyms, e.g. a conversation id")
    system: str | None = Field(default=None, description="an AI system key: pii_detected/pii_blocked metrics go to it")


class GuardOut(BaseModel):
    vendor: str
    text: str | None
    blocked: bool
    blocked_by: list[str]
    counts: dict[str, dict[str, int]]
    not_looked_for: list[str]
    pii_detected: int
    pii_blocked: int
    scope: str


class RestoreIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(max_length=1_000_000)
    scope: str = Field(default="", max_length=200)


class RestoreOut(BaseModel):
    text: str
    restored: int
    expired: int
    unknown: int
