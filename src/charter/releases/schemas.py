from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from charter.inventory.rules import DeploymentStage
from charter.releases.rules import ArtifactKind, ChangeType

SHA256 = r"^[0-9a-fA-F]{64}$"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ArtifactIn(_In):
    kind: ArtifactKind
    name: str = Field(min_length=1, max_length=200, description="e.g. 'classifier', 'system-prompt'")
    uri: str = Field(min_length=1, max_length=2_000, description="where the artifact lives (s3://, mlflow://, git...)")
    sha256: str = Field(pattern=SHA256, description="SHA-256 of the artifact's bytes (the CLI computes it from --file)")

    @field_validator("sha256")
    @classmethod
    def _lower(cls, v: str) -> str:
        return v.lower()


class ChangeIn(_In):
    summary: str = Field(min_length=1, max_length=5_000)
    type: ChangeType
    expected_impact: str = Field(default="", max_length=5_000)
    risk_keys: list[str] = Field(default_factory=list, max_length=100, description="keys of the risks this touches")

    @field_validator("risk_keys")
    @classmethod
    def _keys(cls, v: list[str]) -> list[str]:
        for key in v:
            if not key or len(key) > 64:
                raise ValueError(f"risk key {key!r} must be 1-64 characters")
        return sorted(set(v))


class ReleaseCreate(_In):
    artifacts: list[ArtifactIn] = Field(min_length=1, max_length=200)
    change: ChangeIn

    @model_validator(mode="after")
    def _unique(self) -> ReleaseCreate:
        seen: set[tuple[str, str]] = set()
        for a in self.artifacts:
            if (a.kind, a.name) in seen:
                raise ValueError(f"artifact {a.kind} '{a.name}' is listed twice; (kind, name) must be unique")
            seen.add((a.kind, a.name))
        return self


class StageRequest(_In):
    stage: DeploymentStage
    reason: str | None = Field(default=None, max_length=2_000)


class DecisionIn(_In):
    stage: DeploymentStage
    decision: Literal["approve", "reject"]
    comment: str = Field(default="", max_length=5_000)

    @model_validator(mode="after")
    def _reject_needs_comment(self) -> DecisionIn:
        if self.decision == "reject" and not self.comment:
            raise ValueError("a rejection needs a comment saying what must change")
        return self


class WithdrawIn(_In):
    stage: DeploymentStage
    reason: str = Field(min_length=3, max_length=2_000)


class PromoteIn(_In):
    stage: DeploymentStage
    reason: str | None = Field(default=None, max_length=2_000)


class RollbackIn(_In):
    stage: DeploymentStage
    to_version: int | None = Field(default=None, ge=1, description="default: the release deployed before this one")
    reason: str = Field(min_length=3, max_length=2_000)
    incident: str | None = Field(default=None, max_length=64, description="the incident key this rollback answers")
    emergency: bool = Field(default=False, description="logged as an emergency rollback")


class StagesIn(_In):
    stages: list[DeploymentStage] = Field(min_length=1, max_length=3)
    version: int | None = Field(default=None, description="the version you read (omit when none is set yet)")
    reason: str | None = Field(default=None, max_length=2_000)


class ArtifactRead(BaseModel):
    kind: str
    name: str
    uri: str
    sha256: str


class StageRead(BaseModel):
    stage: str
    status: str
    requested_by: str
    requested_at: datetime
    updated_at: datetime
    reason: str | None
    version: int
    allowed_transitions: list[str]


class ApprovalRead(BaseModel):
    stage: str
    user: str
    role: str
    decision: str
    comment: str
    decided_at: datetime
    content_hash: str
    valid: bool = Field(
        description="bound to this release's content hash (an approval of other content counts for nothing)"
    )


class ReleaseRead(BaseModel):
    id: int = Field(description="the release's id (the subject_id of procedure runs on this release)")
    system: str
    version: int
    content_hash: str
    change: dict[str, Any]
    artifacts: list[ArtifactRead]
    requested_by: str
    submitted_at: datetime
    stages: list[StageRead]
    approvals: list[ApprovalRead]


class ReleaseSummary(BaseModel):
    system: str
    version: int
    change_type: str
    summary: str
    requested_by: str
    submitted_at: datetime
    content_hash: str
    statuses: dict[str, str]


class DeploymentRead(BaseModel):
    id: int
    system: str
    stage: str
    kind: str
    from_version: int | None
    to_version: int | None
    actor: str
    at: datetime
    reason: str | None
    incident: str | None
    gate_evaluation_id: int | None
    runbook: dict[str, Any] | None


class PointerRead(BaseModel):
    system: str
    stage: str
    version: int | None
    since: datetime | None
    deployment_id: int | None


class VerificationRead(BaseModel):
    id: int
    system: str
    stage: str
    sha256: str
    verified: bool
    result: str = Field(description="match | mismatch | unknown_artifact")
    deployed_version: int | None
    artifact_versions: list[int]
    caller: str
    at: datetime
    flagged: bool
    message: str


class StagesRead(BaseModel):
    system: str
    stages: list[str]
    configured: bool
    version: int | None
    pointers: list[PointerRead] = Field(default_factory=list)


class RuleResult(BaseModel):
    policy: str
    policy_version: int
    rule: str
    kind: str
    description: str
    passed: bool
    reason: str = Field(description="why it failed (the rule's message, or the evaluation error); '' on pass")
    error: str | None = None


class GateRead(BaseModel):
    id: int
    system: str
    release_version: int
    stage: str
    purpose: str
    passed: bool
    policies: list[dict[str, Any]]
    results: list[RuleResult]
    failed: list[str]
    evaluated_at: datetime
    actor: str
    digest: str
    facts: dict[str, Any] | None = None
