"""Incident tables: incidents, their roles, status history, timeline, escalations, links, postmortems."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from charter.kit.db import Base, Versioned


class Incident(Versioned, Base):
    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(20), unique=True)  # INC-2026-0001
    year: Mapped[int]
    seq: Mapped[int]
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    system_id: Mapped[int] = mapped_column(ForeignKey("ai_systems.id"), index=True)
    system_stage: Mapped[str | None] = mapped_column(String(20))  # the system's stage when it started
    release_id: Mapped[int | None] = mapped_column(ForeignKey("releases.id"), index=True)  # deployed when it started
    release_label: Mapped[str | None] = mapped_column(String(200))
    severity: Mapped[str] = mapped_column(String(20), index=True)
    harm_category: Mapped[str | None] = mapped_column(String(30))
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reporter: Mapped[str] = mapped_column(String(200))  # the ledger actor that opened it
    affected_users: Mapped[int | None]
    source: Mapped[str] = mapped_column(String(20))  # manual | alert | user_feedback | api
    status: Mapped[str] = mapped_column(String(30))
    status_category: Mapped[str] = mapped_column(String(20), index=True)
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))
    started_at: Mapped[datetime]  # impact began (reporter's estimate; default: when opened)
    detected_at: Mapped[datetime]  # opened in Charter
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    mitigated_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    reopen_count: Mapped[int] = mapped_column(default=0)
    # escalation (timers live here so they survive restarts)
    escalation_policy: Mapped[str] = mapped_column(String(64))
    escalation_round: Mapped[int] = mapped_column(default=1)
    escalation_level: Mapped[int] = mapped_column(default=0)  # 0: nobody paged yet
    last_escalated_at: Mapped[datetime | None]
    next_escalation_at: Mapped[datetime | None] = mapped_column(index=True)
    escalation_exhausted: Mapped[bool] = mapped_column(Boolean, default=False)
    dedup_key: Mapped[str | None] = mapped_column(String(200), index=True)  # e.g. alert-rule:17
    # EU AI Act Art. 73 reporting clock
    serious: Mapped[bool] = mapped_column(Boolean, default=False)
    serious_case: Mapped[str | None] = mapped_column(String(60))
    aware_at: Mapped[datetime | None]
    report_deadline: Mapped[datetime | None]
    reported_at: Mapped[datetime | None]
    report_reference: Mapped[str | None] = mapped_column(String(200))
    reminders_sent: Mapped[Any] = mapped_column(JSON, default=list)
    next_reminder_at: Mapped[datetime | None] = mapped_column(index=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("year", "seq", name="uq_incidents_year_seq"),)


class IncidentSequence(Base):
    """The per-year key counter (INC-<year>-<n>), row-locked while a key is taken."""

    __tablename__ = "incident_sequences"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(default=0)


class IncidentRole(Base):
    """Who held an incident role (commander, communications, ...) from when to when."""

    __tablename__ = "incident_roles"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(40))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    assumed_at: Mapped[datetime]
    renounced_at: Mapped[datetime | None]
    assigned_by: Mapped[str] = mapped_column(String(200))


class IncidentStatusChange(Base):
    """Every status transition, timestamped."""

    __tablename__ = "incident_status_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(30))
    to_status: Mapped[str] = mapped_column(String(30))
    to_category: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)
    reopen: Mapped[bool] = mapped_column(Boolean, default=False)


class TimelineEntry(Versioned, Base):
    """One line of the incident timeline: a human update (editable by its author) or an automatic event."""

    __tablename__ = "incident_timeline"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(10))  # update | event
    event: Mapped[str | None] = mapped_column(String(40))  # status, severity, role, alert, rollback, ...
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    data: Mapped[Any] = mapped_column(JSON, default=dict)
    edited_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_incident_timeline_incident_at", "incident_id", "at"),)


class IncidentEscalation(Base):
    """One escalation step (who was paged, when). Unique per (incident, round, level): never paged twice."""

    __tablename__ = "incident_escalations"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    round: Mapped[int]
    level: Mapped[int]
    at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(20))  # opened | timeout
    recipients: Mapped[Any] = mapped_column(JSON, default=list)  # usernames

    __table_args__ = (UniqueConstraint("incident_id", "round", "level", name="uq_incident_escalations_step"),)


class IncidentLink(Base):
    """A link from an incident to something elsewhere: an alert, a procedure run, a rollback, a release."""

    __tablename__ = "incident_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(30))  # alert | procedure_run | rollback | release
    ref: Mapped[str] = mapped_column(String(200))
    label: Mapped[str] = mapped_column(String(300), default="")
    data: Mapped[Any] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("incident_id", "kind", "ref", name="uq_incident_links_ref"),
        Index("ix_incident_links_kind_ref", "kind", "ref"),
    )


class EscalationPolicy(Versioned, Base):
    """An installed escalation policy (overrides the shipped one with the same key)."""

    __tablename__ = "incident_escalation_policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    definition: Mapped[Any] = mapped_column(JSON)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Postmortem(Versioned, Base):
    __tablename__ = "incident_postmortems"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), unique=True)
    status: Mapped[str] = mapped_column(String(20), default="draft")  # draft | in_review | approved
    summary: Mapped[str] = mapped_column(Text, default="")
    impact_users: Mapped[int | None]
    impact_duration_minutes: Mapped[int | None]
    impact_harm: Mapped[str] = mapped_column(Text, default="")
    detection: Mapped[str] = mapped_column(Text, default="")  # how it was detected
    root_cause: Mapped[str] = mapped_column(Text, default="")
    contributing_factors: Mapped[Any] = mapped_column(JSON, default=list)
    five_whys: Mapped[Any] = mapped_column(JSON, default=list)
    went_well: Mapped[Any] = mapped_column(JSON, default=list)
    went_badly: Mapped[Any] = mapped_column(JSON, default=list)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    submitted_at: Mapped[datetime | None]
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime | None]
    review_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ActionItem(Versioned, Base):
    """An improvement from a postmortem: owner, due date, status, and what it changes (risk, procedure, release)."""

    __tablename__ = "incident_action_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    postmortem_id: Mapped[int] = mapped_column(ForeignKey("incident_postmortems.id", ondelete="CASCADE"), index=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    due_date: Mapped[date]
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)
    link_type: Mapped[str | None] = mapped_column(String(20))  # risk | procedure | release
    link_ref: Mapped[str | None] = mapped_column(String(200))
    completed_at: Mapped[datetime | None]
    overdue_notified_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
