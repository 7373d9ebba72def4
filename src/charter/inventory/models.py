from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from charter.kit.db import Base, Versioned


class AISystem(Versioned, Base):
    __tablename__ = "ai_systems"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    problem_statement: Mapped[str] = mapped_column(Text, default="")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    business_unit: Mapped[str] = mapped_column(String(200), default="")
    deployment_type: Mapped[str] = mapped_column(String(30))
    vendor_name: Mapped[str | None] = mapped_column(String(200))
    data_categories: Mapped[Any] = mapped_column(JSON, default=list)
    users_affected: Mapped[int | None]
    stage: Mapped[str] = mapped_column(String(20), index=True, default="proposed")
    risk_tier: Mapped[str] = mapped_column(String(20), index=True, default="unclassified")
    risk_tier_reason: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[Any] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    stage_changed_at: Mapped[datetime]


class SystemTag(Base):
    """Tag index for filtering (tags are also kept on the system as a list)."""

    __tablename__ = "ai_system_tags"

    system_id: Mapped[int] = mapped_column(ForeignKey("ai_systems.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
