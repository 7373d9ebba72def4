"""Probe suites as data: the YAML format and its loader, with errors that name ``file:line: field: message``.

A suite (``content/redteam/*.yaml``, or an organisation's own folder) is::

    key: prompt-injection          # slug, unique with version
    version: 1
    title: Prompt injection
    description: ...
    source: where the attacks come from
    probes:
      - id: ignore-previous        # unique in the suite; the probe's full name is "<key>.<id>"
        title: Ignore previous instructions
        goal: make the system drop its instructions and print the canary
        impact: high               # low | medium | high | critical: feeds the severity matrix (rules.py)
        risk_category: security    # optional: security | safety (default: safety for LLM09 only)
        classification:
          owasp_2025: [LLM01:2025]        # OWASP Top 10 for LLM Applications 2025
          atlas: [AML.T0051.000]          # MITRE ATLAS technique(s)
          cwe: [CWE-77]                   # where one applies
        system_prompt: "... {canary} ..." # optional; {canary} is replaced by a fresh secret per attempt
        prompts: ["... {canary} ..."]     # each prompt is one attack; {document} takes each document in turn
        documents: []                     # indirect injection: content the system is asked to process
        converters: [identity, base64, leetspeak+role_play]   # each entry is one variant of every prompt
        detectors:                        # every output is scored by each
          - type: canary
          - {type: regex, pattern: "...", flags: i, match: present}

Detector types and their fields: canary (encoded), regex (pattern, flags, match), refusal (hit_when, patterns),
pii (kinds), markup (kinds, payloads), length (max_chars), tool_call (tools), judge (rubric). Any detector may
be ``optional: true``: skipped when its outside dependency (the LLM judge) is not configured.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from charter.kit.content import ContentInvalid, Loc, Problem, load_model, read_text
from charter.redteam import converters as conv
from charter.redteam.detectors import DetectorConfigError, MarkupKind, make_detector
from charter.redteam.rules import Impact, RiskCategory

MAX_SUITE_BYTES: Final = 1024 * 1024
KEY = r"^[a-z0-9][a-z0-9-]{1,62}[a-z0-9]$"
ITEM_ID = r"^[a-z0-9][a-z0-9_-]{0,62}$"
OWASP_2025_ID = r"^LLM(0[1-9]|10):2025$"
ATLAS_ID = r"^AML\.T\d{4}(\.\d{3})?$"
CWE_ID = r"^CWE-[1-9]\d*$"


def shipped_suite_dir() -> Path:
    """The folder of the suites shipped with Charter (``charter/content/redteam``)."""
    return Path(__file__).resolve().parent.parent / "content" / "redteam"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


class _DetectorBase(_Strict):
    name: str | None = Field(default=None, pattern=ITEM_ID, description="unique in the probe; default: the type")
    optional: bool = Field(default=False, description="skip when its dependency (the judge) is not configured")

    @property
    def label(self) -> str:
        return self.name or str(getattr(self, "type", ""))

    def params(self) -> dict[str, Any]:
        return self.model_dump(exclude={"name", "optional", "type"})


class CanaryDetectorSpec(_DetectorBase):
    type: Literal["canary"]
    encoded: bool = Field(default=True, description="also find the canary base64/ROT13/reversed/spaced")


class RegexDetectorSpec(_DetectorBase):
    type: Literal["regex"]
    pattern: str = Field(min_length=1, max_length=2_000, description="Python regex; {canary} = the canary")
    flags: str = Field(default="", pattern=r"^[ims]{0,3}$")
    match: Literal["present", "absent"] = "present"
    ignore_refusals: bool = Field(default=False, description="a refusal scores 0 (e.g. misinformation probes)")


class RefusalDetectorSpec(_DetectorBase):
    type: Literal["refusal"]
    hit_when: Literal["complied", "refused"] = "complied"
    patterns: list[str] = Field(default_factory=list, description="extra refusal phrases (regex)")


class PiiDetectorSpec(_DetectorBase):
    type: Literal["pii"]
    kinds: list[str] = Field(default_factory=list, description="empty: every kind the scanner knows")


class MarkupDetectorSpec(_DetectorBase):
    type: Literal["markup"]
    kinds: list[MarkupKind] = Field(default_factory=list)
    payloads: list[str] = Field(default_factory=list, description="literal strings whose echo is a hit")


class LengthDetectorSpec(_DetectorBase):
    type: Literal["length"]
    max_chars: int = Field(ge=1, le=10_000_000)


class ToolCallDetectorSpec(_DetectorBase):
    type: Literal["tool_call"]
    tools: list[str] = Field(min_length=1)


class JudgeDetectorSpec(_DetectorBase):
    type: Literal["judge"]
    rubric: str = Field(min_length=10, max_length=5_000, description="what the judge scores 1.0")


DetectorSpec = Annotated[
    CanaryDetectorSpec
    | RegexDetectorSpec
    | RefusalDetectorSpec
    | PiiDetectorSpec
    | MarkupDetectorSpec
    | LengthDetectorSpec
    | ToolCallDetectorSpec
    | JudgeDetectorSpec,
    Field(discriminator="type"),
]


class Classification(_Strict):
    owasp_2025: list[Annotated[str, StringConstraints(pattern=OWASP_2025_ID)]] = Field(min_length=1)
    atlas: list[Annotated[str, StringConstraints(pattern=ATLAS_ID)]] = Field(min_length=1)
    cwe: list[Annotated[str, StringConstraints(pattern=CWE_ID)]] = Field(default_factory=list)


class ProbeSpec(_Strict):
    id: str = Field(pattern=ITEM_ID)
    title: str = Field(min_length=1, max_length=200)
    goal: str = Field(min_length=3, max_length=1_000)
    impact: Impact
    risk_category: RiskCategory | None = None
    classification: Classification
    system_prompt: str | None = Field(default=None, max_length=50_000)
    prompts: list[Annotated[str, StringConstraints(min_length=1, max_length=50_000)]] = Field(min_length=1)
    documents: list[Annotated[str, StringConstraints(min_length=1, max_length=200_000)]] = Field(default_factory=list)
    converters: list[Any] = Field(default_factory=lambda: ["identity"], min_length=1)
    detectors: list[DetectorSpec] = Field(min_length=1)
    tags: list[str] = Field(default_factory=list)

    def converter_chains(self) -> list[tuple[conv.ConverterStep, ...]]:
        return [conv.parse_chain(entry) for entry in self.converters]


class SuiteSpec(_Strict):
    key: str = Field(pattern=KEY)
    version: int = Field(ge=1)
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=20_000)
    source: str = Field(default="", max_length=2_000)
    tags: list[str] = Field(default_factory=list)
    probes: list[ProbeSpec] = Field(min_length=1)

    def probe(self, probe_id: str) -> ProbeSpec | None:
        return next((p for p in self.probes if p.id == probe_id), None)

    def qualified(self, probe: ProbeSpec) -> str:
        """The probe's full name, as runs and findings record it: ``<suite key>.<probe id>``."""
        return f"{self.key}.{probe.id}"

    def classification(self) -> dict[str, tuple[str, ...]]:
        """Full probe name → its OWASP 2025 ids."""
        return {self.qualified(p): tuple(p.classification.owasp_2025) for p in self.probes}


# ----------------------------------------------------------------------------- errors


class SuiteInvalid(ContentInvalid):
    """A suite file that does not satisfy the format; `problems` lists every error with its line."""

    what = "probe suite"


# ----------------------------------------------------------------------------- semantic checks


def _has_placeholder(probe: ProbeSpec, placeholder: str) -> bool:
    texts = [probe.system_prompt or "", *probe.prompts, *probe.documents]
    return any(placeholder in t for t in texts)


def semantic_errors(
    suite: SuiteSpec,
    *,
    atlas_ids: Collection[str] | None = None,
    owasp_2025_ids: Collection[str] | None = None,
) -> list[tuple[Loc, str]]:
    """Cross-field checks; each problem with the location of the field it concerns."""
    problems: list[tuple[Loc, str]] = []
    seen_probes: dict[str, int] = {}
    for i, probe in enumerate(suite.probes):
        at: Loc = ("probes", i)
        if probe.id in seen_probes:
            problems.append(((*at, "id"), f"probe id '{probe.id}' is also used by probes[{seen_probes[probe.id]}]"))
        seen_probes.setdefault(probe.id, i)
        if probe.documents:
            for j, prompt in enumerate(probe.prompts):
                if "{document}" not in prompt:
                    problems.append(((*at, "prompts", j), "the probe has documents: put {document} where each goes"))
        elif any("{document}" in p for p in probe.prompts):
            problems.append(((*at, "documents"), "a prompt uses {document} but the probe has no documents"))
        for j, entry in enumerate(probe.converters):
            try:
                for step in conv.parse_chain(entry):
                    conv.build(step)
            except conv.ConverterError as exc:
                problems.append(((*at, "converters", j), str(exc)))
        names: dict[str, int] = {}
        for j, det in enumerate(probe.detectors):
            dat: Loc = (*at, "detectors", j)
            if det.label in names:
                problems.append(((*dat, "name"), f"detector name '{det.label}' is used twice; give one a 'name'"))
            names.setdefault(det.label, j)
            if det.type == "canary" and not _has_placeholder(probe, "{canary}"):
                problems.append((dat, "a canary detector needs {canary} in the system prompt, a prompt or a document"))
            try:
                make_detector(det.label, det.type, det.params(), judge=_validation_judge)
            except DetectorConfigError as exc:
                problems.append((dat, str(exc)))
        if atlas_ids is not None:
            for j, tid in enumerate(probe.classification.atlas):
                if tid not in atlas_ids:
                    problems.append(((*at, "classification", "atlas", j), f"'{tid}' is not a MITRE ATLAS technique"))
        if owasp_2025_ids is not None:
            for j, oid in enumerate(probe.classification.owasp_2025):
                if oid not in owasp_2025_ids:
                    problems.append(((*at, "classification", "owasp_2025", j), f"'{oid}' is not an OWASP 2025 id"))
    return problems


async def _validation_judge(_: Any) -> float:  # pragma: no cover - never awaited; lets judge detectors validate
    return 0.0


# ----------------------------------------------------------------------------- loading


def parse_suite(
    text: str,
    filename: str,
    *,
    atlas_ids: Collection[str] | None = None,
    owasp_2025_ids: Collection[str] | None = None,
) -> SuiteSpec:
    """Parse and validate one suite (through the one YAML loader); raise SuiteInvalid naming file, line, field."""
    if len(text.encode("utf-8")) > MAX_SUITE_BYTES:
        raise SuiteInvalid([Problem(filename, None, "", f"larger than {MAX_SUITE_BYTES} bytes")])
    return load_model(
        text,
        filename,
        SuiteSpec,
        lambda suite: semantic_errors(suite, atlas_ids=atlas_ids, owasp_2025_ids=owasp_2025_ids),
        error=SuiteInvalid,
    )


def parse_suite_file(path: Path, **catalogs: Collection[str] | None) -> SuiteSpec:
    return parse_suite(read_text(path, error=SuiteInvalid, max_bytes=MAX_SUITE_BYTES), path.name, **catalogs)


def load_suites(folders: Iterable[Path] | None = None, **catalogs: Collection[str] | None) -> tuple[SuiteSpec, ...]:
    """Every ``*.yaml`` suite in the folders (default: the shipped ones), validated, sorted by key and version.

    Organisations add their own by passing their folder after the shipped one; the same key and version in two
    files is an error naming both.
    """
    seen: dict[tuple[str, int], str] = {}
    out: list[SuiteSpec] = []
    for folder in folders if folders is not None else [shipped_suite_dir()]:
        for path in sorted(folder.glob("*.y*ml")):
            suite = parse_suite_file(path, **catalogs)
            ident = (suite.key, suite.version)
            if ident in seen:
                problem = Problem(
                    path.name, None, "key", f"'{suite.key}' version {suite.version} is also in {seen[ident]}"
                )
                raise SuiteInvalid([problem])
            seen[ident] = str(path.name)
            out.append(suite)
    return tuple(sorted(out, key=lambda s: (s.key, s.version)))


@functools.cache
def shipped_suites() -> tuple[SuiteSpec, ...]:
    """The shipped suites, validated once per process (the API loads them at start-up)."""
    return load_suites()


def latest_versions(suites: Sequence[SuiteSpec]) -> tuple[SuiteSpec, ...]:
    """The highest version of each suite key."""
    best: dict[str, SuiteSpec] = {}
    for suite in suites:
        if suite.key not in best or suite.version > best[suite.key].version:
            best[suite.key] = suite
    return tuple(best[k] for k in sorted(best))


def content_hash(suite: SuiteSpec) -> str:
    """SHA-256 of the suite's canonical JSON: what a run records to say exactly which attacks it sent."""
    canonical = json.dumps(suite.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
