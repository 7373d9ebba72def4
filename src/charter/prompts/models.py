"""Prompt registry tables. Versions and label events are append-only; a prompt row and its label pointers move
under optimistic concurrency (`version`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column

from charter.kit.db import Base, Versioned


class Prompt(Versioned, Base):
    """A named prompt of a system. `latest` is the number of its newest version (0: none yet)."""

    __tablename__ = "prompts"
    __table_args__ = (UniqueConstraint("system_id", "name", name="uq_prompts_system_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("ai_systems.id"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    type: Mapped[str] = mapped_column(String(10))
    tags: Mapped[Any] = mapped_column(JSON, default=list)
    latest: Mapped[int] = mapped_column(default=0)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class PromptVersion(Base):
    """One immutable version: content (type, template or messages, config), its hash, author and message."""

    __tablename__ = "prompt_versions"
    __table_args__ = (
        UniqueConstraint("prompt_id", "number", name="uq_prompt_versions_prompt_number"),
        Index("ix_prompt_versions_prompt_hash", "prompt_id", "hash"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id"))
    number: Mapped[int]
    hash: Mapped[str] = mapped_column(String(80))
    content: Mapped[Any] = mapped_column(JSON)
    variables: Mapped[Any] = mapped_column(JSON, default=list)
    includes: Mapped[Any] = mapped_column(JSON, default=list)
    message: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str] = mapped_column(String(200))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]


class PromptLabel(Versioned, Base):
    """A deployment pointer: label → version of one prompt."""

    __tablename__ = "prompt_labels"

    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id"), primary_key=True)
    label: Mapped[str] = mapped_column(String(64), primary_key=True)
    number: Mapped[int]
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime]


class PromptLabelEvent(Base):
    """Append-only history of every label move: who, when, from → to, why, and through which release."""

    __tablename__ = "prompt_label_events"
    __table_args__ = (Index("ix_prompt_label_events_prompt_label", "prompt_id", "label", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id"))
    label: Mapped[str] = mapped_column(String(64))
    from_number: Mapped[int | None]
    to_number: Mapped[int | None]
    kind: Mapped[str] = mapped_column(String(20))  # direct | release | rollback | withdraw
    actor: Mapped[str] = mapped_column(String(200))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime]
    reason: Mapped[str | None] = mapped_column(Text)
    release_id: Mapped[int | None] = mapped_column(ForeignKey("releases.id"))
    release_version: Mapped[int | None]
    deployment_id: Mapped[int | None] = mapped_column(ForeignKey("deployments.id"))
    gate_evaluation_id: Mapped[int | None]
    approvals: Mapped[Any] = mapped_column(JSON, default=list)
    evaluation: Mapped[Any] = mapped_column(JSON, nullable=True)  # the gate's evaluation facts when it moved


class PromptSettings(Versioned, Base):
    """Which labels of a system's prompts are protected (move only through a release). No row: `production`."""

    __tablename__ = "prompt_settings"

    system_id: Mapped[int] = mapped_column(ForeignKey("ai_systems.id"), primary_key=True)
    protected_labels: Mapped[Any] = mapped_column(JSON)
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime]


def _refuse_update(_mapper: Any, _connection: Any, target: Any) -> None:
    raise RuntimeError(f"{type(target).__name__} is immutable: a change is a new version or a new event")


event.listen(PromptVersion, "before_update", _refuse_update)
event.listen(PromptLabelEvent, "before_update", _refuse_update)
