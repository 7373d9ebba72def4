"""Gate policies (immutable versions) and stored gate evaluations (evidence)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column

from charter.db import Base


class Policy(Base):
    """One version of a named gate policy. Saving a policy adds a version; versions never change."""

    __tablename__ = "gate_policies"
    __table_args__ = (UniqueConstraint("name", "version", name="uq_gate_policies_name_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int]
    stage: Mapped[str] = mapped_column(String(20), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    rules: Mapped[Any] = mapped_column(JSON)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    source: Mapped[str] = mapped_column(String(20), default="user")  # shipped | user
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))


class GateEvaluation(Base):
    """Evidence: the policies (name + version) a gate used, the facts it saw and each rule's result."""

    __tablename__ = "gate_evaluations"
    __table_args__ = (Index("ix_gate_evaluations_release_stage", "release_id", "stage"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("ai_systems.id"))
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"))
    stage: Mapped[str] = mapped_column(String(20))
    purpose: Mapped[str] = mapped_column(String(20))  # check | promotion
    policies: Mapped[Any] = mapped_column(JSON)
    facts: Mapped[Any] = mapped_column(JSON)
    results: Mapped[Any] = mapped_column(JSON)
    passed: Mapped[bool] = mapped_column(Boolean)
    digest: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(200))
    evaluated_at: Mapped[datetime]


def _refuse_update(_mapper: Any, _connection: Any, target: Any) -> None:
    raise RuntimeError(f"{type(target).__name__} rows are immutable: save a new version instead")


event.listen(Policy, "before_update", _refuse_update)
event.listen(GateEvaluation, "before_update", _refuse_update)
