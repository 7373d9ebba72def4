"""Gate policies: immutable versions of named rule sets, one per stage. (Their evaluations are evidence of
the release gate: charter.releases.models.GateEvaluation.)"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column

from charter.kit.db import Base


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


def _refuse_update(_mapper: Any, _connection: Any, target: Any) -> None:
    raise RuntimeError(f"{type(target).__name__} rows are immutable: save a new version instead")


event.listen(Policy, "before_update", _refuse_update)
