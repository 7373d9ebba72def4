"""Loads and validates the incident content (content/incidents/*.yaml) into rules.Catalog.

Loaded once per process (at app start-up, when the incidents router is imported); a broken file
stops start-up with a message naming the file and the field.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from charter.incidents.rules import (
    CATEGORIES,
    FINISHED,
    Catalog,
    Lifecycle,
    Policy,
    Regulatory,
    RegulatoryCase,
    Reminder,
    Severity,
    Status,
    Target,
    parse_duration,
)
from charter.kit.errors import ValidationFailed

CONTENT_DIR = Path(__file__).resolve().parent.parent / "content" / "incidents"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SeverityDoc(_Strict):
    key: str = Field(pattern=r"^[A-Z][A-Z0-9_]{0,19}$")
    label: str
    rank: int = Field(ge=1)
    colour: str = Field(pattern=r"^#[0-9a-fA-F]{6}$")
    description: str = ""
    playbook: str | None = None
    postmortem_required: bool = False


class StatusDoc(_Strict):
    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,29}$")
    label: str
    category: str
    next: list[str] = Field(default_factory=list)
    reopen: list[str] = Field(default_factory=list)

    @field_validator("category")
    @classmethod
    def _category(cls, v: str) -> str:
        if v not in CATEGORIES:
            raise ValueError(f"category must be one of {', '.join(CATEGORIES)}")
        return v


class LifecycleDoc(_Strict):
    initial: str
    statuses: list[StatusDoc]

    @model_validator(mode="after")
    def _consistent(self) -> LifecycleDoc:
        keys = [s.key for s in self.statuses]
        if len(set(keys)) != len(keys):
            raise ValueError("status keys must be unique")
        by_key = {s.key: s for s in self.statuses}
        if self.initial not in by_key or by_key[self.initial].category != "open":
            raise ValueError("initial must name a status of category 'open'")
        missing = set(CATEGORIES) - {s.category for s in self.statuses}
        if missing:
            raise ValueError(f"every category needs a status; missing: {', '.join(sorted(missing))}")
        for s in self.statuses:
            for target in [*s.next, *s.reopen]:
                if target not in by_key:
                    raise ValueError(f"status '{s.key}' moves to unknown status '{target}'")
            if s.reopen and s.category not in FINISHED:
                raise ValueError(f"status '{s.key}': reopen moves only from finished categories")
        return self


class TargetDoc(_Strict):
    user: str | None = None
    role: str | None = None
    system_owner: bool = False

    @model_validator(mode="after")
    def _one(self) -> TargetDoc:
        if sum([self.user is not None, self.role is not None, self.system_owner]) != 1:
            raise ValueError("a target is exactly one of {user: NAME}, {role: ROLE}, {system_owner: true}")
        return self


class LevelDoc(_Strict):
    notify: list[TargetDoc] = Field(min_length=1)


class PolicyDoc(_Strict):
    key: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    name: str
    systems: list[str] = Field(default_factory=list)
    ack_timeouts: dict[str, str | None]
    repeat: int = Field(default=0, ge=0, le=10)
    levels: list[LevelDoc] = Field(min_length=1, max_length=10)

    @field_validator("ack_timeouts")
    @classmethod
    def _durations(cls, v: dict[str, str | None]) -> dict[str, str | None]:
        for sev, text in v.items():
            delta = parse_duration(text)
            if delta is not None and delta.total_seconds() < 1:
                raise ValueError(f"ack timeout of {sev} must be at least 1s")
        return v


class EscalationDoc(_Strict):
    default_policy: str
    ack_link_hours: float = Field(gt=0, le=24 * 14)
    policies: list[PolicyDoc]


class CaseDoc(_Strict):
    key: str
    label: str
    article: str
    days: int = Field(ge=1)


class ReminderDoc(_Strict):
    fraction: float | None = Field(default=None, gt=0, lt=1)
    hours_before: float | None = Field(default=None, gt=0)


class RoleRef(_Strict):
    role: str


class SeriousDoc(_Strict):
    reference: str
    cases: list[CaseDoc] = Field(min_length=1)
    reminders: list[ReminderDoc] = Field(default_factory=list)
    notify: list[RoleRef] = Field(default_factory=list)


class NamedDoc(BaseModel):
    key: str
    label: str


def policy_from_doc(doc: PolicyDoc) -> Policy:
    return Policy(
        key=doc.key,
        name=doc.name,
        systems=tuple(doc.systems),
        ack_timeouts={k: parse_duration(v) for k, v in doc.ack_timeouts.items()},
        repeat=doc.repeat,
        levels=tuple(
            tuple(Target(user=t.user, role=t.role, system_owner=t.system_owner) for t in level.notify)
            for level in doc.levels
        ),
    )


def parse_policy(data: Any, severities: dict[str, Severity]) -> Policy:
    """Validate an escalation policy document (API/CLI install); 422 with the field that is wrong."""
    try:
        doc = PolicyDoc.model_validate(data)
    except (ValidationError, ValueError) as exc:
        errors = exc.errors() if isinstance(exc, ValidationError) else []
        first = errors[0] if errors else {"loc": (), "msg": str(exc)}
        where = ".".join(str(p) for p in first["loc"]) or "policy"
        raise ValidationFailed(
            f"escalation policy: {where}: {first['msg']}",
            errors=[{"loc": list(e["loc"]), "msg": e["msg"]} for e in errors],
        ) from None
    unknown = set(doc.ack_timeouts) - set(severities)
    if unknown:
        raise ValidationFailed(
            f"escalation policy: ack_timeouts names unknown severities {', '.join(sorted(unknown))}; "
            f"severities are: {', '.join(severities)}"
        )
    return policy_from_doc(doc)


def _read(name: str, directory: Path) -> Any:
    path = directory / name
    with path.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def build(directory: Path = CONTENT_DIR) -> Catalog:
    """Read and validate every incident content file; raise ValueError naming the file on any problem."""
    current = ""
    try:
        current = "severities.yaml"
        sev_docs = [SeverityDoc.model_validate(s) for s in _read(current, directory)["severities"]]
        severities = {s.key: Severity(**s.model_dump()) for s in sev_docs}
        if len(severities) != len(sev_docs) or len({s.rank for s in sev_docs}) != len(sev_docs):
            raise ValueError("severity keys and ranks must be unique")

        current = "lifecycle.yaml"
        life = LifecycleDoc.model_validate(_read(current, directory))
        lifecycle = Lifecycle(
            initial=life.initial,
            statuses={
                s.key: Status(key=s.key, label=s.label, category=s.category, next=tuple(s.next), reopen=tuple(s.reopen))
                for s in life.statuses
            },
        )

        current = "taxonomy.yaml"
        tax = _read(current, directory)
        from charter.risk.content import shipped_categories

        harms = {c.key: c.label for c in shipped_categories()}
        roles = {d.key: d.label for d in (NamedDoc.model_validate(r) for r in tax["roles"])}
        if "commander" not in roles:
            raise ValueError("roles must include 'commander'")

        current = "escalation.yaml"
        esc = EscalationDoc.model_validate(_read(current, directory))
        policies = {p.key: parse_policy(p.model_dump(), severities) for p in esc.policies}
        if esc.default_policy not in policies:
            raise ValueError(f"default_policy '{esc.default_policy}' is not one of the policies")

        current = "regulatory.yaml"
        reg = SeriousDoc.model_validate(_read(current, directory)["serious_incident"])
        regulatory = Regulatory(
            reference=reg.reference,
            cases={c.key: RegulatoryCase(**c.model_dump()) for c in reg.cases},
            reminders=tuple(Reminder(**r.model_dump()) for r in reg.reminders),
            notify_roles=tuple(r.role for r in reg.notify),
        )

        current = "alerts.yaml"
        alerts = _read(current, directory) or {}
        mapping = {str(k).lower(): str(v) for k, v in (alerts.get("open_incident_for") or {}).items()}
        for alert_sev, sev in mapping.items():
            if sev not in severities:
                raise ValueError(f"open_incident_for.{alert_sev}: unknown severity '{sev}'")
        harm = alerts.get("harm_category")
        if harm is not None and harm not in harms:
            raise ValueError(f"harm_category: unknown '{harm}'")
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        )
        raise ValueError(f"content/incidents/{current}: {problems}") from exc
    except (KeyError, TypeError, ValueError, OSError) as exc:
        raise ValueError(f"content/incidents/{current}: {exc}") from exc
    return Catalog(
        severities=severities,
        lifecycle=lifecycle,
        harm_categories=harms,
        roles=roles,
        policies=policies,
        default_policy=esc.default_policy,
        ack_link_hours=esc.ack_link_hours,
        regulatory=regulatory,
        alert_severity_map=mapping,
        alert_harm_category=harm,
    )


@lru_cache(maxsize=1)
def load() -> Catalog:
    """The shipped catalog, validated once per process."""
    return build()


def transitions() -> dict[str, frozenset[str]]:
    """TRANSITIONS of the shipped lifecycle: {status: allowed next statuses}."""
    return load().lifecycle.transitions
