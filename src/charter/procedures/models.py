"""Procedure templates (versioned, immutable once installed), their runs, and each run's items."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from charter.kit.db import Base, Versioned


class SopTemplate(Base):
    """One version of a procedure template. Never changed after install: a new version is a new row."""

    __tablename__ = "sop_templates"
    __table_args__ = (UniqueConstraint("key", "version", name="key_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int]
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    applies_to: Mapped[Any] = mapped_column(JSON)
    severities: Mapped[Any] = mapped_column(JSON, default=list)
    definition: Mapped[Any] = mapped_column(JSON)  # the validated TemplateSpec as JSON
    content_sha256: Mapped[str] = mapped_column(String(64))
    origin: Mapped[str] = mapped_column(String(20))  # shipped | installed
    filename: Mapped[str] = mapped_column(String(255), default="")
    installed_at: Mapped[datetime]
    installed_by: Mapped[str] = mapped_column(String(200))


class ProcedureRun(Versioned, Base):
    """A template version being worked through for one subject (a system, a release, an incident)."""

    __tablename__ = "procedure_runs"
    __table_args__ = (Index("ix_procedure_runs_subject", "subject_type", "subject_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("sop_templates.id"), index=True)
    template_key: Mapped[str] = mapped_column(String(64), index=True)
    template_version: Mapped[int]
    title: Mapped[str] = mapped_column(String(300))
    subject_type: Mapped[str] = mapped_column(String(20))
    subject_id: Mapped[int]
    status: Mapped[str] = mapped_column(String(20), index=True, default="in_progress")
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    started_by: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    submitted_at: Mapped[datetime | None]
    submitted_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decision_reason: Mapped[str] = mapped_column(Text, default="")


class RunItem(Versioned, Base):
    """One item of a run: its answer, who gave it, an optional approved exception, and task fields."""

    __tablename__ = "procedure_run_items"
    __table_args__ = (UniqueConstraint("run_id", "item_id", name="run_item"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("procedure_runs.id", ondelete="CASCADE"), index=True)
    section_id: Mapped[str] = mapped_column(String(64))
    item_id: Mapped[str] = mapped_column(String(64))
    position: Mapped[int]
    required: Mapped[bool] = mapped_column(Boolean)
    evidence_required: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(20), default="open")
    response: Mapped[str] = mapped_column(Text, default="")
    justification: Mapped[str] = mapped_column(Text, default="")
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    answered_by: Mapped[str | None] = mapped_column(String(200))
    answered_at: Mapped[datetime | None]
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    due_at: Mapped[datetime | None]
    exception_justification: Mapped[str | None] = mapped_column(Text)
    exception_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    exception_by: Mapped[str | None] = mapped_column(String(200))
    exception_at: Mapped[datetime | None]


class RunItemEvidence(Base):
    """Evidence attached to a run item (one piece of evidence may back several items)."""

    __tablename__ = "procedure_item_evidence"

    run_item_id: Mapped[int] = mapped_column(ForeignKey("procedure_run_items.id", ondelete="CASCADE"), primary_key=True)
    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence.id"), primary_key=True, index=True)
    linked_by: Mapped[str] = mapped_column(String(200))
    linked_at: Mapped[datetime]
