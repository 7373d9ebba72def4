"""Telemetry tables: the GenAI spans received over OTLP/HTTP (content only as the system's policy allows) and one
row per export request (what `charter telemetry status` reports)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from charter.kit.db import Base


class TelemetrySpan(Base):
    """One mapped GenAI span. Unique per system, trace and span: an exporter's retry stores nothing twice."""

    __tablename__ = "telemetry_spans"
    __table_args__ = (
        UniqueConstraint("system_id", "trace_id", "span_id", name="uq_telemetry_spans_system_trace_span"),
        Index("ix_telemetry_spans_pending", "rolled_up", "end_at"),
        Index("ix_telemetry_spans_system_end", "system_id", "end_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("ai_systems.id"))
    trace_id: Mapped[str] = mapped_column(String(32))
    span_id: Mapped[str] = mapped_column(String(16))
    parent_span_id: Mapped[str | None] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(300))
    dialect: Mapped[str] = mapped_column(String(20))
    operation: Mapped[str] = mapped_column(String(100))
    provider: Mapped[str | None] = mapped_column(String(100))
    model: Mapped[str | None] = mapped_column(String(200))
    prompt: Mapped[str | None] = mapped_column(String(200))  # name@version
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    latency_ms: Mapped[float] = mapped_column(Float)
    ttft_ms: Mapped[float | None] = mapped_column(Float)
    input_tokens: Mapped[int | None]
    output_tokens: Mapped[int | None]
    is_error: Mapped[bool] = mapped_column(Boolean)
    error_type: Mapped[str | None] = mapped_column(String(200))
    finish_reasons: Mapped[Any] = mapped_column(JSON, default=list)
    evaluations: Mapped[Any] = mapped_column(JSON, default=list)  # [{name, score_value, score_label}]
    content: Mapped[Any | None] = mapped_column(JSON)  # {input, output} messages after the PII policy, or null
    content_policy: Mapped[str] = mapped_column(String(10))  # keep | redact | drop | none (nothing was sent)
    pii_counts: Mapped[Any] = mapped_column(JSON, default=dict)  # entity type -> count found in the content
    rolled_up: Mapped[bool] = mapped_column(Boolean, default=False)
    received_at: Mapped[datetime]


class TelemetryRequest(Base):
    """One OTLP export request: how many spans came, were stored, skipped (not GenAI) or rejected, and why."""

    __tablename__ = "telemetry_requests"
    __table_args__ = (Index("ix_telemetry_requests_at", "received_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    actor: Mapped[str] = mapped_column(String(200))
    systems: Mapped[Any] = mapped_column(JSON, default=list)  # system keys of the stored spans
    received: Mapped[int]
    stored: Mapped[int]
    duplicates: Mapped[int]
    skipped: Mapped[int]
    rejected: Mapped[int]
    message: Mapped[str] = mapped_column(Text, default="")  # the partial-success message, if any
    received_at: Mapped[datetime]
