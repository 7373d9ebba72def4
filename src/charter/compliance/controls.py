"""Charter's controls and the framework requirements they support: reference syntax, mapping files, checks.

A control reference names one control Charter enforces or records:

    sop:<template>/<item>      an item of a shipped SOP template (content/sops, by template key and item id)
    gate:<policy>/<rule>       a rule of a gate policy (content/policies, by policy name and rule id)
    alert:<rule>               a default alert rule (content/alert_rules/defaults.yaml, by key)
    incident:<file>[/<name>]   incident content (content/incidents/<file>.yaml; a top-level key or an entry's key)
    risk-matrix:<name>         a shipped risk matrix (content/risk_matrices, by name)
    redteam-suite:<name>       a red-team probe suite (content/redteam, once that module ships suites)
    <module>:<name>            a control a module provides, from MODULE_CONTROLS (evaluation:judge-calibration, …)
    custom:<name>              an organisation's own control (evidence is attached by hand)

A mapping file lists controls, each with the requirements (`<framework>:<requirement>`) it supports, a relation
(`satisfies` or `partially`) and a one-line reason.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from charter.compliance.catalog import Catalogs
from charter.compliance.errors import CatalogError, Problem, YamlDocument, read_yaml, validation_problems
from charter.kit.content import parse_yaml, read_text

__all__ = [
    "CONTENT_KINDS",
    "MODULE_CONTROLS",
    "ControlIndex",
    "ControlMapping",
    "ControlMappings",
    "RequirementLink",
    "load_control_mappings",
    "missing_controls",
    "parse_control_mappings",
    "parse_control_ref",
]

# Kinds whose controls are shipped content, checked against the files under content/.
CONTENT_KINDS: Final = ("sop", "gate", "alert", "incident", "risk-matrix", "redteam-suite")
# Controls provided by modules (not content files): the names each module offers.
MODULE_CONTROLS: Final[dict[str, frozenset[str]]] = {
    "evaluation": frozenset({"expert-benchmark", "judge-calibration", "continuous-validation", "monthly-audit"}),
    "data": frozenset({"pii-audit", "lineage", "retention"}),
    "vendor": frozenset({"due-diligence"}),
    "feedback": frozenset({"human-review", "user-feedback"}),
    "ledger": frozenset({"audit-trail"}),
    "telemetry": frozenset({"production-monitoring"}),
    "risk": frozenset({"register"}),
    "releases": frozenset({"deployment-verification"}),
    "inventory": frozenset({"system-register"}),
}
_SLUG = r"[a-z0-9][a-z0-9_.-]*"
_PATTERNS: Final[dict[str, re.Pattern[str]]] = {
    "sop": re.compile(rf"^sop:{_SLUG}/{_SLUG}$"),
    "gate": re.compile(rf"^gate:{_SLUG}/{_SLUG}$"),
    "alert": re.compile(rf"^alert:{_SLUG}$"),
    "incident": re.compile(rf"^incident:{_SLUG}(/[A-Za-z0-9_.-]+)?$"),
    "risk-matrix": re.compile(rf"^risk-matrix:{_SLUG}$"),
    "redteam-suite": re.compile(rf"^redteam-suite:{_SLUG}$"),
    "custom": re.compile(rf"^custom:{_SLUG}$"),
}
_SYNTAX: Final = {
    "sop": "sop:<template>/<item>",
    "gate": "gate:<policy>/<rule>",
    "alert": "alert:<rule>",
    "incident": "incident:<file>[/<name>]",
    "risk-matrix": "risk-matrix:<name>",
    "redteam-suite": "redteam-suite:<name>",
    "custom": "custom:<name>",
}


def parse_control_ref(ref: str) -> tuple[str, str]:
    """Check a control reference's syntax; return (kind, rest). Raise ValueError saying what is allowed."""
    kind, sep, rest = ref.partition(":")
    if not sep:
        raise ValueError(f"'{ref}' is not a control reference; write '<kind>:<name>' (kinds: {', '.join(_kinds())})")
    if kind in MODULE_CONTROLS:
        if rest not in MODULE_CONTROLS[kind]:
            raise ValueError(f"unknown {kind} control '{rest}'; known: {', '.join(sorted(MODULE_CONTROLS[kind]))}")
        return kind, rest
    pattern = _PATTERNS.get(kind)
    if pattern is None:
        raise ValueError(f"unknown control kind '{kind}' in '{ref}'; kinds: {', '.join(_kinds())}")
    if not pattern.match(ref):
        raise ValueError(f"'{ref}' does not match {_SYNTAX[kind]} (lower-case names, digits, '-', '_', '.')")
    return kind, rest


def _kinds() -> list[str]:
    return sorted([*_PATTERNS, *MODULE_CONTROLS])


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class RequirementLink(_Strict):
    requirement: Text  # "<framework>:<requirement>"
    relation: Literal["satisfies", "partially"]
    reason: Text


class ControlMapping(_Strict):
    control: Text
    title: Text | None = None
    requirements: Annotated[list[RequirementLink], Field(min_length=1)]


class ControlMappings(_Strict):
    title: Text
    controls: list[ControlMapping]

    def for_control(self, control: str) -> list[RequirementLink]:
        return next((c.requirements for c in self.controls if c.control == control), [])

    def for_requirement(self, requirement: str) -> list[tuple[str, RequirementLink]]:
        """(control, link) for every control mapped to the requirement, in file order."""
        return [(c.control, link) for c in self.controls for link in c.requirements if link.requirement == requirement]

    def requirements(self) -> set[str]:
        return {link.requirement for c in self.controls for link in c.requirements}


def _problems(
    doc: YamlDocument, mappings: ControlMappings, catalogs: Catalogs, index: ControlIndex | None
) -> list[Problem]:
    problems: list[Problem] = []
    first: dict[str, int] = {}
    for i, entry in enumerate(mappings.controls):
        try:
            parse_control_ref(entry.control)
        except ValueError as exc:
            problems.append(doc.problem(("controls", i, "control"), str(exc)))
        else:
            if index is not None and index.exists(entry.control) is False:
                problems.append(doc.problem(("controls", i, "control"), index.missing_message(entry.control)))
        if entry.control in first:
            problems.append(
                doc.problem(
                    ("controls", i, "control"),
                    f"'{entry.control}' is already mapped at controls[{first[entry.control]}]",
                )
            )
        first.setdefault(entry.control, i)
        seen: set[str] = set()
        for j, link in enumerate(entry.requirements):
            issue = catalogs.problem_with_ref(link.requirement)
            if issue is not None:
                problems.append(doc.problem(("controls", i, "requirements", j, "requirement"), issue))
            if link.requirement in seen:
                problems.append(
                    doc.problem(("controls", i, "requirements", j, "requirement"), f"'{link.requirement}' listed twice")
                )
            seen.add(link.requirement)
    return problems


def parse_control_mappings(
    text: str, source: str, catalogs: Catalogs, index: ControlIndex | None = None
) -> ControlMappings:
    """Parse a control-mapping file and check it against the catalogs (and, given an index, that every content
    control it names exists); CatalogError lists every problem with its line."""
    doc = read_yaml(text, source)
    if not isinstance(doc.data, dict):
        raise CatalogError([Problem(source, doc.line_of(()), "", "expected a mapping with 'title' and 'controls'")])
    try:
        mappings = ControlMappings.model_validate(doc.data)
    except ValidationError as exc:
        raise CatalogError(validation_problems(doc, ControlMappings, exc)) from None
    problems = _problems(doc, mappings, catalogs, index)
    if problems:
        raise CatalogError(problems)
    return mappings


def load_control_mappings(
    paths: Sequence[Path], catalogs: Catalogs, index: ControlIndex | None = None
) -> ControlMappings:
    """Load mapping files in order; a control mapped again in a later file (the organisation's) replaces it."""
    merged: dict[str, ControlMapping] = {}
    titles: list[str] = []
    problems: list[Problem] = []
    for path in paths:
        try:
            mappings = parse_control_mappings(path.read_text(encoding="utf-8"), str(path), catalogs, index)
        except CatalogError as exc:
            problems.extend(exc.problems)
            continue
        titles.append(mappings.title)
        for entry in mappings.controls:
            merged[entry.control] = entry
    if problems:
        raise CatalogError(problems)
    return ControlMappings(title=" + ".join(titles) or "no mappings", controls=list(merged.values()))


# --- which shipped controls exist ---------------------------------------------------------------------------------


def _yaml_files(directory: Path) -> list[tuple[Path, Any]]:
    if not directory.is_dir():
        return []
    found = []
    for path in sorted(directory.glob("*.yaml")):
        found.append((path, parse_yaml(read_text(path), path.name)[0]))
    return found


def _keys(node: Any) -> Iterable[str]:
    """Every `key` value in lists below node (escalation policies, severities, regulatory cases, roles…)."""
    if isinstance(node, dict):
        if isinstance(node.get("key"), str):
            yield node["key"]
        for value in node.values():
            yield from _keys(value)
    elif isinstance(node, list):
        for item in node:
            yield from _keys(item)


@dataclass(frozen=True)
class ControlIndex:
    """The control references that exist in a content directory (shipped or an organisation's)."""

    refs: frozenset[str]
    kinds_present: frozenset[str]

    @classmethod
    def from_content(cls, content_dir: Path) -> ControlIndex:
        """Read the content files (leniently: entries without their id are skipped; their own loaders judge them)."""
        refs: set[str] = set()
        present: set[str] = set()

        def named(items: Any, field: str) -> list[str]:
            return [str(i[field]) for i in items or [] if isinstance(i, dict) and i.get(field) is not None]

        for _, sop in _yaml_files(content_dir / "sops"):
            present.add("sop")
            if isinstance(sop, dict) and sop.get("key"):
                for section in sop.get("sections") or []:
                    items = section.get("items") if isinstance(section, dict) else None
                    refs.update(f"sop:{sop['key']}/{item}" for item in named(items, "id"))
        for _, policy in _yaml_files(content_dir / "policies"):
            present.add("gate")
            if isinstance(policy, dict) and policy.get("name"):
                refs.update(f"gate:{policy['name']}/{rule}" for rule in named(policy.get("rules"), "id"))
        for _, alerts in _yaml_files(content_dir / "alert_rules"):
            present.add("alert")
            if isinstance(alerts, dict):
                refs.update(f"alert:{rule}" for rule in named(alerts.get("rules"), "key"))
        for path, incident in _yaml_files(content_dir / "incidents"):
            present.add("incident")
            refs.add(f"incident:{path.stem}")
            if isinstance(incident, dict):
                refs.update(f"incident:{path.stem}/{key}" for key in incident)
                refs.update(f"incident:{path.stem}/{key}" for key in _keys(incident))
        for _, matrix in _yaml_files(content_dir / "risk_matrices"):
            present.add("risk-matrix")
            if isinstance(matrix, dict) and matrix.get("name"):
                refs.add(f"risk-matrix:{matrix['name']}")
        for path, suite in _yaml_files(content_dir / "redteam"):
            present.add("redteam-suite")
            key = suite.get("key") if isinstance(suite, dict) else None
            refs.add(f"redteam-suite:{key if isinstance(key, str) else path.stem}")
        return cls(frozenset(refs), frozenset(present))

    def exists(self, ref: str) -> bool | None:
        """True/False for content controls; None for module and custom controls or kinds not shipped yet."""
        kind = ref.partition(":")[0]
        if kind not in CONTENT_KINDS or kind not in self.kinds_present:
            return None
        return ref in self.refs

    def missing_message(self, ref: str) -> str:
        kind = ref.partition(":")[0]
        close = difflib.get_close_matches(ref, self.content_refs(kind), n=3, cutoff=0.7)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        return f"no such control in the content: '{ref}'{hint}"

    def content_refs(self, kind: str) -> list[str]:
        return sorted(r for r in self.refs if r.partition(":")[0] == kind)


def missing_controls(mappings: ControlMappings, index: ControlIndex, source: str) -> list[Problem]:
    """Content controls named in the mappings that the content directory does not have."""
    return [
        Problem(source, None, f"controls[{i}].control", index.missing_message(entry.control))
        for i, entry in enumerate(mappings.controls)
        if index.exists(entry.control) is False
    ]
