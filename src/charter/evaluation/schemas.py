"""Evaluation API shapes: XCreate / XRead."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from charter.evaluation.dataset_files import FORMATS
from charter.evaluation.rules import Scale

Format = Literal["csv", "jsonl", "inspect_csv", "inspect_json", "inspect_jsonl", "langfuse_json", "langfuse_jsonl"]
assert set(FORMATS) == set(Format.__args__)  # type: ignore[attr-defined]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DatasetImport(_In):
    system: str
    name: str
    format: Format
    content: str = Field(description="the file's text")
    description: str = ""
    input_key: str | None = None
    expected_key: str | None = None
    include_archived: bool = False


class DatasetVersionRead(BaseModel):
    system: str
    name: str
    version: int
    content_hash: str
    samples: int
    source_format: str
    created_at: datetime
    created_by: str
    new: bool = True


class DatasetRead(BaseModel):
    system: str
    name: str
    description: str
    versions: list[DatasetVersionRead]


class TargetCreate(_In):
    name: str
    config: dict[str, Any]
    description: str = ""


class TargetRead(BaseModel):
    name: str
    kind: str
    config: dict[str, Any]
    description: str
    version: int
    created_at: datetime
    created_by: str
    calibration: dict[str, Any] | None = None


class TargetTestRead(BaseModel):
    name: str
    reachable: bool
    detail: str
    latency_ms: float | None


class RunCreate(_In):
    system: str
    dataset: str = Field(description="NAME or NAME@VERSION (default: the newest version)")
    target: str
    scorers: list[dict[str, Any] | str] = Field(default_factory=lambda: list[dict[str, Any] | str](["exact"]))
    concurrency: int = Field(default=8, ge=1, le=256)
    timeout_s: float = Field(default=60.0, gt=0, le=3600)
    max_attempts: int = Field(default=4, ge=1, le=20)
    epochs: int = Field(default=1, ge=1, le=20)
    pass_threshold: float | None = Field(default=None, ge=0, le=1)
    release: int | None = Field(default=None, description="the release version under test")
    wait: bool = Field(default=True, description="run before answering (false: queue and run in the background)")


class RunRead(BaseModel):
    id: int
    system: str
    dataset: str
    dataset_version: int
    dataset_hash: str
    target: str
    release: int | None
    schedule: str | None
    scorers: list[dict[str, Any]]
    status: str
    planned: int
    completed: int
    errored: int
    summary: dict[str, Any] | None
    pass_threshold: float | None
    passed: bool | None
    error: str | None
    created_at: datetime
    created_by: str
    started_at: datetime | None
    finished_at: datetime | None
    version: int


class RunItemRead(BaseModel):
    sample_id: str
    epoch: int
    status: str
    input: Any
    expected: list[str]
    reference: str | None
    output: str | None
    error: str | None
    attempts: int
    latency_ms: float | None
    tokens_in: int | None
    tokens_out: int | None
    cost: str | None
    scores: dict[str, Any]


class RunDetail(RunRead):
    items: list[RunItemRead]


class AgreementIn(_In):
    human: list[Any]
    judge: list[Any]
    scale: Scale


class CalibrationCreate(AgreementIn):
    source: str = Field(default="", max_length=200, description="where the labels came from")


class CalibrationRead(BaseModel):
    id: int
    judge: str
    scale: str
    n: int
    stats: dict[str, Any]
    source: str
    created_at: datetime
    created_by: str


class BenchmarkCreate(_In):
    system: str
    name: str
    run: int
    expert: str = Field(description="the username of the expert who wrote the reference answers")
    raters: list[str] = Field(min_length=1)
    min_raters: int = Field(default=2, ge=1, le=20)
    pass_threshold: float = Field(default=0.5, ge=0, le=1, description="on the lower bound of win-or-tie")


class RatingIn(_In):
    task_id: str
    choice: Literal["A", "B", "tie"]


class RatingsImport(_In):
    content: str = Field(description="CSV task_id,rater,verdict")


class ScheduleCreate(_In):
    system: str
    name: str
    dataset: str
    target: str
    stage: Literal["sandbox", "pilot", "production"] = "production"
    scorer: dict[str, Any] | str = "exact"
    every: str = Field(default="24h", description="interval: seconds or 30m, 24h, 7d")
    max_drop: float = Field(default=0.05, ge=0, le=1)
    baseline: float | None = Field(default=None, ge=0, le=1, description="default: the first run's pass rate")


class ScheduleRead(BaseModel):
    name: str
    system: str
    dataset: str
    dataset_version: int
    target: str
    stage: str
    scorer: dict[str, Any]
    interval_seconds: int
    max_drop: float
    baseline: float | None
    enabled: bool
    next_run_at: datetime
    last_run_id: int | None
    version: int
