"""Red-team tables: runs (own probe runs and imported scanner reports), their attempts, and findings.

An attempt is stored once per system under its dedup key (scanner attempt id + content hash, or Charter's own
content-addressed attempt id), so re-importing a report adds nothing. A finding is one probe of one system,
across every run and import: its status, severity, attack success rate and first/last seen releases move as
runs arrive; its risk link is set when it reaches the configured severity.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from charter.kit.db import Base, Versioned


class RedteamRun(Base):
    """One probe run against a target, or one imported report (source garak | pyrit | csv)."""

    __tablename__ = "redteam_runs"
    __table_args__ = (Index("ix_redteam_runs_system_started", "system_id", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("ai_systems.id"), index=True)
    release_id: Mapped[int | None] = mapped_column(ForeignKey("releases.id"), index=True)
    source: Mapped[str] = mapped_column(String(10))  # run | garak | pyrit | csv
    status: Mapped[str] = mapped_column(String(12))  # running | completed | failed
    suites: Mapped[Any] = mapped_column(JSON, default=list)  # suite keys covered (own runs) or []
    target: Mapped[str | None] = mapped_column(String(200))
    file_name: Mapped[str | None] = mapped_column(String(255))
    file_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    config: Mapped[Any] = mapped_column(JSON, default=dict)  # attempts per probe, concurrency, seed, suite hashes
    results: Mapped[Any] = mapped_column(JSON, default=list)  # per probe x detector rows (ProbeDetectorResult)
    classification: Mapped[Any] = mapped_column(JSON, default=dict)  # probe -> OWASP 2025 ids
    warnings: Mapped[Any] = mapped_column(JSON, default=list)
    attempts_total: Mapped[int] = mapped_column(default=0)
    attempts_new: Mapped[int] = mapped_column(default=0)
    errors: Mapped[int] = mapped_column(default=0)
    hits: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    created_by: Mapped[str] = mapped_column(String(200))


class RedteamAttempt(Base):
    """One prompt of one probe with its outputs and detector scores; never changed once stored."""

    __tablename__ = "redteam_attempts"
    __table_args__ = (
        UniqueConstraint("system_id", "dedup_key", name="uq_redteam_attempts_system_key"),
        Index("ix_redteam_attempts_run_probe", "run_id", "probe"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("redteam_runs.id"))
    system_id: Mapped[int] = mapped_column(ForeignKey("ai_systems.id"))
    dedup_key: Mapped[str] = mapped_column(String(255))
    content_hash: Mapped[str] = mapped_column(String(64))
    probe: Mapped[str] = mapped_column(String(255))
    prompt: Mapped[str] = mapped_column(Text)
    converters: Mapped[Any] = mapped_column(JSON, default=list)
    outputs: Mapped[Any] = mapped_column(JSON)  # list of text | null
    scores: Mapped[Any] = mapped_column(JSON)  # detector -> list of score | null, one per output
    hit: Mapped[bool] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class Finding(Versioned, Base):
    """A probe that succeeded against a system: one row per (system, probe), across runs and imports."""

    __tablename__ = "redteam_findings"
    __table_args__ = (
        UniqueConstraint("system_id", "probe", name="uq_redteam_findings_system_probe"),
        Index("ix_redteam_findings_system_status", "system_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("ai_systems.id"))
    probe: Mapped[str] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(String(300))
    owasp_2025: Mapped[Any] = mapped_column(JSON, default=list)
    atlas: Mapped[Any] = mapped_column(JSON, default=list)
    impact: Mapped[str] = mapped_column(String(10))
    severity: Mapped[str] = mapped_column(String(10), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    attack_success_rate: Mapped[float] = mapped_column(Float)
    asr_low: Mapped[float] = mapped_column(Float)
    asr_high: Mapped[float] = mapped_column(Float)
    evaluated: Mapped[int]
    hits: Mapped[int]
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]  # the last run that hit
    last_checked_at: Mapped[datetime]  # the last run of this probe, hit or not
    first_seen_release_id: Mapped[int | None] = mapped_column(ForeignKey("releases.id"))
    last_seen_release_id: Mapped[int | None] = mapped_column(ForeignKey("releases.id"))
    first_run_id: Mapped[int] = mapped_column(ForeignKey("redteam_runs.id"))
    last_run_id: Mapped[int] = mapped_column(ForeignKey("redteam_runs.id"))
    fixed_by_run_id: Mapped[int | None] = mapped_column(ForeignKey("redteam_runs.id"))
    evidence: Mapped[Any] = mapped_column(JSON, default=list)  # content hashes of hitting attempts (newest 50)
    risk_id: Mapped[int | None] = mapped_column(ForeignKey("risks.id"))
    reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime]
