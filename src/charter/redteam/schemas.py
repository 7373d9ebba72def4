"""Red-team API shapes: runs, findings, triage, the import answer."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from charter.redteam.rules import FindingStatus

TriageTarget = Literal["triaged", "accepted", "false_positive", "open"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RunRead(BaseModel):
    id: int
    system: str
    release: int | None
    source: str
    status: str
    suites: list[str]
    target: str | None
    file_name: str | None
    file_sha256: str | None
    attempts_total: int
    attempts_new: int
    errors: int
    hits: int
    error: str | None
    warnings: list[str]
    started_at: datetime
    finished_at: datetime | None
    created_by: str


class RunDetail(RunRead):
    config: dict[str, Any]
    results: list[dict[str, Any]] = Field(description="per probe x detector: passed, fails, nones, total, ASR, CI")
    classification: dict[str, list[str]]
    findings: list[int] = Field(description="ids of the findings this run opened, updated or fixed")


class FindingRead(BaseModel):
    id: int
    system: str
    probe: str
    title: str
    owasp_2025: list[str]
    atlas: list[str]
    impact: str
    severity: str
    status: FindingStatus
    attack_success_rate: float
    asr_wilson95: list[float]
    evaluated: int
    hits: int
    first_seen_at: datetime
    last_seen_at: datetime
    last_checked_at: datetime
    first_seen_release: int | None
    last_seen_release: int | None
    first_run: int
    last_run: int
    fixed_by_run: int | None
    risk: str | None = Field(description="key of the risk this finding opened or links to")
    reason: str | None
    evidence: list[str] = Field(description="content hashes of the hitting attempts (newest first)")
    allowed_moves: list[str]
    version: int


class AttemptRead(BaseModel):
    id: int
    run: int
    probe: str
    prompt: str
    converters: list[str]
    outputs: list[str | None]
    scores: dict[str, list[float | None]]
    hit: bool
    error: str | None
    content_hash: str


class FindingDetail(FindingRead):
    attempts: list[AttemptRead]


class TriageIn(_In):
    to: TriageTarget = Field(description="triaged, accepted (governance, with a reason), false_positive (reason)")
    version: int = Field(description="the version you read; a stale version is refused with 409")
    reason: str | None = Field(default=None, max_length=2_000)


class ImportRead(BaseModel):
    """What `charter redteam import` prints: the report's rows plus what was stored."""

    run: int | None = Field(description="the stored run; null when the report added nothing new")
    format: str
    file: str
    attempts: int
    new_attempts: int
    duplicates_in_file: int
    results: list[dict[str, Any]]
    unclassified_probes: list[str]
    warnings: list[str]
    findings_opened: list[int]
    findings_updated: list[int]
    findings_fixed: list[int]
    risks_opened: list[str]


class RunCreate(_In):
    """A probe run against a target (an OpenAI-compatible chat endpoint or an HTTP JSON endpoint)."""

    target: dict[str, Any] = Field(
        description="openai_chat {base_url, model, api_key: env:NAME | file:/path} or http_json (docs/evaluation.md)"
    )
    suites: list[str] | None = Field(default=None, description="suite keys; default: every shipped suite")
    probes: list[str] | None = Field(default=None, description="limit to '<suite key>.<probe id>' names")
    repeats: int = Field(default=1, ge=1, le=1000, description="attempts per prompt variant")
    concurrency: int = Field(default=8, ge=1, le=256)
    rate_per_second: float | None = Field(default=None, gt=0, le=10_000)
    timeout_s: float = Field(default=60.0, gt=0, le=600)
    release: int | None = Field(default=None, ge=1, description="the release version under test")
    seed: str | None = Field(default=None, max_length=100, description="default: a fresh random seed")
