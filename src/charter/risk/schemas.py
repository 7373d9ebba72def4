from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from charter.risk.rules import MitigationStatus, Status

Level = Literal["LOW", "MEDIUM", "HIGH", "CRITICAL", "UNASSESSED"]
ScaleValue = int | str
ScaleField = Field(default=None, description="a value (4), key (LIKELY) or label (Likely) of the matrix scale")


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class MatrixRef(_In):
    name: str = Field(min_length=1, max_length=64)
    version: int | None = Field(default=None, ge=1, description="default: the newest installed version")


class Scores(_In):
    """Inherent and/or residual likelihood and impact; each pair is given whole or not at all."""

    likelihood: ScaleValue | None = ScaleField
    impact: ScaleValue | None = ScaleField
    residual_likelihood: ScaleValue | None = ScaleField
    residual_impact: ScaleValue | None = ScaleField
    matrix: MatrixRef | None = Field(
        default=None, description="score with this matrix; default: the risk's matrix, or the active one"
    )
    rationale: str = Field(default="", max_length=5_000)

    @model_validator(mode="after")
    def _pairs(self) -> Scores:
        for a, b in (("likelihood", "impact"), ("residual_likelihood", "residual_impact")):
            if (getattr(self, a) is None) != (getattr(self, b) is None):
                raise ValueError(f"give {a} and {b} together")
        return self

    @property
    def has_inherent(self) -> bool:
        return self.likelihood is not None

    @property
    def has_residual(self) -> bool:
        return self.residual_likelihood is not None


class RiskCreate(Scores):
    system: str = Field(min_length=1, max_length=64, description="the AI system's key")
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=20_000)
    category: str = Field(min_length=1, max_length=100, description="category key or label, e.g. privacy")
    owner: str | None = Field(default=None, description="username of the risk owner; default: you")


class RiskUpdate(_In):
    version: int = Field(description="the version you read; a stale version is refused with 409")
    title: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=20_000)
    category: str | None = Field(default=None, min_length=1, max_length=100)
    owner: str | None = None
    next_review_at: datetime | None = None
    reason: str | None = Field(default=None, max_length=2_000)


class Assess(Scores):
    version: int


class Transition(_In):
    to: Status
    version: int
    reason: str | None = Field(default=None, max_length=2_000)


class Accept(_In):
    version: int
    justification: str = Field(max_length=5_000, description="why the residual risk is acceptable")
    expires_at: datetime = Field(description="when the acceptance lapses and the risk needs review again")


class MitigationCreate(_In):
    description: str = Field(min_length=1, max_length=5_000)
    owner: str | None = Field(default=None, description="username; default: the risk owner")
    due_date: date | None = None
    status: MitigationStatus = "planned"


class MitigationUpdate(_In):
    version: int
    description: str | None = Field(default=None, min_length=1, max_length=5_000)
    owner: str | None = None
    due_date: date | None = None
    status: MitigationStatus | None = None
    reason: str | None = Field(default=None, max_length=2_000)


class MitigationRead(BaseModel):
    number: int
    description: str
    owner: str | None
    due_date: date | None
    status: str
    overdue: bool
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    version: int


class AssessmentRead(BaseModel):
    kind: str
    likelihood: int
    impact: int
    score: int
    level: str
    matrix: str
    matrix_version: int
    rationale: str
    assessed_at: datetime
    assessed_by: str


class RiskRead(BaseModel):
    key: str
    system: str
    system_name: str
    title: str
    description: str
    category: str
    category_label: str
    owner: str | None
    status: str
    level: str = Field(description="effective level: residual once its mitigations are done, else inherent")
    score: int | None
    matrix: str | None
    matrix_version: int | None
    likelihood: int | None
    likelihood_label: str | None
    impact: int | None
    impact_label: str | None
    inherent_score: int | None
    inherent_level: str | None
    residual_likelihood: int | None
    residual_likelihood_label: str | None
    residual_impact: int | None
    residual_impact_label: str | None
    residual_score: int | None
    residual_level: str | None
    is_open: bool
    overdue: bool
    acceptance_expired: bool
    needs_review: bool = Field(description="overdue, or its acceptance has expired")
    next_review_at: datetime
    accepted_by: str | None
    accepted_at: datetime | None
    accepted_until: datetime | None
    acceptance_justification: str | None
    mitigations_open: int
    mitigations_done: int
    created_at: datetime
    updated_at: datetime
    assessed_at: datetime | None
    status_changed_at: datetime
    version: int
    allowed_transitions: list[str]


class RiskDetail(RiskRead):
    mitigations: list[MitigationRead]
    assessments: list[AssessmentRead]


class MatrixInstall(_In):
    source: str = Field(min_length=1, max_length=200_000, description="the matrix YAML text")
    filename: str = Field(default="matrix.yaml", max_length=300, description="named in validation errors")
    activate: bool = Field(default=True, description="use it for new assessments")


class MatrixRead(BaseModel):
    name: str
    version: int
    title: str
    active: bool
    shipped: bool
    installed: bool
    installed_at: datetime | None
    installed_by: str | None
    likelihood: list[str]
    impact: list[str]
    levels: list[str]
    content: dict[str, Any]


class CategoryCreate(_In):
    key: str = Field(pattern=r"^[a-z][a-z0-9_-]{1,39}$")
    label: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=2_000)
    examples: list[str] = Field(default_factory=list, max_length=50)


class CategoryRead(BaseModel):
    key: str
    label: str
    description: str
    examples: list[str]
    shipped: bool


class ImportResult(BaseModel):
    dry_run: bool
    rows: int
    created: list[str]
