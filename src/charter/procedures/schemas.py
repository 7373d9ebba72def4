from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from charter.evidence.schemas import EvidenceRead
from charter.procedures.rules import Answer
from charter.procedures.template_schema import SubjectType


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class TemplateInstall(_In):
    content: str = Field(min_length=1, max_length=512 * 1024, description="the template's YAML text")
    filename: str = Field(default="template.yaml", max_length=255, description="named in error messages")


class TemplateSummary(BaseModel):
    key: str
    version: int
    title: str
    kind: str
    applies_to: list[str]
    severities: list[str]
    tags: list[str]
    origin: str
    item_count: int
    installed_at: datetime
    installed_by: str
    versions: list[int] = Field(description="every installed version of this key")


class TemplateRead(TemplateSummary):
    description: str
    source: str
    filename: str
    content_sha256: str
    signoff_roles: list[str]
    sections: list[dict[str, Any]]


class ValidationReport(BaseModel):
    valid: bool
    key: str | None = None
    version: int | None = None
    items: int | None = None
    problems: list[dict[str, Any]] = Field(default_factory=list)


class RunCreate(_In):
    template: str = Field(description="template key, e.g. ethical-review")
    version: int | None = Field(default=None, ge=1, description="template version; default: the latest")
    subject_type: SubjectType
    subject_id: int | None = Field(default=None, ge=1)
    subject_key: str | None = Field(default=None, max_length=64, description="a system's or incident's key")
    title: str | None = Field(default=None, max_length=300)
    assignee: str | None = Field(default=None, description="username every item is assigned to (runbooks)")


class ItemUpdate(_In):
    """Answer an item (status, response, justification, evidence) and/or assign it (assignee, due_at)."""

    version: int = Field(description="the item version you read; a stale version is refused with 409")
    status: Answer | None = None
    response: str | None = Field(default=None, max_length=20_000)
    justification: str | None = Field(default=None, max_length=5_000, description="required for not_applicable")
    evidence_ids: list[int] = Field(default_factory=list, max_length=50, description="evidence to attach")
    assignee: str | None = Field(default=None, description="username; null to unassign")
    due_at: datetime | None = None

    @model_validator(mode="after")
    def _answer_fields(self) -> ItemUpdate:
        if self.status is None and ({"response", "justification"} & self.model_fields_set):
            raise ValueError("status is required when giving a response or justification")
        if not ({"status", "assignee", "due_at", "evidence_ids"} & self.model_fields_set):
            raise ValueError("nothing to change: give status (to answer), assignee, due_at or evidence_ids")
        return self


class ExceptionCreate(_In):
    item_id: str = Field(max_length=64)
    justification: str = Field(min_length=10, max_length=5_000, description="why the gap is acceptable")
    version: int = Field(description="the item version you read")


class RunTransition(_In):
    version: int = Field(description="the run version you read")
    reason: str | None = Field(default=None, max_length=5_000)


class Signoff(_In):
    decision: Literal["approve", "reject"]
    version: int = Field(description="the run version you read")
    reason: str | None = Field(default=None, max_length=5_000, description="required to reject")

    @model_validator(mode="after")
    def _reason_to_reject(self) -> Signoff:
        if self.decision == "reject" and not (self.reason or "").strip():
            raise ValueError("reason is required to reject: say what must change")
        return self


class EvidenceLink(_In):
    evidence_id: int


class ExceptionRead(BaseModel):
    justification: str
    approved_by: str
    approved_at: datetime


class ItemRead(BaseModel):
    item_id: str
    section_id: str
    question: str
    guidance: str
    required: bool
    evidence_required: bool
    refs: list[str]
    tags: list[str]
    answer_roles: list[str]
    status: str = Field(description="the stored answer: open, pass, fail, needs_review, not_applicable")
    effective_status: str = Field(description="the answer as it stands now (expired evidence → needs_review)")
    reasons: list[str]
    satisfied: bool
    blocking: bool
    response: str
    justification: str
    answered_by: str | None
    answered_at: datetime | None
    assignee: str | None
    due_at: datetime | None
    overdue: bool
    exception: ExceptionRead | None
    evidence: list[EvidenceRead]
    version: int


class SectionRead(BaseModel):
    id: str
    title: str
    completion_pct: float
    items: list[ItemRead]


class OpenItem(BaseModel):
    """An item not passing (seed 002 get_issues): unanswered, failed, needing review, or a flagged pass."""

    item_id: str
    section_id: str
    question: str
    status: str
    answered: bool
    required: bool
    blocking: bool
    excepted: bool
    reasons: list[str]
    response: str


class RunSummary(BaseModel):
    id: int
    template_key: str
    template_version: int
    title: str
    kind: str
    subject_type: str
    subject_id: int
    status: str
    completion_pct: float
    started_by: str
    started_at: datetime
    updated_at: datetime
    version: int


class RunRead(RunSummary):
    template_title: str
    subject: str
    allowed_transitions: list[str]
    submitted_at: datetime | None
    submitted_by: str | None
    decided_at: datetime | None
    decided_by: str | None
    decision_reason: str
    approved: bool = Field(description="status is approved and nothing has since fallen below the bar")
    can_approve: bool = Field(description="the approval rule holds now: no required item blocks")
    signoff_roles: list[str]
    excluded_signers: list[str] = Field(description="who answered most items, so may not sign off")
    open_items: list[OpenItem]
    sections: list[SectionRead]
