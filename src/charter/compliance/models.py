"""Compliance tables: organisation catalogs, edited control mappings, applicability choices, coverage history.

The shipped catalogs and mappings are content files (content/frameworks/); these tables hold only what an
organisation adds or changes, so a new Charter version's catalogs arrive without a data migration.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from charter.kit.db import Base, Versioned


class CustomCatalog(Versioned, Base):
    """An organisation's framework, kept as the YAML it was uploaded as (same format as the shipped ones)."""

    __tablename__ = "compliance_catalogs"

    id: Mapped[int] = mapped_column(primary_key=True)
    framework_id: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    framework_version: Mapped[str] = mapped_column(String(100))
    content: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    installed_by: Mapped[str] = mapped_column(String(200))
    installed_at: Mapped[datetime]


class ControlMappingEdit(Versioned, Base):
    """A control → requirement link an organisation added, changed or removed (`relation = removed`)."""

    __tablename__ = "compliance_mappings"
    __table_args__ = (UniqueConstraint("control", "requirement", name="uq_compliance_mappings_control_req"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    control: Mapped[str] = mapped_column(String(200))
    requirement: Mapped[str] = mapped_column(String(200), index=True)
    relation: Mapped[str] = mapped_column(String(20))  # satisfies | partially | removed
    reason: Mapped[str] = mapped_column(Text)
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime]


class Applicability(Versioned, Base):
    """Whether a framework (requirement_id '') or one requirement applies to a system, and why."""

    __tablename__ = "compliance_applicability"
    __table_args__ = (
        UniqueConstraint("system_id", "framework_id", "requirement_id", name="uq_compliance_applicability"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("ai_systems.id", ondelete="CASCADE"), index=True)
    framework_id: Mapped[str] = mapped_column(String(80))
    requirement_id: Mapped[str] = mapped_column(String(100), default="")
    applicable: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(Text)
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime]


class CoverageSnapshot(Base):
    """Coverage of one framework for one system at one time (coverage over time); written by `record`."""

    __tablename__ = "compliance_snapshots"

    id: Mapped[int] = mapped_column(primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("ai_systems.id", ondelete="CASCADE"), index=True)
    framework_id: Mapped[str] = mapped_column(String(80))
    taken_at: Mapped[datetime]
    met: Mapped[int] = mapped_column(Integer)
    partial: Mapped[int] = mapped_column(Integer)
    missing: Mapped[int] = mapped_column(Integer)
    not_applicable: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(String(64))


class ControlEvidence(Base):
    """Evidence attached by hand to an organisation's own control (`custom:<name>`) for one system."""

    __tablename__ = "compliance_control_evidence"

    system_id: Mapped[int] = mapped_column(ForeignKey("ai_systems.id", ondelete="CASCADE"), primary_key=True)
    control: Mapped[str] = mapped_column(String(200), primary_key=True)
    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence.id"), primary_key=True, index=True)
    attached_by: Mapped[str] = mapped_column(String(200))
    attached_at: Mapped[datetime]
