"""What every scanner import produces: attempts with a dedup key, per probe x detector results, OWASP 2025 ids.

An imported attempt is one prompt of one probe with its outputs and, per detector, one score per output
(None where the output is None or the scanner could not score it). Its dedup key is the scanner's attempt id
plus a hash of its content, so importing the same report twice adds nothing, and a report that reuses an id
for different content is noticed.

OWASP: garak tags probes with the 2023 list (``owasp:llm01``); Charter classifies with the 2025 list, through
the crosswalk in ``content/frameworks/owasp-llm-2023-to-2025.yaml`` (``mappings: [{id_2023, id_2025,
relation, reason}]``). A probe with no OWASP tag is kept and reported as unclassified.
"""

from __future__ import annotations

import collections
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Literal

from charter.kit.content import ContentInvalid, parse_yaml, read_text
from charter.redteam.rules import ProbeDetectorResult, ProbeObservation, Tally, results_from_tallies

Source = Literal["garak", "pyrit", "csv"]

OWASP_2023_RE: Final = re.compile(r"^LLM(0[1-9]|10):2023$")
OWASP_2025_RE: Final = re.compile(r"^LLM(0[1-9]|10):2025$")
_OWASP_ANY_RE: Final = re.compile(r"^(?:owasp:)?llm(0[1-9]|10)(?::(2023|2025))?$", re.IGNORECASE)


class ReportInvalid(ValueError):
    """A report that cannot be imported; the message names the file and the line (or item) and what is wrong."""

    def __init__(self, file: str, where: int | str | None, msg: str) -> None:
        self.file = file
        self.where = where
        self.msg = msg
        place = f"{file}:{where}" if isinstance(where, int) else (f"{file}: {where}" if where else file)
        super().__init__(f"{place}: {msg}")


class CrosswalkInvalid(ValueError):
    """The OWASP 2023 → 2025 crosswalk file is missing or malformed."""


# ----------------------------------------------------------------------------- attempts


@dataclass(frozen=True, slots=True)
class ImportedAttempt:
    source: Source
    attempt_id: str
    content_hash: str
    probe: str
    prompt: str
    outputs: tuple[str | None, ...]
    scores: Mapping[str, tuple[float | None, ...]]
    goal: str = ""
    line: int | None = None

    @property
    def dedup_key(self) -> str:
        return f"{self.source}:{self.attempt_id}:{self.content_hash}"

    @property
    def hit(self) -> bool:
        return any(s is not None and s >= 0.5 for values in self.scores.values() for s in values)

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "attempt_id": self.attempt_id,
            "content_hash": self.content_hash,
            "dedup_key": self.dedup_key,
            "probe": self.probe,
            "goal": self.goal,
            "prompt": self.prompt,
            "outputs": list(self.outputs),
            "scores": {k: list(v) for k, v in self.scores.items()},
            "hit": self.hit,
        }


def content_hash(*parts: Any) -> str:
    canonical = json.dumps(parts, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def attempt_hash(
    probe: str, prompt: str, outputs: Sequence[str | None], scores: Mapping[str, Sequence[float | None]]
) -> str:
    """SHA-256 of an attempt's content: probe, prompt, outputs (None distinct from ""), scores by detector.

    Field by field with separators rather than through JSON: a third of the import time for large reports.
    """
    h = hashlib.sha256()
    h.update(probe.encode("utf-8", "surrogatepass"))
    h.update(b"\x1f")
    h.update(prompt.encode("utf-8", "surrogatepass"))
    for output in outputs:
        h.update(b"\x1e\x00" if output is None else b"\x1e\x01" + output.encode("utf-8", "surrogatepass"))
    for name in sorted(scores):
        h.update(b"\x1d" + name.encode("utf-8", "surrogatepass") + b"\x1f" + repr(tuple(scores[name])).encode())
    return h.hexdigest()


def dedupe(attempts: Iterable[ImportedAttempt]) -> tuple[list[ImportedAttempt], int, list[str]]:
    """Attempts with repeated dedup keys removed; the number removed; warnings for ids reused with new content."""
    seen: set[str] = set()
    content_by_id: dict[tuple[str, str], str] = {}
    unique: list[ImportedAttempt] = []
    warnings: list[str] = []
    duplicates = 0
    for a in attempts:
        if a.dedup_key in seen:
            duplicates += 1
            continue
        seen.add(a.dedup_key)
        previous = content_by_id.setdefault((a.source, a.attempt_id), a.content_hash)
        if previous != a.content_hash:
            where = f"line {a.line}: " if a.line else ""
            warnings.append(f"{where}attempt {a.attempt_id} appears again with different content; both are kept")
        unique.append(a)
    return unique, duplicates, warnings


def new_attempts(attempts: Iterable[ImportedAttempt], known_keys: Iterable[str]) -> list[ImportedAttempt]:
    """The attempts whose dedup key is not stored yet: what a re-import adds (nothing, for the same report)."""
    known = set(known_keys)
    return [a for a in attempts if a.dedup_key not in known]


def tally_attempts(attempts: Iterable[ImportedAttempt]) -> dict[tuple[str, str], Tally]:
    """Counts per probe x detector, as garak's evaluator counts: one per output; a None output or score is a none."""
    counts: dict[tuple[str, str], list[int]] = collections.defaultdict(lambda: [0, 0, 0])
    for a in attempts:
        for detector, scores in a.scores.items():
            c = counts[a.probe, detector]
            for output, score in zip(a.outputs, scores, strict=True):
                if score is None or output is None:
                    c[2] += 1
                elif score >= 0.5:
                    c[1] += 1
                else:
                    c[0] += 1
    return {key: Tally(*c) for key, c in counts.items()}


def observations(
    attempts: Iterable[ImportedAttempt], *, run_id: str, finished_at: datetime, release: str | None = None
) -> list[ProbeObservation]:
    """Per probe, what an imported report saw: outputs with at least one score, and outputs any detector hit
    (the same unit garak counts in). Feeds `severity_for`, `status_after_observation` and `confirm_fix`."""
    counts: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    for a in attempts:
        for i, output in enumerate(a.outputs):
            if output is None:
                continue
            present = [v for v in (s[i] for s in a.scores.values()) if v is not None]
            if present:
                counts[a.probe][0] += 1
                counts[a.probe][1] += any(v >= 0.5 for v in present)
    return [
        ProbeObservation(run_id, finished_at, probe, evaluated, hits, release)
        for probe, (evaluated, hits) in sorted(counts.items())
    ]


def aggregate(
    attempts: Iterable[ImportedAttempt], classification: Mapping[str, tuple[str, ...]]
) -> list[ProbeDetectorResult]:
    return results_from_tallies(tally_attempts(attempts), classification)


@dataclass(frozen=True)
class ImportResult:
    format: Source
    file: str
    attempts: tuple[ImportedAttempt, ...]
    results: tuple[ProbeDetectorResult, ...]
    classification: Mapping[str, tuple[str, ...]]
    duplicates: int = 0
    warnings: tuple[str, ...] = ()
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def unclassified_probes(self) -> tuple[str, ...]:
        return tuple(sorted({r.probe for r in self.results if r.unclassified}))

    def as_json(self) -> dict[str, Any]:
        """The ``--json`` output of ``charter redteam import``."""
        return {
            "format": self.format,
            "file": self.file,
            "attempts": len(self.attempts),
            "duplicates_in_file": self.duplicates,
            "results": [r.as_json() for r in self.results],
            "unclassified_probes": list(self.unclassified_probes),
            "warnings": list(self.warnings),
            "meta": dict(self.meta),
        }


def finish(
    source: Source,
    file: str,
    attempts: Sequence[ImportedAttempt],
    classification: Mapping[str, tuple[str, ...]],
    warnings: Sequence[str] = (),
    meta: Mapping[str, Any] | None = None,
) -> ImportResult:
    unique, duplicates, dup_warnings = dedupe(attempts)
    all_warnings = [*warnings, *dup_warnings]
    probes = {a.probe for a in unique}
    unclassified = sorted(p for p in probes if not classification.get(p))
    if unclassified:
        all_warnings.append(
            f"{len(unclassified)} probe(s) without an OWASP classification, kept as unclassified: "
            + ", ".join(unclassified[:10])
            + (" ..." if len(unclassified) > 10 else "")
        )
    return ImportResult(
        format=source,
        file=file,
        attempts=tuple(unique),
        results=tuple(aggregate(unique, classification)),
        classification={p: tuple(classification.get(p, ())) for p in sorted(probes)},
        duplicates=duplicates,
        warnings=tuple(all_warnings),
        meta=dict(meta or {}),
    )


# ----------------------------------------------------------------------------- OWASP ids and the crosswalk


def parse_owasp_id(text: str, *, default_year: Literal["2023", "2025"] | None = None) -> str | None:
    """``owasp:llm01`` (garak, 2023), ``LLM01:2023``, ``LLM01:2025`` → the canonical id; None if not OWASP LLM.

    A bare ``LLM01`` takes `default_year`; without one it is ambiguous and raises ValueError.
    """
    m = _OWASP_ANY_RE.match(text.strip())
    if m is None:
        return None
    number, year = m.group(1), m.group(2)
    if year is None:
        year = "2023" if text.strip().lower().startswith("owasp:") else default_year
    if year is None:
        raise ValueError(
            f"{text!r} does not say which OWASP list it is from; write LLM{number}:2025 or LLM{number}:2023"
        )
    return f"LLM{number}:{year}"


@dataclass(frozen=True, slots=True)
class CrosswalkEntry:
    id_2023: str
    id_2025: str | None
    relation: Literal["equivalent", "partial", "none"]
    reason: str = ""


class Crosswalk:
    """OWASP LLM Top 10 2023 ids → the 2025 ids that cover them (equivalent or partial)."""

    def __init__(self, entries: Iterable[CrosswalkEntry]) -> None:
        self.entries = tuple(entries)
        mapping: dict[str, list[str]] = collections.defaultdict(list)
        for e in self.entries:
            if e.id_2025 and e.id_2025 not in mapping[e.id_2023]:
                mapping[e.id_2023].append(e.id_2025)
            mapping.setdefault(e.id_2023, [])
        self._map = {k: tuple(sorted(v)) for k, v in mapping.items()}

    def ids_2023(self) -> tuple[str, ...]:
        return tuple(sorted(self._map))

    def to_2025(self, id_2023: str) -> tuple[str, ...]:
        if id_2023 not in self._map:
            raise KeyError(f"{id_2023} is not in the OWASP 2023 → 2025 crosswalk")
        return self._map[id_2023]

    @classmethod
    def from_mappings(cls, rows: Iterable[Mapping[str, Any]], source: str = "crosswalk") -> Crosswalk:
        entries = []
        for i, row in enumerate(rows):
            where = f"{source}: mappings[{i}]"
            id_2023, id_2025, relation = row.get("id_2023"), row.get("id_2025"), row.get("relation")
            if not isinstance(id_2023, str) or not OWASP_2023_RE.match(id_2023):
                raise CrosswalkInvalid(f"{where}.id_2023: expected an id like 'LLM01:2023', got {id_2023!r}")
            if relation not in ("equivalent", "partial", "none"):
                raise CrosswalkInvalid(f"{where}.relation: expected equivalent, partial or none, got {relation!r}")
            if relation != "none" and (not isinstance(id_2025, str) or not OWASP_2025_RE.match(id_2025)):
                raise CrosswalkInvalid(f"{where}.id_2025: expected an id like 'LLM01:2025', got {id_2025!r}")
            entries.append(
                CrosswalkEntry(id_2023, id_2025 if relation != "none" else None, relation, str(row.get("reason", "")))
            )
        if not entries:
            raise CrosswalkInvalid(f"{source}: no mappings")
        return cls(entries)

    @classmethod
    def from_yaml_text(cls, text: str, source: str = "crosswalk") -> Crosswalk:
        try:
            data, _ = parse_yaml(text, source)
        except ContentInvalid as exc:
            raise CrosswalkInvalid(str(exc)) from None
        if not isinstance(data, dict) or not isinstance(data.get("mappings"), list):
            raise CrosswalkInvalid(f"{source}: expected a mapping with a 'mappings' list")
        return cls.from_mappings(data["mappings"], source)

    @classmethod
    def from_file(cls, path: Path) -> Crosswalk:
        try:
            text = read_text(path)
        except ContentInvalid as exc:
            raise CrosswalkInvalid(f"the OWASP crosswalk: {exc}") from None
        return cls.from_yaml_text(text, path.name)


def crosswalk_path() -> Path:
    return Path(__file__).resolve().parents[2] / "content" / "frameworks" / "owasp-llm-2023-to-2025.yaml"


def shipped_crosswalk() -> Crosswalk:
    """The crosswalk shipped in ``charter/content/frameworks``; CrosswalkInvalid if it is missing."""
    return Crosswalk.from_file(crosswalk_path())


def classify_tags(tags: Iterable[str], crosswalk: Crosswalk) -> tuple[str, ...]:
    """OWASP 2025 ids from a probe's tags: 2025 ids kept, 2023 ids (garak's ``owasp:llm01``) remapped."""
    out: set[str] = set()
    for tag in tags:
        try:
            oid = parse_owasp_id(str(tag))
        except ValueError:
            continue
        if oid is None:
            continue
        if oid.endswith(":2025"):
            out.add(oid)
        else:
            try:
                out.update(crosswalk.to_2025(oid))
            except KeyError:
                continue
    return tuple(sorted(out))
