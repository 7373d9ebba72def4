"""Pure incident rules: the lifecycle table, severities, escalation steps, regulatory deadlines, durations.

No database, no web. The vocabularies come from data (content/incidents/*.yaml, loaded by catalog.py)
into the frozen types below; the functions here decide.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final, Literal, get_args

from charter.kit.errors import IllegalTransition, ValidationFailed

# Fixed status categories (statuses themselves are data): Charter's logic keys on these.
StatusCategory = Literal["open", "active", "mitigated", "resolved", "closed", "declined", "duplicate"]
CATEGORIES: Final[tuple[StatusCategory, ...]] = get_args(StatusCategory)
LIVE: Final = frozenset({"open", "active", "mitigated"})  # the incident is ongoing
FINISHED: Final = frozenset({"resolved", "closed", "declined", "duplicate"})
ENDED: Final = frozenset({"closed", "declined", "duplicate"})  # no more work: no ack, no escalation
Source = Literal["manual", "alert", "user_feedback", "api"]
SOURCES: Final[tuple[Source, ...]] = get_args(Source)

POSTMORTEM_TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    "draft": frozenset({"in_review"}),
    "in_review": frozenset({"approved", "draft"}),  # approve, or send back with changes requested
    "approved": frozenset(),
}
ActionStatus = Literal["open", "in_progress", "done", "wont_do"]
ACTION_STATUSES: Final[tuple[ActionStatus, ...]] = get_args(ActionStatus)
ACTION_TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    "open": frozenset({"in_progress", "done", "wont_do"}),
    "in_progress": frozenset({"open", "done", "wont_do"}),
    "done": frozenset({"open"}),
    "wont_do": frozenset({"open"}),
}
ACTION_OPEN: Final = frozenset({"open", "in_progress"})
LinkType = Literal["risk", "procedure", "procedure_run", "release"]
ACTION_LINK_TYPES: Final[tuple[LinkType, ...]] = get_args(LinkType)


# ----------------------------------------------------------------------------- data types


@dataclass(frozen=True)
class Severity:
    key: str
    label: str
    rank: int
    colour: str
    description: str
    playbook: str | None
    postmortem_required: bool


@dataclass(frozen=True)
class Status:
    key: str
    label: str
    category: str
    next: tuple[str, ...]
    reopen: tuple[str, ...] = ()


@dataclass(frozen=True)
class Lifecycle:
    initial: str
    statuses: dict[str, Status]

    @property
    def transitions(self) -> dict[str, frozenset[str]]:
        """TRANSITIONS: {status: every status it may move to (ordinary moves and reopens)}."""
        return {k: frozenset(s.next) | frozenset(s.reopen) for k, s in self.statuses.items()}

    def category(self, status: str) -> str:
        return self.statuses[status].category

    def is_reopen(self, current: str, target: str) -> bool:
        return target in self.statuses[current].reopen

    def check(self, incident_key: str, current: str, target: str) -> None:
        if target not in self.statuses:
            raise ValidationFailed(
                f"unknown status '{target}'; statuses are: {', '.join(self.statuses)}",
                errors=[{"loc": ["to"], "msg": "unknown status"}],
            )
        allowed = self.transitions.get(current, frozenset())
        if target not in allowed:
            raise IllegalTransition(f"incident {incident_key}", current, target, allowed)

    def first_of(self, category: str, current: str | None = None) -> str:
        """The status of a category to move to (preferring one allowed from `current`)."""
        candidates = [s.key for s in self.statuses.values() if s.category == category]
        if current is not None:
            allowed = self.transitions.get(current, frozenset())
            preferred = [c for c in candidates if c in allowed]
            if preferred:
                return preferred[0]
        return candidates[0]


@dataclass(frozen=True)
class Target:
    """Whom an escalation level pages: a user, everyone with an access role, or the system owner."""

    user: str | None = None
    role: str | None = None
    system_owner: bool = False

    def describe(self) -> str:
        if self.user:
            return f"user {self.user}"
        if self.role:
            return f"role {self.role}"
        return "system owner"


@dataclass(frozen=True)
class Policy:
    key: str
    name: str
    levels: tuple[tuple[Target, ...], ...]
    ack_timeouts: dict[str, timedelta | None]
    repeat: int = 0
    systems: tuple[str, ...] = ()

    def ack_timeout(self, severity: str) -> timedelta | None:
        return self.ack_timeouts.get(severity)


@dataclass(frozen=True)
class RegulatoryCase:
    key: str
    label: str
    article: str
    days: int


@dataclass(frozen=True)
class Reminder:
    fraction: float | None = None
    hours_before: float | None = None


@dataclass(frozen=True)
class Regulatory:
    reference: str
    cases: dict[str, RegulatoryCase]
    reminders: tuple[Reminder, ...]
    notify_roles: tuple[str, ...] = ()

    def case(self, key: str) -> RegulatoryCase:
        if key not in self.cases:
            raise ValidationFailed(
                f"unknown serious-incident case '{key}'; cases are: "
                + "; ".join(f"{c.key} ({c.days} days, {c.article})" for c in self.cases.values()),
                errors=[{"loc": ["case"], "msg": "unknown case"}],
            )
        return self.cases[key]


@dataclass(frozen=True)
class Catalog:
    severities: dict[str, Severity]
    lifecycle: Lifecycle
    harm_categories: dict[str, str]
    roles: dict[str, str]
    policies: dict[str, Policy]
    default_policy: str
    ack_link_hours: float
    regulatory: Regulatory
    alert_severity_map: dict[str, str] = field(default_factory=dict)
    alert_harm_category: str | None = None

    def severity(self, key: str) -> Severity:
        if key not in self.severities:
            allowed = ", ".join(s.key for s in sorted(self.severities.values(), key=lambda s: s.rank))
            raise ValidationFailed(
                f"unknown severity '{key}'; allowed: {allowed}",
                errors=[{"loc": ["severity"], "msg": "unknown severity"}],
            )
        return self.severities[key]

    def harm(self, key: str | None) -> str | None:
        if key is not None and key not in self.harm_categories:
            raise ValidationFailed(
                f"unknown harm category '{key}'; allowed: {', '.join(self.harm_categories)}",
                errors=[{"loc": ["harm_category"], "msg": "unknown harm category"}],
            )
        return key

    def role(self, key: str) -> str:
        if key not in self.roles:
            raise ValidationFailed(
                f"unknown incident role '{key}'; roles are: {', '.join(self.roles)}",
                errors=[{"loc": ["role"], "msg": "unknown role"}],
            )
        return key


# ----------------------------------------------------------------------------- small rules


def incident_key(year: int, seq: int) -> str:
    return f"INC-{year}-{seq:04d}"


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_duration(text: str | int | float | None) -> timedelta | None:
    """'30s', '15m', '1h', '2d' (or a number of minutes) → timedelta; None stays None."""
    if text is None:
        return None
    if isinstance(text, int | float):
        return timedelta(minutes=float(text))
    m = _DURATION.match(text)
    if not m:
        raise ValueError(f"not a duration: {text!r} (use e.g. 30s, 15m, 1h, 2d)")
    return timedelta(**{_UNITS[m.group(2)]: float(m.group(1))})


def format_duration(delta: timedelta | None) -> str | None:
    if delta is None:
        return None
    seconds = int(delta.total_seconds())
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days}d"] if days else []
    if hours:
        parts.append(f"{hours}h")
    if minutes:
        parts.append(f"{minutes}m")
    if secs and not days:
        parts.append(f"{secs}s")
    return sign + (" ".join(parts) or "0s")


def next_escalation_step(policy: Policy, round_: int, level: int) -> tuple[int, int] | None:
    """The (round, level) after (round, level); None when the chain (and its repeats) is exhausted.

    Level 0 means nobody was paged yet: the next step is level 1 of round 1.
    """
    n = len(policy.levels)
    if n == 0:
        return None
    if level < n:
        return round_, level + 1
    if round_ <= policy.repeat:
        return round_ + 1, 1
    return None


def report_deadline(aware_at: datetime, case: RegulatoryCase) -> datetime:
    """Art. 73: the report is due `days` after the organisation became aware."""
    return aware_at + timedelta(days=case.days)


def reminder_times(aware_at: datetime, deadline: datetime, reminders: tuple[Reminder, ...]) -> list[datetime]:
    """When to escalate before the deadline, in order (reminders past the deadline or before awareness dropped)."""
    window = deadline - aware_at
    times: set[datetime] = set()
    for r in reminders:
        if r.fraction is not None:
            times.add(aware_at + window * r.fraction)
        if r.hours_before is not None:
            times.add(deadline - timedelta(hours=r.hours_before))
    return sorted(t for t in times if aware_at <= t < deadline)


def durations(
    started_at: datetime,
    detected_at: datetime,
    acknowledged_at: datetime | None,
    mitigated_at: datetime | None,
    resolved_at: datetime | None,
) -> dict[str, timedelta | None]:
    """Detection metrics. TTD: impact start → detected; TTA: detected → acknowledged;
    TTM: impact start → first mitigation; TTR: impact start → first resolution."""

    def span(a: datetime | None, b: datetime | None) -> timedelta | None:
        return None if a is None or b is None else max(b - a, timedelta(0))

    return {
        "time_to_detect": span(started_at, detected_at),
        "time_to_acknowledge": span(detected_at, acknowledged_at),
        "time_to_mitigate": span(started_at, mitigated_at),
        "time_to_resolve": span(started_at, resolved_at),
    }


def check_postmortem_transition(incident_key: str, current: str, target: str) -> None:
    allowed = POSTMORTEM_TRANSITIONS.get(current, frozenset())
    if target not in allowed:
        raise IllegalTransition(f"postmortem of {incident_key}", current, target, allowed)


def check_action_transition(item_id: int, current: str, target: str) -> None:
    if target not in ACTION_TRANSITIONS:
        raise ValidationFailed(f"unknown action item status '{target}'; statuses are: {', '.join(ACTION_STATUSES)}")
    allowed = ACTION_TRANSITIONS[current]
    if target not in allowed:
        raise IllegalTransition(f"action item {item_id}", current, target, allowed)
