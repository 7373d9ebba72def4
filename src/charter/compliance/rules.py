"""Coverage, computed: each assessable requirement met / partial / missing / not applicable, and why.

Pure: the caller supplies the catalogs, the effective control → requirement links, the control states the
domains reported (charter.kit.coverage) and the system's applicability choices. Rules (docs/compliance.md):

- not applicable: chosen for the system with a reason, or (EU AI Act) outside the system's tier and role;
- a control's contribution: `satisfies` + met → met; `satisfies` + partial or `partially` + met/partial → partial;
- a requirement is met when one control makes it met, partial when one makes it partial, else missing;
- a requirement not met by its own controls is met through the crosswalk when an `equivalent` requirement (or one
  it is a `subset` of, per Catalogs.implied) is met by its own controls — one hop, never a chain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal, get_args

from charter.compliance.catalog import Catalogs, Requirement
from charter.kit.coverage import ControlState, EvidenceItem

Status = Literal["met", "partial", "missing", "not_applicable"]
STATUSES: Final[tuple[str, ...]] = get_args(Status)
Relation = Literal["satisfies", "partially"]
EditRelation = Literal["satisfies", "partially", "removed"]
EDIT_RELATIONS: Final[tuple[str, ...]] = get_args(EditRelation)
ExportFormat = Literal["cyclonedx", "oscal", "model-card", "model-card-html", "annex-iv"]
EXPORT_FORMATS: Final[tuple[str, ...]] = get_args(ExportFormat)

# Charter's deployment types → the EU AI Act role the organisation holds for the system (D101).
ROLE_OF_DEPLOYMENT: Final[dict[str, str]] = {
    "in_house_model": "provider",
    "vendor_api": "deployer",
    "vendor_saas": "deployer",
    "embedded": "deployer",
}
_CONTRIBUTION: Final[dict[tuple[str, str], str]] = {
    ("satisfies", "met"): "met",
    ("satisfies", "partial"): "partial",
    ("partially", "met"): "partial",
    ("partially", "partial"): "partial",
}


@dataclass(frozen=True)
class Link:
    control: str
    requirement: str  # "<framework>:<requirement>"
    relation: str
    reason: str
    edited: bool = False  # an organisation's edit, not the shipped mapping


@dataclass(frozen=True)
class Choice:
    applicable: bool
    reason: str


@dataclass(frozen=True)
class ControlResult:
    control: str
    relation: str
    reason: str
    status: str  # the control's own status: met | partial | missing
    why: str
    evidence: tuple[EvidenceItem, ...] = ()


@dataclass(frozen=True)
class RequirementCoverage:
    ref: str
    id: str
    title: str
    parent: str | None
    status: Status
    why: str
    controls: tuple[ControlResult, ...] = ()
    via: tuple[str, ...] = ()  # crosswalk requirements it is met through

    def evidence(self) -> list[EvidenceItem]:
        seen: dict[str, EvidenceItem] = {}
        for c in self.controls:
            if c.status != "missing":
                for e in c.evidence:
                    seen.setdefault(e.ref, e)
        return [seen[k] for k in sorted(seen)]


@dataclass(frozen=True)
class FrameworkCoverage:
    framework: str
    title: str
    version: str
    system: str
    role: str
    risk_tier: str
    requirements: tuple[RequirementCoverage, ...]
    counts: dict[str, int] = field(default_factory=dict)

    def gaps(self) -> list[RequirementCoverage]:
        return [r for r in self.requirements if r.status in ("missing", "partial")]

    def digest(self) -> str:
        body = [[r.ref, r.status] for r in self.requirements]
        return hashlib.sha256(json.dumps(body, separators=(",", ":")).encode()).hexdigest()


def role_for(deployment_type: str) -> str:
    return ROLE_OF_DEPLOYMENT.get(deployment_type, "deployer")


def missing_state(control: str, reported_kinds: frozenset[str]) -> ControlState:
    kind = control.partition(":")[0]
    if kind == "custom":
        return ControlState(control, "missing", "an organisation control: no evidence attached for this system")
    if kind in reported_kinds:
        return ControlState(control, "missing", "not in place for this system")
    return ControlState(control, "missing", f"no module reports '{kind}' controls yet, so it cannot be shown in place")


class CoverageEngine:
    def __init__(
        self,
        catalogs: Catalogs,
        links: Sequence[Link],
        states: Mapping[str, ControlState],
        reported_kinds: frozenset[str],
    ) -> None:
        self.catalogs = catalogs
        self.states = states
        self.reported_kinds = reported_kinds
        self.by_requirement: dict[str, list[Link]] = {}
        for link in links:
            self.by_requirement.setdefault(link.requirement, []).append(link)
        self._direct: dict[str, tuple[str, tuple[ControlResult, ...]]] = {}

    def state(self, control: str) -> ControlState:
        return self.states.get(control) or missing_state(control, self.reported_kinds)

    def direct(self, ref: str) -> tuple[str, tuple[ControlResult, ...]]:
        """The status a requirement gets from its own controls, and each control's part."""
        if ref in self._direct:
            return self._direct[ref]
        results = []
        best = "missing"
        for link in self.by_requirement.get(ref, []):
            state = self.state(link.control)
            results.append(
                ControlResult(link.control, link.relation, link.reason, state.status, state.why, state.evidence)
            )
            got = _CONTRIBUTION.get((link.relation, state.status), "missing")
            if got == "met" or (got == "partial" and best == "missing"):
                best = got
        found = (best, tuple(results))
        self._direct[ref] = found
        return found

    def implying(self, ref: str) -> list[str]:
        """Requirements whose being met meets `ref`: `equivalent` either way, and the wider side (`to`) of a
        `subset` row whose narrower side (`from`) is `ref` (Catalogs.implied read the other way)."""
        out = []
        for e in self.catalogs.crosswalk_of(ref):
            if e.relation == "equivalent":
                out.append(e.to if e.from_ == ref else e.from_)
            elif e.relation == "subset" and e.from_ == ref:
                out.append(e.to)
        return out

    def requirement(
        self, framework_id: str, req: Requirement, tier: str, role: str, choice: Choice | None
    ) -> RequirementCoverage:
        ref = f"{framework_id}:{req.id}"
        status, results = self.direct(ref)

        def make(status: Status, why: str, via: tuple[str, ...] = ()) -> RequirementCoverage:
            return RequirementCoverage(ref, req.id, req.title, req.parent, status, why, results, via)

        if choice is not None and not choice.applicable:
            return make("not_applicable", f"marked not applicable: {choice.reason}")
        if choice is None and req.applies_to(tier, role) is False:
            assert req.applicability is not None
            why = (
                f"applies to tiers {', '.join(req.applicability.tiers)} and roles "
                f"{', '.join(req.applicability.roles)}; this system is {tier} tier, {role}"
            )
            return make("not_applicable", why)
        if status != "met":
            via = []
            for other in self.implying(ref):
                if self.direct(other)[0] == "met":
                    via.append(other)
            if via:
                why = f"met through the crosswalk: {', '.join(sorted(via))} (met by its own controls)"
                return make("met", why, tuple(sorted(via)))
        if not results:
            why = "no Charter control is mapped to it (map one with 'charter compliance map')"
            return make("missing", why)
        counted = {s: sum(r.status == s for r in results) for s in ("met", "partial", "missing")}
        summary = ", ".join(f"{n} {s}" for s, n in counted.items() if n)
        if status == "met":
            first = next(r for r in results if r.relation == "satisfies" and r.status == "met")
            why = f"{first.control} satisfies it and is met ({summary})"
        elif status == "partial":
            why = f"controls only partly in place ({summary})"
        else:
            why = f"none of its {len(results)} controls is in place"
        return make(status, why)  # type: ignore[arg-type]


def framework_coverage(
    engine: CoverageEngine,
    framework_id: str,
    *,
    system: str,
    tier: str,
    role: str,
    framework_choice: Choice | None,
    choices: Mapping[str, Choice],
) -> FrameworkCoverage:
    fw = engine.catalogs.framework(framework_id)
    rows = []
    for req in engine.catalogs.assessable(framework_id):
        choice = choices.get(req.id)
        if choice is None and framework_choice is not None and not framework_choice.applicable:
            choice = framework_choice
        rows.append(engine.requirement(framework_id, req, tier, role, choice))
    counts = {s: sum(r.status == s for r in rows) for s in STATUSES}
    return FrameworkCoverage(fw.id, fw.title, fw.version, system, role, tier, tuple(rows), counts)
