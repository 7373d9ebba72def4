"""The catalog format (frameworks and their requirements, crosswalks, the OWASP version mapping) and its loader.

A framework file is YAML with `id, title, version, publisher, source, licence, attribution` and `requirements`.
Crosswalk files (under `crosswalks/`) hold `entries` of `{from: "<framework>:<req>", to: ..., relation, reason}`.
The loader validates every file and the references between them, and reports every problem it finds as
`file:line: field: message` (see docs/compliance.md for the format, and how an organisation adds a catalog).
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Final, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from charter.compliance.errors import CatalogError, Problem, YamlDocument, read_yaml, validation_problems

__all__ = [
    "KINDS",
    "ROLES",
    "TIERS",
    "Applicability",
    "CatalogError",
    "Catalogs",
    "Crosswalk",
    "CrosswalkEntry",
    "Framework",
    "FrameworkSummary",
    "Licence",
    "OwaspVersionMapping",
    "Problem",
    "Requirement",
    "Source",
    "UnknownReference",
    "load_catalogs",
    "parse_crosswalk",
    "parse_framework",
    "split_ref",
]

# Charter's EU AI Act risk tiers (inventory rules) and the two roles the Act's obligations fall on.
Tier = Literal["prohibited", "high", "limited", "minimal", "unclassified"]
Role = Literal["provider", "deployer"]
# What a catalog entry is; organisations' catalogs use the same vocabulary.
Kind = Literal[
    "function", "category", "subcategory", "chapter", "section", "article", "annex", "clause",
    "group", "control", "objective", "risk", "tactic", "technique", "mitigation", "requirement",
]  # fmt: skip
TIERS: Final[tuple[str, ...]] = get_args(Tier)
ROLES: Final[tuple[str, ...]] = get_args(Role)
KINDS: Final[tuple[str, ...]] = get_args(Kind)
MAX_FILE_BYTES: Final = 4 * 1024 * 1024

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
# A requirement id as the framework writes it ("GOVERN 1.1", "Art. 5", "LLM01:2025"): one line, no outer spaces.
ReqId = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^\S(?:[^\n\r]*\S)?$")]
# A framework id: lower case, digits, dots and hyphens ("nist-ai-rmf-1.0"); never a colon (refs split on it).
FrameworkId = Annotated[str, StringConstraints(min_length=2, max_length=80, pattern=r"^[a-z0-9][a-z0-9.-]*[a-z0-9]$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Applicability(_Strict):
    """EU AI Act obligations: the risk tiers and roles an obligation applies to, and why (our own analysis)."""

    tiers: Annotated[list[Tier], Field(min_length=1)]
    roles: Annotated[list[Role], Field(min_length=1)]
    reason: Text


class Requirement(_Strict):
    id: ReqId
    title: Text
    text: Text | None = None
    parent: ReqId | None = None
    kind: Kind
    assessable: bool
    applicability: Applicability | None = None
    related: list[ReqId] = Field(default_factory=list)
    url: Text | None = None

    def applies_to(self, tier: str, role: str) -> bool | None:
        """True/False from the applicability table; None when the requirement has none (chosen by tag or hand)."""
        if self.applicability is None:
            return None
        return tier in self.applicability.tiers and role in self.applicability.roles


class Source(_Strict):
    origin: Text
    commit: Text | None = None
    date: dt.date | None = None
    retrieved: dt.date | None = None


class Licence(_Strict):
    name: Text
    spdx: Text | None = None
    url: Text | None = None


class Framework(_Strict):
    id: FrameworkId
    title: Text
    version: Text
    publisher: Text
    url: Text | None = None
    source: Source
    licence: Licence
    attribution: Text
    changes: Text | None = None
    requirements: Annotated[list[Requirement], Field(min_length=1)]

    def requirement(self, req_id: str) -> Requirement:
        for req in self.requirements:
            if req.id == req_id:
                return req
        raise KeyError(req_id)


class CrosswalkEntry(_Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    from_: Text = Field(alias="from")
    to: Text
    relation: Literal["equivalent", "subset", "related"]
    reason: Text


class Crosswalk(_Strict):
    title: Text
    licence: Licence | None = None
    attribution: Text | None = None
    changes: Text | None = None
    entries: Annotated[list[CrosswalkEntry], Field(min_length=1)]


class OwaspVersionRow(_Strict):
    id_2023: Annotated[str, StringConstraints(pattern=r"^LLM\d\d:2023$")]
    id_2025: Annotated[str, StringConstraints(pattern=r"^LLM\d\d:2025$")]
    relation: Literal["equivalent", "partial"]
    reason: Text


class OwaspVersionMapping(_Strict):
    """The OWASP LLM Top 10 2023→2025 table (`owasp-llm-2023-to-2025.yaml`), read by the red-team module."""

    mappings: Annotated[list[OwaspVersionRow], Field(min_length=1)]


class UnknownReference(LookupError):
    """A framework or requirement that no loaded catalog has; the message says what exists."""


@dataclass(frozen=True)
class FrameworkSummary:
    id: str
    title: str
    version: str
    requirements: int  # assessable requirements (what coverage is computed for)
    total: int  # every entry, including functions, chapters, groups


def split_ref(ref: str) -> tuple[str, str]:
    """`"owasp-llm-2025:LLM01:2025"` → `("owasp-llm-2025", "LLM01:2025")`: a framework id never holds a colon."""
    framework_id, sep, req_id = ref.partition(":")
    if not sep or not framework_id or not req_id:
        raise ValueError(f"'{ref}' is not a requirement reference; write '<framework>:<requirement>'")
    return framework_id, req_id


# --- parsing one file -------------------------------------------------------------------------------------------


def _parse(text: str, source: str, model: type[BaseModel], doc: YamlDocument | None = None) -> tuple[Any, YamlDocument]:
    if doc is None:
        if len(text.encode()) > MAX_FILE_BYTES:
            raise CatalogError([Problem(source, None, "", f"file larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")])
        doc = read_yaml(text, source)
    if not isinstance(doc.data, dict):
        raise CatalogError([Problem(source, doc.line_of(()), "", "expected a mapping at the top of the file")])
    try:
        return model.model_validate(doc.data), doc
    except ValidationError as exc:
        raise CatalogError(validation_problems(doc, model, exc)) from None


def _framework_problems(fw: Framework, doc: YamlDocument) -> list[Problem]:
    """Duplicate ids, parents and related ids that do not exist, parent cycles."""
    problems: list[Problem] = []
    index: dict[str, int] = {}
    for i, req in enumerate(fw.requirements):
        if req.id in index:
            problems.append(
                doc.problem(
                    ("requirements", i, "id"), f"duplicate id '{req.id}' (first at requirements[{index[req.id]}])"
                )
            )
        else:
            index[req.id] = i
    for i, req in enumerate(fw.requirements):
        if req.parent is not None and req.parent not in index:
            problems.append(doc.problem(("requirements", i, "parent"), _missing(req.parent, index, fw.id)))
        elif req.parent == req.id:
            problems.append(doc.problem(("requirements", i, "parent"), "a requirement cannot be its own parent"))
        for j, rel in enumerate(req.related):
            if rel not in index:
                problems.append(doc.problem(("requirements", i, "related", j), _missing(rel, index, fw.id)))
    parents = {r.id: r.parent for r in fw.requirements}
    for i, req in enumerate(fw.requirements):
        if req.parent == req.id:
            continue  # reported above
        seen = {req.id}
        cursor = parents.get(req.id)
        while cursor is not None and cursor in parents:
            if cursor in seen:
                problems.append(doc.problem(("requirements", i, "parent"), f"parent chain of '{req.id}' loops"))
                break
            seen.add(cursor)
            cursor = parents[cursor]
    return problems


def _missing(req_id: str, known: Iterable[str], framework_id: str) -> str:
    close = difflib.get_close_matches(req_id, list(known), n=3)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return f"no requirement '{req_id}' in framework '{framework_id}'{hint}"


def parse_framework(text: str, source: str, doc: YamlDocument | None = None) -> Framework:
    """Parse and check one framework file (or its already parsed `doc`); CatalogError lists every problem."""
    fw, doc = _parse(text, source, Framework, doc)
    assert isinstance(fw, Framework)
    problems = _framework_problems(fw, doc)
    if problems:
        raise CatalogError(problems)
    return fw


def parse_crosswalk(text: str, source: str) -> tuple[Crosswalk, YamlDocument]:
    """Parse one crosswalk file (its references are checked against the frameworks by `load_catalogs`)."""
    cw, doc = _parse(text, source, Crosswalk)
    assert isinstance(cw, Crosswalk)
    return cw, doc


# --- the set of catalogs ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Catalogs:
    """Every loaded framework, the crosswalk between them and the OWASP 2023→2025 table."""

    frameworks: dict[str, Framework]
    crosswalk: tuple[CrosswalkEntry, ...] = ()
    owasp_versions: OwaspVersionMapping | None = None
    files: dict[str, str] = field(default_factory=dict)  # framework id → file it came from
    _index: dict[str, dict[str, Requirement]] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for fid, fw in self.frameworks.items():
            self._index[fid] = {r.id: r for r in fw.requirements}

    def framework(self, framework_id: str) -> Framework:
        try:
            return self.frameworks[framework_id]
        except KeyError:
            raise UnknownReference(self.unknown_framework(framework_id)) from None

    def unknown_framework(self, framework_id: str) -> str:
        return f"unknown framework '{framework_id}'; known: {', '.join(sorted(self.frameworks))}"

    def has(self, ref: str) -> bool:
        try:
            framework_id, req_id = split_ref(ref)
        except ValueError:
            return False
        return req_id in self._index.get(framework_id, {})

    def problem_with_ref(self, ref: str) -> str | None:
        """None when `ref` names an existing requirement, else what is wrong and what is allowed."""
        try:
            framework_id, req_id = split_ref(ref)
        except ValueError as exc:
            return str(exc)
        if framework_id not in self._index:
            return self.unknown_framework(framework_id)
        if req_id not in self._index[framework_id]:
            return _missing(req_id, self._index[framework_id], framework_id)
        return None

    def requirement(self, ref: str) -> Requirement:
        problem = self.problem_with_ref(ref)
        if problem is not None:
            raise UnknownReference(problem)
        framework_id, req_id = split_ref(ref)
        return self._index[framework_id][req_id]

    def children(self, framework_id: str, req_id: str | None) -> list[Requirement]:
        return [r for r in self.framework(framework_id).requirements if r.parent == req_id]

    def assessable(self, framework_id: str) -> list[Requirement]:
        return [r for r in self.framework(framework_id).requirements if r.assessable]

    def applicable(self, framework_id: str, tier: str, role: str) -> list[Requirement]:
        """Assessable requirements that apply to a system of this tier and role (all, where no table exists)."""
        return [r for r in self.assessable(framework_id) if r.applies_to(tier, role) in (True, None)]

    def crosswalk_of(self, ref: str) -> list[CrosswalkEntry]:
        """Crosswalk entries that name `ref` on either side."""
        return [e for e in self.crosswalk if ref in (e.from_, e.to)]

    def implied(self, ref: str) -> list[CrosswalkEntry]:
        """Crosswalk entries whose other side is met whenever `ref` is met: `equivalent` either way, and
        `subset` rows whose `to` is `ref` (the narrower `from` is then met too). `related` implies nothing."""
        return [
            e
            for e in self.crosswalk
            if (e.relation == "equivalent" and ref in (e.from_, e.to)) or (e.relation == "subset" and e.to == ref)
        ]

    def summaries(self) -> list[FrameworkSummary]:
        return [
            FrameworkSummary(
                fw.id, fw.title, fw.version, sum(r.assessable for r in fw.requirements), len(fw.requirements)
            )
            for fw in sorted(self.frameworks.values(), key=lambda f: f.id)
        ]


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise CatalogError([Problem(str(path), None, "", f"not UTF-8 text ({exc.reason})")]) from None


def _crosswalk_problems(cw: Crosswalk, doc: YamlDocument, catalogs: Catalogs) -> list[Problem]:
    problems: list[Problem] = []
    seen: dict[tuple[str, str], int] = {}
    for i, entry in enumerate(cw.entries):
        for side, ref in (("from", entry.from_), ("to", entry.to)):
            issue = catalogs.problem_with_ref(ref)
            if issue is not None:
                problems.append(doc.problem(("entries", i, side), issue))
        if entry.from_.partition(":")[0] == entry.to.partition(":")[0]:
            problems.append(doc.problem(("entries", i, "to"), "a crosswalk links two different frameworks"))
        key = (entry.from_, entry.to)
        if key in seen:
            problems.append(doc.problem(("entries", i), f"duplicate of entries[{seen[key]}] ({key[0]} → {key[1]})"))
        seen.setdefault(key, i)
    return problems


def _owasp_problems(mapping: OwaspVersionMapping, doc: YamlDocument, catalogs: Catalogs) -> list[Problem]:
    problems = []
    for i, row in enumerate(mapping.mappings):
        for name, ref in (("id_2023", f"owasp-llm-2023:{row.id_2023}"), ("id_2025", f"owasp-llm-2025:{row.id_2025}")):
            issue = catalogs.problem_with_ref(ref)
            if issue is not None:
                problems.append(doc.problem(("mappings", i, name), issue))
    return problems


def load_catalogs(directories: Sequence[Path]) -> Catalogs:
    """Load every catalog in the directories, in order: the shipped one first, then the organisation's.

    In each directory, `*.yaml` are frameworks (or the OWASP version table, recognised by its `mappings` key) and
    `crosswalks/*.yaml` are crosswalks. Every problem in every file is collected; CatalogError lists them all.
    Framework ids must be unique across all directories.
    """
    problems: list[Problem] = []
    frameworks: dict[str, Framework] = {}
    files: dict[str, str] = {}
    owasp: list[tuple[OwaspVersionMapping, YamlDocument]] = []
    crosswalks: list[tuple[Crosswalk, YamlDocument]] = []
    for directory in directories:
        if not directory.is_dir():
            problems.append(Problem(str(directory), None, "", "catalog directory does not exist"))
            continue
        for path in sorted(directory.glob("*.yaml")):
            try:
                text = _read(path)
                doc = read_yaml(text, str(path))
                if isinstance(doc.data, dict) and "mappings" in doc.data and "requirements" not in doc.data:
                    mapping, doc = _parse(text, str(path), OwaspVersionMapping, doc)
                    assert isinstance(mapping, OwaspVersionMapping)
                    owasp.append((mapping, doc))
                    continue
                fw = parse_framework(text, str(path), doc)
            except CatalogError as exc:
                problems.extend(exc.problems)
                continue
            if fw.id in frameworks:
                problems.append(
                    Problem(
                        str(path),
                        doc.line_of(("id",)),
                        "id",
                        f"duplicate framework id '{fw.id}' (also in {files[fw.id]})",
                    )
                )
                continue
            frameworks[fw.id] = fw
            files[fw.id] = str(path)
        for path in sorted((directory / "crosswalks").glob("*.yaml")):
            try:
                crosswalks.append(parse_crosswalk(_read(path), str(path)))
            except CatalogError as exc:
                problems.extend(exc.problems)
    catalogs = Catalogs(frameworks, files=files)
    for cw, doc in crosswalks:
        problems.extend(_crosswalk_problems(cw, doc, catalogs))
    for mapping, doc in owasp:
        problems.extend(_owasp_problems(mapping, doc, catalogs))
    if len(owasp) > 1:
        problems.append(
            Problem(owasp[1][1].source, 1, "mappings", f"a second OWASP version table (first: {owasp[0][1].source})")
        )
    if problems:
        raise CatalogError(problems)
    entries = tuple(e for cw, _ in crosswalks for e in cw.entries)
    return Catalogs(frameworks, entries, owasp[0][0] if owasp else None, files)


def describe_problems(problems: Iterable[Problem]) -> list[dict[str, Any]]:
    """Problems as JSON-ready dicts (for API error bodies)."""
    return [{"file": p.file, "line": p.line, "field": p.field, "message": p.message} for p in problems]
