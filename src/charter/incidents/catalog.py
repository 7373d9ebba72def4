"""Loads and validates the incident content (content/incidents/*.yaml) into rules.Catalog.

Loaded once per process (at app start-up, when the incidents router is imported); a broken file
stops start-up with a message naming the file and the field.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

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
from charter.kit.content import Loc, content_path, load_model, read_text
from charter.kit.errors import ValidationFailed
from charter.risk.content import shipped_categories

CONTENT_DIR = content_path("incidents")
_M = TypeVar("_M", bound=BaseModel)


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


class SeveritiesFile(_Strict):
    severities: list[SeverityDoc] = Field(min_length=1)


class TaxonomyFile(BaseModel):
    roles: list[NamedDoc] = Field(min_length=1)


class RegulatoryFile(_Strict):
    serious_incident: SeriousDoc


class AlertsFile(_Strict):
    open_incident_for: dict[str, str] = Field(default_factory=dict)
    harm_category: str | None = None


def _file(directory: Path, name: str, model: type[_M], semantic: Any = None) -> _M:
    path = directory / name
    return load_model(read_text(path), f"content/incidents/{name}", model, semantic)


def build(directory: Path = CONTENT_DIR) -> Catalog:
    """Read and validate every incident content file; a problem is a ContentInvalid naming file, line and field."""
    sev_docs = _file(
        directory,
        "severities.yaml",
        SeveritiesFile,
        lambda f: [
            (("severities",), "severity keys and ranks must be unique")
            for _ in [0]
            if len({s.key for s in f.severities}) != len(f.severities)
            or len({s.rank for s in f.severities}) != len(f.severities)
        ],
    ).severities
    severities = {s.key: Severity(**s.model_dump()) for s in sev_docs}
    life = _file(directory, "lifecycle.yaml", LifecycleDoc)
    lifecycle = Lifecycle(
        initial=life.initial,
        statuses={
            s.key: Status(key=s.key, label=s.label, category=s.category, next=tuple(s.next), reopen=tuple(s.reopen))
            for s in life.statuses
        },
    )
    harms = {c.key: c.label for c in shipped_categories()}
    tax = _file(
        directory,
        "taxonomy.yaml",
        TaxonomyFile,
        lambda f: (
            [] if any(r.key == "commander" for r in f.roles) else [(("roles",), "roles must include 'commander'")]
        ),
    )
    roles = {d.key: d.label for d in tax.roles}

    def escalation_problems(doc: EscalationDoc) -> list[tuple[Loc, str]]:
        found: list[tuple[Loc, str]] = []
        keys = [p.key for p in doc.policies]
        if doc.default_policy not in keys:
            found.append((("default_policy",), f"default_policy '{doc.default_policy}' is not one of the policies"))
        for i, policy in enumerate(doc.policies):
            unknown = set(policy.ack_timeouts) - set(severities)
            if unknown:
                found.append((("policies", i, "ack_timeouts"), f"unknown severities {', '.join(sorted(unknown))}"))
        return found

    esc = _file(directory, "escalation.yaml", EscalationDoc, escalation_problems)
    policies = {p.key: policy_from_doc(p) for p in esc.policies}
    reg = _file(directory, "regulatory.yaml", RegulatoryFile).serious_incident
    regulatory = Regulatory(
        reference=reg.reference,
        cases={c.key: RegulatoryCase(**c.model_dump()) for c in reg.cases},
        reminders=tuple(Reminder(**r.model_dump()) for r in reg.reminders),
        notify_roles=tuple(r.role for r in reg.notify),
    )

    def alert_problems(doc: AlertsFile) -> list[tuple[Loc, str]]:
        found: list[tuple[Loc, str]] = [
            (("open_incident_for", alert_sev), f"unknown severity '{sev}'")
            for alert_sev, sev in doc.open_incident_for.items()
            if sev not in severities
        ]
        if doc.harm_category is not None and doc.harm_category not in harms:
            found.append((("harm_category",), f"unknown '{doc.harm_category}'"))
        return found

    alerts = _file(directory, "alerts.yaml", AlertsFile, alert_problems)
    return Catalog(
        severities=severities,
        lifecycle=lifecycle,
        harm_categories=harms,
        roles=roles,
        policies=policies,
        default_policy=esc.default_policy,
        ack_link_hours=esc.ack_link_hours,
        regulatory=regulatory,
        alert_severity_map={str(k).lower(): str(v) for k, v in alerts.open_incident_for.items()},
        alert_harm_category=alerts.harm_category,
    )


@lru_cache(maxsize=1)
def load() -> Catalog:
    """The shipped catalog, validated once per process."""
    return build()


def transitions() -> dict[str, frozenset[str]]:
    """TRANSITIONS of the shipped lifecycle: {status: allowed next statuses}."""
    return load().lifecycle.transitions
