"""Incident request and response models. Severities, statuses, roles and harm categories are data
(content/incidents/), so they are plain strings here and checked against the catalog in the service."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from charter.incidents.rules import ActionStatus, LinkType, Source


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# ----------------------------------------------------------------------------- incidents


class IncidentCreate(_In):
    title: str = Field(min_length=3, max_length=300)
    description: str = Field(default="", max_length=50_000)
    system: str = Field(description="the AI system's key")
    severity: str = Field(description="LOW, MEDIUM, HIGH or CRITICAL (see GET /incidents/catalog)")
    harm_category: str | None = Field(default=None, description="one of the eight risk categories, e.g. safety")
    affected_users: int | None = Field(default=None, ge=0)
    source: Source | None = Field(default=None, description="default: api for machine tokens, else manual")
    started_at: datetime | None = Field(default=None, description="when impact began; default: now")
    commander: str | None = Field(default=None, description="username; default: you")
    escalation_policy: str | None = Field(default=None, description="policy key; default: by system, then default")


class IncidentUpdate(_In):
    version: int = Field(description="the version you read; a stale version is refused with 409")
    title: str | None = Field(default=None, min_length=3, max_length=300)
    description: str | None = Field(default=None, max_length=50_000)
    harm_category: str | None = None
    affected_users: int | None = Field(default=None, ge=0)
    started_at: datetime | None = None
    reason: str | None = Field(default=None, max_length=2_000)


class TransitionIn(_In):
    to: str = Field(description="the status to move to (see allowed_transitions)")
    version: int
    reason: str | None = Field(default=None, max_length=5_000, description="required to reopen or decline")
    duplicate_of: str | None = Field(default=None, description="incident key; required for 'duplicate'")


class SeverityIn(_In):
    severity: str
    version: int
    reason: str | None = Field(default=None, max_length=5_000)


class RoleIn(_In):
    role: str = Field(description="commander, technical_lead, communications, scribe, liaison")
    username: str


class UpdateIn(_In):
    body: str = Field(min_length=1, max_length=20_000)


class UpdateEdit(_In):
    body: str = Field(min_length=1, max_length=20_000)
    version: int


class SeriousIn(_In):
    case: str = Field(default="standard", description="standard, widespread_or_critical_infrastructure or death")
    aware_at: datetime | None = Field(
        default=None, description="when the organisation became aware (required: the deadline runs from it)"
    )
    reason: str | None = Field(default=None, max_length=5_000)


class ReportedIn(_In):
    reported_at: datetime | None = Field(default=None, description="when the report was filed; default: now")
    reference: str | None = Field(default=None, max_length=200, description="the authority's reference")


class RollbackIn(_In):
    stage: str | None = Field(default=None, description="stage to roll back; default: the incident's stage")
    reason: str = Field(min_length=3, max_length=5_000)


class PolicyInstall(_In):
    definition: dict[str, Any] = Field(description="an escalation policy, as in content/incidents/escalation.yaml")


class EscalationState(BaseModel):
    policy: str
    round: int
    level: int
    levels: int
    next_escalation_at: datetime | None
    exhausted: bool
    ack_timeout: str | None


class RegulatoryState(BaseModel):
    serious: bool
    case: str | None = None
    case_label: str | None = None
    article: str | None = None
    days: int | None = None
    aware_at: datetime | None = None
    deadline: datetime | None = None
    time_left_seconds: int | None = None
    time_left: str | None = None
    overdue: bool = False
    reported_at: datetime | None = None
    reference: str | None = None
    next_reminder_at: datetime | None = None


class LinkRead(BaseModel):
    kind: str
    ref: str
    label: str
    data: dict[str, Any]
    created_at: datetime


class RoleRead(BaseModel):
    role: str
    username: str
    assumed_at: datetime
    renounced_at: datetime | None


class IncidentRead(BaseModel):
    key: str
    title: str
    description: str
    system: str
    system_stage: str | None
    release_id: int | None
    release: str | None
    severity: str
    severity_rank: int
    severity_colour: str
    harm_category: str | None
    reporter: str
    affected_users: int | None
    source: str
    status: str
    status_label: str
    status_category: str
    allowed_transitions: list[str]
    duplicate_of: str | None
    started_at: datetime
    detected_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    mitigated_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    commander: str | None
    roles: dict[str, str]
    escalation: EscalationState
    regulatory: RegulatoryState
    postmortem_status: str | None
    postmortem_required: bool
    created_at: datetime
    updated_at: datetime
    version: int


class IncidentDetail(IncidentRead):
    role_history: list[RoleRead]
    links: list[LinkRead]
    durations: dict[str, int | None]


class TimelineRead(BaseModel):
    id: int
    at: datetime
    kind: str
    event: str | None
    actor: str
    author: str | None
    body: str
    data: dict[str, Any]
    edited_at: datetime | None
    version: int


class AckResult(BaseModel):
    key: str
    acknowledged_at: datetime
    acknowledged_by: str | None
    already: bool = Field(description="true when it had been acknowledged before this request")


# ----------------------------------------------------------------------------- postmortems


class PostmortemWrite(_In):
    version: int | None = Field(default=None, description="the version you read (not needed to create)")
    summary: str | None = Field(default=None, max_length=50_000)
    impact_users: int | None = Field(default=None, ge=0)
    impact_duration_minutes: int | None = Field(default=None, ge=0)
    impact_harm: str | None = Field(default=None, max_length=20_000)
    detection: str | None = Field(default=None, max_length=20_000, description="how it was detected")
    root_cause: str | None = Field(default=None, max_length=20_000)
    contributing_factors: list[str] | None = Field(default=None, max_length=50)
    five_whys: list[str] | None = Field(default=None, max_length=10)
    went_well: list[str] | None = Field(default=None, max_length=50)
    went_badly: list[str] | None = Field(default=None, max_length=50)


class ReviewIn(_In):
    version: int
    note: str | None = Field(default=None, max_length=5_000, description="required when sending back")


class ActionCreate(_In):
    title: str = Field(min_length=3, max_length=300)
    description: str = Field(default="", max_length=20_000)
    owner: str = Field(description="username")
    due_date: date
    link_type: LinkType | None = None
    link_ref: str | None = Field(
        default=None, max_length=200, description="risk key, procedure template key, procedure run id or release id"
    )


class ActionUpdate(_In):
    version: int
    title: str | None = Field(default=None, min_length=3, max_length=300)
    description: str | None = Field(default=None, max_length=20_000)
    owner: str | None = None
    due_date: date | None = None
    status: ActionStatus | None = None
    link_type: LinkType | None = None
    link_ref: str | None = Field(default=None, max_length=200)


class ActionRead(BaseModel):
    id: int
    incident: str
    title: str
    description: str
    owner: str
    due_date: date
    status: str
    overdue: bool
    link_type: str | None
    link_ref: str | None
    completed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    version: int


class PostmortemRead(BaseModel):
    incident: str
    status: str
    summary: str
    impact_users: int | None
    impact_duration_minutes: int | None
    impact_harm: str
    detection: str
    durations: dict[str, int | None] = Field(description="seconds: time to detect, acknowledge, mitigate, resolve")
    root_cause: str
    contributing_factors: list[str]
    five_whys: list[str]
    went_well: list[str]
    went_badly: list[str]
    action_items: list[ActionRead]
    author: str | None
    submitted_at: datetime | None
    approved_by: str | None
    approved_at: datetime | None
    review_note: str | None
    allowed_transitions: list[str]
    created_at: datetime
    updated_at: datetime
    version: int


# ----------------------------------------------------------------------------- metrics


class MetricsRead(BaseModel):
    since: datetime | None
    until: datetime | None
    incidents: int
    mtta_seconds: float | None
    mttr_seconds: float | None
    mtta: str | None
    mttr: str | None
    by_system: dict[str, int]
    by_severity: dict[str, int]
    by_system_severity: dict[str, dict[str, int]]
    open_by_severity: dict[str, int]
    overdue_action_items: list[ActionRead]
