"""Evaluation tables: datasets and their immutable versions, targets, runs and their items, blinded expert
benchmarks with raters and ratings, judge calibrations, continuous-validation schedules."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from charter.kit.db import Base, Versioned


class EvalDataset(Base):
    """A named task set of one AI system; its content lives in immutable versions."""

    __tablename__ = "eval_datasets"
    __table_args__ = (UniqueConstraint("system_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("ai_systems.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))


class EvalDatasetVersion(Base):
    """One immutable version: the samples (canonical JSON) and their content hash. Never updated."""

    __tablename__ = "eval_dataset_versions"
    __table_args__ = (UniqueConstraint("dataset_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("eval_datasets.id"), index=True)
    version: Mapped[int]
    content_hash: Mapped[str] = mapped_column(String(80))
    samples: Mapped[Any] = mapped_column(JSON)
    sample_count: Mapped[int]
    source_format: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))


class EvalTarget(Versioned, Base):
    """How Charter calls a system under test (or a judge). Credentials only by reference (env:/file:)."""

    __tablename__ = "eval_targets"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    config: Mapped[Any] = mapped_column(JSON)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime]


class EvalRun(Versioned, Base):
    """One run of a pinned dataset version against a target, scored by the listed scorers."""

    __tablename__ = "eval_runs"
    __table_args__ = (Index("ix_eval_runs_system_status", "system_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("ai_systems.id"), index=True)
    dataset_version_id: Mapped[int] = mapped_column(ForeignKey("eval_dataset_versions.id"), index=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("eval_targets.id"), index=True)
    release_id: Mapped[int | None] = mapped_column(ForeignKey("releases.id"))
    schedule_id: Mapped[int | None] = mapped_column(ForeignKey("eval_schedules.id"), index=True)
    scorers: Mapped[Any] = mapped_column(JSON)
    settings: Mapped[Any] = mapped_column(JSON)
    pass_threshold: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(20), index=True)
    planned: Mapped[int]
    completed: Mapped[int] = mapped_column(default=0)
    errored: Mapped[int] = mapped_column(default=0)
    summary: Mapped[Any | None] = mapped_column(JSON)
    passed: Mapped[bool | None] = mapped_column(Boolean)
    lease_until: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class EvalRunItem(Base):
    """The result of one (sample, epoch) of a run: recorded once, in its own short transaction."""

    __tablename__ = "eval_run_items"
    __table_args__ = (UniqueConstraint("run_id", "sample_id", "epoch"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("eval_runs.id"), index=True)
    sample_id: Mapped[str] = mapped_column(String(200))
    epoch: Mapped[int]
    status: Mapped[str] = mapped_column(String(20))
    output: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int]
    latency_ms: Mapped[float | None] = mapped_column(Float)
    tokens_in: Mapped[int | None]
    tokens_out: Mapped[int | None]
    cost: Mapped[str | None] = mapped_column(String(40))
    scores: Mapped[Any] = mapped_column(JSON)
    finished_at: Mapped[datetime]


class EvalBenchmark(Versioned, Base):
    """A blinded pairwise comparison of a run's answers with the expert's reference answers."""

    __tablename__ = "eval_benchmarks"

    id: Mapped[int] = mapped_column(primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("ai_systems.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("eval_runs.id"))
    dataset_version_id: Mapped[int] = mapped_column(ForeignKey("eval_dataset_versions.id"))
    expert: Mapped[str] = mapped_column(String(200))
    criteria: Mapped[Any] = mapped_column(JSON)
    min_raters: Mapped[int]
    pass_threshold: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))


class EvalBenchmarkTask(Base):
    """One task as raters see it: two answers in an order drawn when the benchmark was created."""

    __tablename__ = "eval_benchmark_tasks"
    __table_args__ = (UniqueConstraint("benchmark_id", "task_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    benchmark_id: Mapped[int] = mapped_column(ForeignKey("eval_benchmarks.id"), index=True)
    task_id: Mapped[str] = mapped_column(String(200))
    position: Mapped[int]
    prompt: Mapped[str] = mapped_column(Text)
    ai_first: Mapped[bool] = mapped_column(Boolean)
    ai_answer: Mapped[str] = mapped_column(Text)
    human_answer: Mapped[str] = mapped_column(Text)


class EvalBenchmarkRater(Base):
    __tablename__ = "eval_benchmark_raters"
    __table_args__ = (UniqueConstraint("benchmark_id", "username"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    benchmark_id: Mapped[int] = mapped_column(ForeignKey("eval_benchmarks.id"), index=True)
    username: Mapped[str] = mapped_column(String(200))
    assigned_at: Mapped[datetime]


class EvalRating(Base):
    """One rater's verdict on one task (and criterion). Never changed."""

    __tablename__ = "eval_ratings"
    __table_args__ = (UniqueConstraint("benchmark_id", "task_id", "rater", "criterion"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    benchmark_id: Mapped[int] = mapped_column(ForeignKey("eval_benchmarks.id"), index=True)
    task_id: Mapped[str] = mapped_column(String(200))
    rater: Mapped[str] = mapped_column(String(200))
    criterion: Mapped[str] = mapped_column(String(60), default="")
    verdict: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]


class EvalCalibration(Base):
    """A judge's agreement with human labels on the same items, stored with the judge (a target)."""

    __tablename__ = "eval_calibrations"

    id: Mapped[int] = mapped_column(primary_key=True)
    judge_id: Mapped[int] = mapped_column(ForeignKey("eval_targets.id"), index=True)
    scale: Mapped[str] = mapped_column(String(20))
    n: Mapped[int]
    stats: Mapped[Any] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))


class EvalSchedule(Versioned, Base):
    """Continuous validation: re-run a pinned dataset against the release deployed at a stage, every interval."""

    __tablename__ = "eval_schedules"
    __table_args__ = (UniqueConstraint("system_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("ai_systems.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    dataset_version_id: Mapped[int] = mapped_column(ForeignKey("eval_dataset_versions.id"))
    target_id: Mapped[int] = mapped_column(ForeignKey("eval_targets.id"))
    stage: Mapped[str] = mapped_column(String(20))
    scorer: Mapped[Any] = mapped_column(JSON)
    interval_seconds: Mapped[int]
    max_drop: Mapped[float] = mapped_column(Float)
    baseline: Mapped[float | None] = mapped_column(Float)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    next_run_at: Mapped[datetime] = mapped_column(index=True)
    last_run_id: Mapped[int | None]
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))
