from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from charter.kit.db import Base, Versioned


class RiskMatrix(Base):
    """An installed risk matrix (name + version). Never changed once installed: scores stay reproducible."""

    __tablename__ = "risk_matrices"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int]
    title: Mapped[str] = mapped_column(String(200))
    content: Mapped[Any] = mapped_column(JSON)  # MatrixSpec as JSON
    content_hash: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    shipped: Mapped[bool] = mapped_column(Boolean, default=False)
    installed_at: Mapped[datetime]
    installed_by: Mapped[str] = mapped_column(String(200))


class RiskCategory(Base):
    """An organisation's own risk category (the shipped ones live in content/risk_categories.yaml)."""

    __tablename__ = "risk_categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(40), unique=True)
    label: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    examples: Mapped[Any] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))


class Risk(Versioned, Base):
    __tablename__ = "risks"
    __table_args__ = (Index("ix_risks_system_status", "system_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(unique=True)
    key: Mapped[str] = mapped_column(String(20), unique=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("ai_systems.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(40), index=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    # The matrix the current scores were computed with (null until first assessed).
    matrix_name: Mapped[str | None] = mapped_column(String(64))
    matrix_version: Mapped[int | None]
    inherent_likelihood: Mapped[int | None]
    inherent_impact: Mapped[int | None]
    inherent_score: Mapped[int | None]
    inherent_level: Mapped[str | None] = mapped_column(String(20))
    residual_likelihood: Mapped[int | None]
    residual_impact: Mapped[int | None]
    residual_score: Mapped[int | None]
    residual_level: Mapped[str | None] = mapped_column(String(20))
    # Effective level/score (rules.effective): what filters, sorting and gates use. score 0: unassessed.
    level: Mapped[str | None] = mapped_column(String(20), index=True)
    score: Mapped[int] = mapped_column(default=0)
    next_review_at: Mapped[datetime] = mapped_column(index=True)
    accepted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    accepted_at: Mapped[datetime | None]
    accepted_until: Mapped[datetime | None]
    acceptance_justification: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    assessed_at: Mapped[datetime | None]
    status_changed_at: Mapped[datetime]


class RiskAssessment(Base):
    """Every scoring of a risk, with the matrix name and version it was scored with (append-only)."""

    __tablename__ = "risk_assessments"

    id: Mapped[int] = mapped_column(primary_key=True)
    risk_id: Mapped[int] = mapped_column(ForeignKey("risks.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # inherent | residual
    likelihood: Mapped[int]
    impact: Mapped[int]
    score: Mapped[int]
    level: Mapped[str] = mapped_column(String(20))
    matrix_name: Mapped[str] = mapped_column(String(64))
    matrix_version: Mapped[int]
    rationale: Mapped[str] = mapped_column(Text, default="")
    assessed_at: Mapped[datetime]
    assessed_by: Mapped[str] = mapped_column(String(200))


class RiskMitigation(Versioned, Base):
    __tablename__ = "risk_mitigations"
    __table_args__ = (UniqueConstraint("risk_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    risk_id: Mapped[int] = mapped_column(ForeignKey("risks.id", ondelete="CASCADE"), index=True)
    number: Mapped[int]
    description: Mapped[str] = mapped_column(Text)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    due_date: Mapped[date | None]
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
