"""Monitoring tables: metric points and roll-ups, ingested batches, alert rules and alerts, drift profiles and
results, post-deployment watches."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from charter.kit.db import Base, Versioned

BigId = BigInteger().with_variant(Integer, "sqlite")  # SQLite only auto-increments INTEGER PRIMARY KEY


class MetricSeries(Base):
    """One row per series (system, metric, label set), like a Prometheus series id: points and roll-ups refer
    to it by id (small rows, small indexes); it also keeps the latest point for `last` rules and listings."""

    __tablename__ = "metric_series"
    __table_args__ = (UniqueConstraint("system_id", "name", "labels", name="uq_metric_series_system_name_labels"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("ai_systems.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    labels: Mapped[str] = mapped_column(String(2500), default="{}")  # canonical JSON, see rules.labels_key
    first_ts: Mapped[datetime]  # of the oldest raw point kept
    last_ts: Mapped[datetime]
    last_value: Mapped[float] = mapped_column(Float)
    points: Mapped[int] = mapped_column(BigInteger)  # received in total


class MetricPoint(Base):
    """One raw measurement. Written in bulk (driver-level executemany), kept for the raw retention period."""

    __tablename__ = "metric_points"
    __table_args__ = (Index("ix_metric_points_series_ts", "series_id", "ts"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("metric_series.id", ondelete="CASCADE"))
    ts: Mapped[datetime]
    value: Mapped[float] = mapped_column(Float)


class MetricRollup(Base):
    """Per-minute ('1m') and per-hour ('1h') count/sum/min/max of a series, updated on ingest."""

    __tablename__ = "metric_rollups"
    __table_args__ = (
        UniqueConstraint("series_id", "resolution", "bucket", name="uq_metric_rollups_series_resolution_bucket"),
        Index("ix_metric_rollups_resolution_bucket", "resolution", "bucket"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("metric_series.id", ondelete="CASCADE"))
    resolution: Mapped[str] = mapped_column(String(4))
    bucket: Mapped[datetime]
    count: Mapped[int] = mapped_column(BigInteger)
    sum: Mapped[float] = mapped_column(Float)
    min: Mapped[float] = mapped_column(Float)
    max: Mapped[float] = mapped_column(Float)


class MetricBatch(Base):
    """An accepted batch, by the client's batch id: a retry with the same id gets the same answer."""

    __tablename__ = "metric_batches"
    __table_args__ = (
        UniqueConstraint("system_id", "batch_id", name="uq_metric_batches_system_batch"),
        Index("ix_metric_batches_received_at", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("ai_systems.id", ondelete="CASCADE"))
    batch_id: Mapped[str] = mapped_column(String(100))
    digest: Mapped[str] = mapped_column(String(64))
    points: Mapped[int]
    actor: Mapped[str] = mapped_column(String(200))
    received_at: Mapped[datetime]
    response: Mapped[Any] = mapped_column(JSON)


class MonitorState(Base):
    """Per monitored system: when data arrived, and whether the shipped alert rules were installed."""

    __tablename__ = "monitor_states"

    system_id: Mapped[int] = mapped_column(ForeignKey("ai_systems.id", ondelete="CASCADE"), primary_key=True)
    first_data_at: Mapped[datetime | None]
    last_data_at: Mapped[datetime | None]
    points_total: Mapped[int] = mapped_column(BigInteger, default=0)
    defaults_applied_at: Mapped[datetime | None]


class AlertRule(Versioned, Base):
    __tablename__ = "alert_rules"
    __table_args__ = (UniqueConstraint("system_id", "key", name="uq_alert_rules_system_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("ai_systems.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(20))  # threshold | anomaly | no_data | drift
    metric: Mapped[str | None] = mapped_column(String(100))
    aggregation: Mapped[str] = mapped_column(String(10), default="last")
    window_seconds: Mapped[int]
    comparison: Mapped[str | None] = mapped_column(String(2))
    threshold: Mapped[float | None] = mapped_column(Float)
    for_seconds: Mapped[int] = mapped_column(default=0)
    severity: Mapped[str] = mapped_column(String(20))
    labels: Mapped[Any] = mapped_column(JSON, default=dict)
    params: Mapped[Any] = mapped_column(JSON, default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    source: Mapped[str] = mapped_column(String(20), default="user")  # shipped | user
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(200))


class Alert(Base):
    """One alert episode of a rule for one label set. `active_key` is set while pending or firing, so the
    database itself refuses a second active alert for the same (rule, label set)."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_system_state", "system_id", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("alert_rules.id", ondelete="CASCADE"), index=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("ai_systems.id", ondelete="CASCADE"))
    rule_key: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(20))
    labels: Mapped[str] = mapped_column(String(2500), default="{}")
    active_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    state: Mapped[str] = mapped_column(String(20))
    value: Mapped[float | None] = mapped_column(Float)
    summary: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[datetime]
    fired_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    last_evaluated_at: Mapped[datetime]


class DriftProfile(Versioned, Base):
    """A reference profile of a system (optionally for one release), from a dataset or built by the SDK."""

    __tablename__ = "drift_profiles"
    __table_args__ = (UniqueConstraint("system_id", "name", "release", name="uq_drift_profiles_system_name_release"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("ai_systems.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    release: Mapped[str] = mapped_column(String(64), default="")  # '' = any release
    source: Mapped[str] = mapped_column(String(20))  # csv | jsonl | parquet | sdk
    rows: Mapped[int] = mapped_column(BigInteger)
    columns: Mapped[Any] = mapped_column(JSON)  # [{name, type}]
    profile: Mapped[Any] = mapped_column(JSON)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(200))


class DriftWindow(Base):
    """A current-window profile binned on a reference: windows merge into the current side of a check."""

    __tablename__ = "drift_windows"
    __table_args__ = (Index("ix_drift_windows_profile_start", "profile_id", "window_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("ai_systems.id", ondelete="CASCADE"))
    profile_id: Mapped[int] = mapped_column(ForeignKey("drift_profiles.id", ondelete="CASCADE"))
    profile_version: Mapped[int]
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    rows: Mapped[int] = mapped_column(BigInteger)
    profile: Mapped[Any] = mapped_column(JSON)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))


class DriftCheck(Base):
    __tablename__ = "drift_checks"
    __table_args__ = (Index("ix_drift_checks_system_checked_at", "system_id", "checked_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("ai_systems.id", ondelete="CASCADE"))
    profile_id: Mapped[int] = mapped_column(ForeignKey("drift_profiles.id", ondelete="CASCADE"))
    profile_name: Mapped[str] = mapped_column(String(64))
    profile_version: Mapped[int]
    release: Mapped[str] = mapped_column(String(64), default="")
    source: Mapped[str] = mapped_column(String(20))  # csv | jsonl | parquet | sdk | windows
    window_start: Mapped[datetime | None]
    window_end: Mapped[datetime | None]
    rows_reference: Mapped[int] = mapped_column(BigInteger)
    rows_current: Mapped[int] = mapped_column(BigInteger)
    columns_total: Mapped[int]
    columns_drifted: Mapped[int]
    drift_share: Mapped[float] = mapped_column(Float)
    share_threshold: Mapped[float] = mapped_column(Float)
    dataset_drift: Mapped[bool] = mapped_column(Boolean)
    options: Mapped[Any] = mapped_column(JSON)
    checked_at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(200))


class DriftFeatureResult(Base):
    __tablename__ = "drift_feature_results"
    __table_args__ = (Index("ix_drift_feature_results_column", "system_id", "column", "check_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    check_id: Mapped[int] = mapped_column(ForeignKey("drift_checks.id", ondelete="CASCADE"), index=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("ai_systems.id", ondelete="CASCADE"))
    column: Mapped[str] = mapped_column(String(200))
    column_type: Mapped[str] = mapped_column(String(20))
    method: Mapped[str] = mapped_column(String(20))
    value: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    drifted: Mapped[bool] = mapped_column(Boolean)
    stats: Mapped[Any] = mapped_column(JSON)


class PostDeployConfig(Versioned, Base):
    """A system's post-deployment check policy: window per stage, the alert severity that puts a release at
    risk, and whether Charter rolls back automatically."""

    __tablename__ = "post_deploy_configs"

    system_id: Mapped[int] = mapped_column(ForeignKey("ai_systems.id", ondelete="CASCADE"), primary_key=True)
    windows: Mapped[Any] = mapped_column(JSON)  # {stage: hours}
    severity: Mapped[str] = mapped_column(String(20))
    auto_rollback: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(200))


class PostDeployWatch(Versioned, Base):
    """The check window after one promotion: watching -> passed, or at_risk (-> rolled_back)."""

    __tablename__ = "post_deploy_watches"
    __table_args__ = (Index("ix_post_deploy_watches_system_status", "system_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id", ondelete="CASCADE"), unique=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("ai_systems.id", ondelete="CASCADE"))
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id", ondelete="CASCADE"))
    release_version: Mapped[int]
    stage: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    severity: Mapped[str] = mapped_column(String(20))
    auto_rollback: Mapped[bool] = mapped_column(Boolean)
    started_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    at_risk_at: Mapped[datetime | None]
    alerts: Mapped[Any] = mapped_column(JSON, default=list)  # ids of the alerts that put it at risk
    rollback_result: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime]
