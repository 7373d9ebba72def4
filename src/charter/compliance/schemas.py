"""Compliance request and response models."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from charter.compliance.rules import EditRelation


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class FrameworkRead(BaseModel):
    id: str
    title: str
    version: str
    requirements: int = Field(description="assessable requirements (what coverage is computed for)")
    total: int = Field(description="every entry, functions, chapters and groups included")
    custom: bool = False


class RequirementRead(BaseModel):
    ref: str
    id: str
    title: str
    kind: str
    assessable: bool
    parent: str | None = None
    text: str | None = None
    url: str | None = None
    applicability: dict[str, object] | None = None


class FrameworkDetail(FrameworkRead):
    publisher: str
    url: str | None = None
    licence: str
    attribution: str
    entries: list[RequirementRead]


class MappingRead(BaseModel):
    control: str
    requirement: str
    relation: str
    reason: str
    edited: bool


class CrosswalkRead(BaseModel):
    other: str
    relation: str
    reason: str


class RequirementDetail(RequirementRead):
    framework: str
    mappings: list[MappingRead]
    crosswalk: list[CrosswalkRead]


class MappingIn(_In):
    control: str = Field(min_length=3, max_length=200, description="e.g. sop:ethical-review/bias-tested")
    requirement: str = Field(
        min_length=3, max_length=200, description="<framework>:<requirement>, e.g. eu-ai-act:Art. 10"
    )
    relation: EditRelation = Field(description="satisfies, partially, or removed (drops a shipped link)")
    reason: str = Field(min_length=3, max_length=2_000)
    version: int | None = Field(default=None, description="the edit's version when changing an existing edit")


class ApplicabilityIn(_In):
    framework: str = Field(min_length=2, max_length=80)
    requirement: str | None = Field(default=None, max_length=100, description="omit for the whole framework")
    applicable: bool
    reason: str = Field(min_length=3, max_length=2_000, description="why it does (not) apply")
    version: int | None = None


class ApplicabilityRead(BaseModel):
    system: str
    framework: str
    requirement: str | None
    applicable: bool
    reason: str
    version: int
    updated_by: str
    updated_at: datetime


class CatalogIn(_In):
    filename: str = Field(default="catalog.yaml", max_length=200)
    content: str = Field(min_length=1, max_length=4 * 1024 * 1024, description="the framework file, YAML")
    version: int | None = Field(default=None, description="the installed catalog's version, to replace it")


class EvidenceRead(BaseModel):
    ref: str
    title: str
    at: datetime | None = None
    sha256: str | None = None


class ControlRead(BaseModel):
    control: str
    relation: str
    reason: str
    status: str
    why: str
    evidence: list[EvidenceRead]


class RequirementCoverageRead(BaseModel):
    ref: str
    id: str
    title: str
    status: str
    why: str
    via: list[str]
    controls: list[ControlRead]


class CoverageRead(BaseModel):
    framework: str
    title: str
    version: str
    system: str
    risk_tier: str
    role: str
    counts: dict[str, int]
    digest: str
    requirements: list[RequirementCoverageRead]


class SnapshotRead(BaseModel):
    framework: str
    system: str
    taken_at: datetime
    met: int
    partial: int
    missing: int
    not_applicable: int
    digest: str


class ControlEvidenceIn(_In):
    control: str = Field(min_length=8, max_length=200, description="an organisation's own control: custom:<name>")
    evidence_id: int = Field(ge=1, description="existing evidence (charter evidence add)")


class ControlEvidenceRead(BaseModel):
    system: str
    control: str
    evidence_id: int
    attached_by: str
    attached_at: datetime
