from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, model_validator

from charter.monitoring.alerts.rules import Aggregation, RuleKind, Severity, parse_duration
from charter.monitoring.metrics.catalog import BATCH_ID, LABEL_NAME, MAX_LABEL_VALUE, MAX_LABELS, METRIC_NAME

Comparison = Literal["<", "<=", ">", ">=", "==", "!="]
AlertState = Literal["pending", "firing", "resolved"]
RULE_KEY = r"^[a-z0-9][a-z0-9-]{1,62}[a-z0-9]$"
PROFILE_NAME = r"^[a-z0-9][a-z0-9._-]{0,63}$"
RELEASE = r"^[A-Za-z0-9._+-]{0,64}$"

LabelName = Annotated[str, StringConstraints(pattern=LABEL_NAME)]
LabelValue = Annotated[str, StringConstraints(max_length=MAX_LABEL_VALUE)]
Labels = Annotated[dict[LabelName, LabelValue], Field(max_length=MAX_LABELS)]
Duration = Annotated[int, BeforeValidator(parse_duration)]


# ----------------------------------------------------------------------------- metrics


class PointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=METRIC_NAME, description="metric name, e.g. accuracy or latency_ms")
    value: float = Field(strict=True, allow_inf_nan=False, description="a finite number (no NaN or infinity)")
    ts: datetime | None = Field(
        default=None, description="when it was measured (ISO 8601 or Unix seconds); default: now"
    )
    labels: Labels = Field(default_factory=dict, description="e.g. {'release': '3', 'stage': 'production'}")


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    batch_id: str = Field(
        pattern=BATCH_ID, description="your id for this batch: a retry with the same id is answered, not stored twice"
    )
    points: list[PointIn] = Field(min_length=1, max_length=100_000)


class AlertChangeRead(BaseModel):
    alert_id: int
    rule: str
    severity: str
    labels: dict[str, str]
    old_state: str | None
    new_state: str
    value: float | None
    summary: str


class BatchResult(BaseModel):
    batch_id: str
    accepted: int
    series: int
    replayed: bool = False
    received_at: datetime
    alerts: list[AlertChangeRead] = Field(default_factory=list)


class SeriesRead(BaseModel):
    name: str
    unit: str | None
    labels: dict[str, str]
    last_value: float
    last_ts: datetime
    points: int


class SeriesPoint(BaseModel):
    ts: datetime
    value: float | None = None
    count: int | None = None
    sum: float | None = None
    min: float | None = None
    max: float | None = None


class SeriesData(BaseModel):
    name: str
    unit: str | None
    labels: dict[str, str]
    resolution: str
    points: list[SeriesPoint]


# ----------------------------------------------------------------------------- alert rules


class RuleFields(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    description: str | None = Field(default=None, max_length=2000)
    metric: str | None = Field(default=None, pattern=METRIC_NAME)
    aggregation: Aggregation | None = None
    window: Duration | None = Field(default=None, description="seconds or text: '15m', '1h'")
    comparison: Comparison | None = None
    threshold: float | None = Field(default=None, allow_inf_nan=False)
    for_: Duration | None = Field(default=None, alias="for", description="how long the condition must hold")
    severity: Severity | None = None
    labels: Labels | None = None
    params: dict[str, Any] | None = None
    enabled: bool | None = None


class RuleCreate(RuleFields):
    key: str = Field(pattern=RULE_KEY, description="slug, unique per system, e.g. accuracy-low")
    kind: RuleKind = "threshold"
    severity: Severity = "warning"


class RuleUpdate(RuleFields):
    version: int = Field(description="the version you read; a stale version is refused with 409")
    reason: str | None = Field(default=None, max_length=2000)


class RuleRead(BaseModel):
    key: str
    kind: str
    description: str
    metric: str | None
    aggregation: str
    window_seconds: int
    comparison: str | None
    threshold: float | None
    for_seconds: int
    severity: str
    labels: dict[str, str]
    params: dict[str, Any]
    enabled: bool
    source: str
    expression: str
    version: int
    updated_at: datetime
    updated_by: str


class AlertRead(BaseModel):
    id: int
    system: str
    rule: str
    severity: str
    labels: dict[str, str]
    state: str
    value: float | None
    summary: str
    started_at: datetime
    fired_at: datetime | None
    resolved_at: datetime | None
    last_evaluated_at: datetime


class HealthRead(BaseModel):
    system: str
    health: Literal["unknown", "healthy", "degraded", "critical"]
    firing: dict[str, int]
    alerts: list[AlertRead]
    last_data_at: datetime | None
    minutes_since_last_data: float | None
    drift: dict[str, Any] | None


# ----------------------------------------------------------------------------- drift


class DriftOptionsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    drift_share: float = Field(default=0.5, gt=0, le=1, description="dataset drift when this share of columns drift")
    num_method: Literal["ks", "wasserstein", "psi", "jensenshannon", "chisquare", "z"] | None = None
    cat_method: Literal["chisquare", "z", "psi", "jensenshannon"] | None = None
    num_threshold: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    cat_threshold: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    per_column_method: dict[str, str] = Field(default_factory=dict)
    per_column_threshold: dict[str, Annotated[float, Field(gt=0, allow_inf_nan=False)]] = Field(default_factory=dict)
    columns: list[str] | None = None


class ProfileIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    profile: dict[str, Any] = Field(description="built with charter.monitoring.drift.profiles.build_profile")
    release: str = Field(default="", pattern=RELEASE, description="release this reference belongs to ('' = any)")
    version: int | None = Field(default=None, description="to replace an existing profile: the version you read")
    reason: str | None = Field(default=None, max_length=2000)


class ProfileRead(BaseModel):
    name: str
    release: str
    source: str
    rows: int
    columns: list[dict[str, Any]]
    version: int
    created_at: datetime
    updated_at: datetime
    updated_by: str
    profile: dict[str, Any] | None = None


class WindowIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reference: str = Field(default="reference", pattern=PROFILE_NAME)
    release: str = Field(default="", pattern=RELEASE)
    start: datetime
    end: datetime
    profile: dict[str, Any]

    @model_validator(mode="after")
    def _order(self) -> WindowIn:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class WindowRead(BaseModel):
    id: int
    reference: str
    release: str
    start: datetime
    end: datetime
    rows: int


class CheckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reference: str = Field(default="reference", pattern=PROFILE_NAME)
    release: str = Field(default="", pattern=RELEASE)
    current: dict[str, Any] | None = Field(default=None, description="a profile binned on the reference's edges")
    since: datetime | None = Field(default=None, description="without 'current': merge stored windows from here")
    until: datetime | None = None
    options: DriftOptionsIn = Field(default_factory=DriftOptionsIn)


class FeatureRead(BaseModel):
    column: str
    column_type: str
    method: str
    value: float
    threshold: float
    drifted: bool
    stats: dict[str, Any]


class CheckRead(BaseModel):
    id: int
    system: str
    reference: str
    reference_version: int
    release: str
    source: str
    window_start: datetime | None
    window_end: datetime | None
    rows_reference: int
    rows_current: int
    columns_total: int
    columns_drifted: int
    drift_share: float
    share_threshold: float
    dataset_drift: bool
    options: dict[str, Any]
    checked_at: datetime
    actor: str
    features: list[FeatureRead] | None = None


# ----------------------------------------------------------------------------- post-deployment checks


class PostDeployConfigIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    windows: dict[str, Annotated[float, Field(ge=0, le=24 * 90)]] | None = Field(
        default=None, description="check window per stage in hours, e.g. {'pilot': 24, 'production': 72}"
    )
    severity: Severity | None = Field(default=None, description="firing alerts of at least this severity: at risk")
    auto_rollback: bool | None = Field(default=None, description="roll the release back automatically when at risk")
    version: int | None = None
    reason: str | None = Field(default=None, max_length=2000)


class PostDeployConfigRead(BaseModel):
    system: str
    windows: dict[str, float]
    severity: str
    auto_rollback: bool
    version: int
    updated_at: datetime | None
    updated_by: str | None


class WatchRead(BaseModel):
    id: int
    system: str
    release_version: int
    stage: str
    status: str
    severity: str
    auto_rollback: bool
    started_at: datetime
    ends_at: datetime
    at_risk_at: datetime | None
    alerts: list[int]
    rollback_result: str | None
    version: int
