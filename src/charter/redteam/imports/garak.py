"""Import a garak report (``garak.<run>.report.jsonl``, garak 0.16 format; older 0.9+ reports are read too).

Format, from garak's source (``garak/attempt.py`` ``Attempt.as_dict``, ``garak/harnesses/base.py``,
``garak/evaluators/base.py``, ``garak/command.py``) and ``docs/source/reporting.rst``: one JSON object per line,
each with an ``entry_type``:

- ``start_run setup`` (run configuration, e.g. ``plugins.target_type``/``plugins.target_name``), ``init``
  (``garak_version``, ``start_time``, ``run``), ``completion``, ``digest``, ``probe_summary``: metadata;
- ``plugin_cache`` (garak 0.15+): ``plugin_cache.probes["probes.<module>.<Class>"].tags``, e.g. ``owasp:llm01``;
- ``attempt``: ``uuid``, ``seq``, ``status`` (0 new, 1 answered, 2 answered and scored), ``probe_classname``
  (``<module>.<Class>``), ``prompt`` (a conversation: ``{"turns": [{"role", "content": {"text", ...}}]}``),
  ``outputs`` (one message ``{"text", ...}`` or null per generation), ``detector_results``
  (``{"<module>.<Class>": [score per output]}``), ``goal``. Every attempt is written twice: with status 1 after
  probing, with status 2 after detection. Only status 2 carries scores, so only status 2 is imported;
- ``eval``: per probe x detector ``passed``, ``fails``, ``nones``, ``total_evaluated`` (older: ``total``).

Counting follows garak's evaluator: each output x detector is one evaluation; a score >= 0.5 is a hit
(``fails``); a None output or score is a none and is not in the total. The ``eval`` lines are checked against
the attempts; a disagreement is reported as a warning, the attempts win.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from charter.redteam.imports.common import (
    Crosswalk,
    ImportedAttempt,
    ImportResult,
    ReportInvalid,
    attempt_hash,
    classify_tags,
    finish,
    shipped_crosswalk,
)
from charter.redteam.rules import Tally

_loads = json.loads


def _strip(name: str, *prefixes: str) -> str:
    for prefix in prefixes:
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def _json_problem(line: str, exc: json.JSONDecodeError, lineno: int) -> str:
    if lineno == 1 and line.startswith("["):
        return "this is a JSON array, not garak JSON Lines (a PyRIT export? use --format pyrit)"
    if "," in line and not line.startswith("{"):
        return "not JSON (a CSV row? use --format csv for a generic CSV)"
    return f"not valid JSON ({exc.msg} at column {exc.colno}); the line is cut off or corrupted"


def _text_of(message: Any, where: str, file: str, lineno: int) -> str | None:
    """The text of a garak Message dict (0.10+) or a plain string (0.9); None for a missing output."""
    if message is None:
        return None
    if isinstance(message, str):
        return message
    if isinstance(message, dict):
        text = message.get("text")
        if text is None or isinstance(text, str):
            return text
    raise ReportInvalid(file, lineno, f"{where}: expected a message object with 'text' or null, got {message!r:.80}")


def _prompt_text(prompt: Any, file: str, lineno: int) -> str:
    if prompt is None:
        return ""
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, dict) and isinstance(prompt.get("turns"), list):
        texts = [
            _text_of(t.get("content"), "prompt", file, lineno) or ""
            for t in prompt["turns"]
            if isinstance(t, dict) and t.get("role") == "user"
        ]
        return texts[-1] if texts else ""
    raise ReportInvalid(file, lineno, "prompt: expected a conversation object with 'turns'")


def _score(value: Any, detector: str, file: str, lineno: int) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise ReportInvalid(file, lineno, f"detector_results['{detector}']: expected numbers or null, got {value!r}")
    return float(value)


def _attempt(entry: dict[str, Any], file: str, lineno: int) -> ImportedAttempt:
    uuid = entry.get("uuid")
    probe = entry.get("probe_classname")
    if not isinstance(uuid, str) or not uuid:
        raise ReportInvalid(file, lineno, "attempt without a 'uuid'")
    if not isinstance(probe, str) or not probe:
        raise ReportInvalid(file, lineno, "attempt without a 'probe_classname'")
    probe = _strip(probe, "garak.probes.", "probes.")
    raw_outputs = entry.get("outputs")
    results = entry.get("detector_results")
    if not isinstance(raw_outputs, list):
        raise ReportInvalid(file, lineno, "attempt 'outputs' must be a list")
    if not isinstance(results, dict):
        raise ReportInvalid(file, lineno, "attempt 'detector_results' must be an object of detector → scores")
    outputs = tuple(_text_of(o, f"outputs[{i}]", file, lineno) for i, o in enumerate(raw_outputs))
    scores: dict[str, tuple[float | None, ...]] = {}
    for name, values in results.items():
        if not isinstance(values, list):
            raise ReportInvalid(file, lineno, f"detector_results['{name}'] must be a list of scores")
        if len(values) != len(outputs):
            raise ReportInvalid(
                file,
                lineno,
                f"detector_results['{name}'] has {len(values)} score(s) for {len(outputs)} output(s); "
                "garak writes one score per output",
            )
        scores[_strip(name, "garak.detectors.", "detectors.", "detector.")] = tuple(
            _score(v, name, file, lineno) for v in values
        )
    prompt = _prompt_text(entry.get("prompt"), file, lineno)
    goal = entry.get("goal") if isinstance(entry.get("goal"), str) else ""
    digest = attempt_hash(probe, prompt, outputs, scores)
    return ImportedAttempt("garak", uuid, digest, probe, prompt, outputs, scores, goal or "", lineno)


def _int(entry: Mapping[str, Any], key: str, file: str, lineno: int, default: int | None = None) -> int:
    value = entry.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ReportInvalid(file, lineno, f"eval '{key}' must be a whole number, got {value!r}")
    return value


def parse_garak_lines(
    lines: Iterable[str],
    *,
    filename: str = "report.jsonl",
    crosswalk: Crosswalk | None = None,
    probe_tags: Mapping[str, Sequence[str]] | None = None,
) -> ImportResult:
    """Parse a garak report. Raises ReportInvalid (file:line: what) on the first line that is not garak's format.

    `probe_tags` (probe → tags such as ``owasp:llm01``) classifies probes of reports older than garak 0.15,
    which carry no ``plugin_cache``; tags in the report win.
    """
    walk = crosswalk if crosswalk is not None else shipped_crosswalk()
    attempts: list[ImportedAttempt] = []
    evals: dict[tuple[str, str], tuple[Tally, int]] = {}
    tags: dict[str, list[str]] = {p: list(t) for p, t in (probe_tags or {}).items()}
    report_tags: dict[str, list[str]] = {}
    status_seen: dict[str, set[int]] = collections.defaultdict(set)
    meta: dict[str, Any] = {}
    lineno = 0
    for lineno, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line:
            continue
        try:
            entry = _loads(line)
        except json.JSONDecodeError as exc:
            raise ReportInvalid(filename, lineno, _json_problem(line, exc, lineno)) from None
        if not isinstance(entry, dict):
            raise ReportInvalid(
                filename, lineno, f"expected a JSON object (a garak report entry), got {type(entry).__name__}"
            )
        kind = entry.get("entry_type")
        if kind == "attempt":
            status = entry.get("status")
            if status not in (0, 1, 2):
                raise ReportInvalid(filename, lineno, f"attempt 'status' must be 0, 1 or 2, got {status!r}")
            if isinstance(entry.get("uuid"), str):
                status_seen[entry["uuid"]].add(status)
            if status == 2:
                attempts.append(_attempt(entry, filename, lineno))
        elif kind == "eval":
            probe, detector = entry.get("probe"), entry.get("detector")
            if not isinstance(probe, str) or not isinstance(detector, str):
                raise ReportInvalid(filename, lineno, "eval without 'probe' and 'detector'")
            total = entry.get("total_evaluated", entry.get("total"))
            passed = _int(entry, "passed", filename, lineno)
            fails = _int(entry, "fails", filename, lineno, default=(total - passed) if isinstance(total, int) else None)
            nones = _int(entry, "nones", filename, lineno, default=0)
            key = (_strip(probe, "probes."), _strip(detector, "detectors.", "detector."))
            evals[key] = (Tally(passed, fails, nones), lineno)
        elif kind == "plugin_cache":
            cache = entry.get("plugin_cache")
            probes = cache.get("probes") if isinstance(cache, dict) else None
            for name, info in (probes or {}).items():
                if isinstance(info, dict) and isinstance(info.get("tags"), list):
                    report_tags[_strip(str(name), "probes.")] = [str(t) for t in info["tags"]]
        elif kind == "init":
            meta.update(
                garak_version=entry.get("garak_version"), run=entry.get("run"), start_time=entry.get("start_time")
            )
        elif kind == "start_run setup":
            meta["target_type"] = entry.get("plugins.target_type", entry.get("plugins.model_type"))
            meta["target_name"] = entry.get("plugins.target_name", entry.get("plugins.model_name"))
        elif not isinstance(kind, str):
            hint = (
                "a garak hit log line (*.hitlog.jsonl); import the report (*.report.jsonl) instead"
                if "attempt_id" in entry and "detector" in entry
                else "this line is not a garak report entry (no 'entry_type')"
            )
            raise ReportInvalid(filename, lineno, hint)
    if lineno == 0 or (not attempts and not evals and not meta):
        raise ReportInvalid(filename, None, "empty: no garak report entries")
    tags.update(report_tags)
    warnings = []
    unscored = sum(1 for s in status_seen.values() if 2 not in s)
    if unscored:
        warnings.append(
            f"{unscored} attempt(s) have no status-2 entry (never scored: the run stopped early?); not counted"
        )
    probes = {a.probe for a in attempts} | {p for p, _ in evals}
    classification = {p: classify_tags(tags.get(p, ()), walk) for p in probes}
    meta["status2_attempts"] = len(attempts)
    result = finish("garak", filename, attempts, classification, warnings, meta)
    eval_warnings = _check_evals(result, evals)
    return dataclasses.replace(result, warnings=(*eval_warnings, *result.warnings)) if eval_warnings else result


def _check_evals(result: ImportResult, evals: Mapping[tuple[str, str], tuple[Tally, int]]) -> list[str]:
    """garak's own eval counts against the attempts' (after dedup)."""
    mine = {(r.probe, r.detector): r.tally for r in result.results}
    warnings = []
    for (probe, detector), (theirs, lineno) in sorted(evals.items()):
        ours = mine.get((probe, detector))
        if ours is None:
            warnings.append(
                f"line {lineno}: eval for {probe} / {detector} has no scored attempts in the file; not counted"
            )
        elif (ours.passed, ours.fails) != (theirs.passed, theirs.fails):
            warnings.append(
                f"line {lineno}: garak's eval for {probe} / {detector} says {theirs.passed} passed, {theirs.fails} "
                f"failed; its attempts give {ours.passed} passed, {ours.fails} failed (the attempts are used)"
            )
    return warnings


def parse_garak_report(text: str, **options: Any) -> ImportResult:
    return parse_garak_lines(text.splitlines(), **options)


def parse_garak_file(path: Path, **options: Any) -> ImportResult:
    try:
        with path.open(encoding="utf-8") as handle:
            return parse_garak_lines(handle, filename=path.name, **options)
    except UnicodeDecodeError as exc:
        raise ReportInvalid(path.name, None, f"not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ReportInvalid(str(path), None, f"cannot read: {exc.strerror}") from None
