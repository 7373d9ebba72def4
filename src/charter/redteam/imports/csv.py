"""Import a generic CSV of red-team results, for tools other than garak and PyRIT (or hand-run tests).

One row per score: one detector's score of one output of one attempt. Columns (a header row, comma-separated,
UTF-8; extra columns are ignored):

==============  ========  ==================================================================================
column          required  meaning
==============  ========  ==================================================================================
probe           yes       the probe (attack) name
detector        yes       the detector (scorer) name
score / hit     one       score in [0, 1] (>= 0.5 is a hit) or hit true/false/yes/no/1/0; empty = none
attempt_id      no        rows with the same id are one attempt (default: one attempt per probe+prompt+output)
output_index    no        which output of the attempt (0, 1, ...); default 0
prompt, output  no        the attack and the answer (evidence)
goal            no        what the attack tries to make the system do
owasp           no        OWASP ids: LLM01:2025 (or LLM01:2023 / owasp:llm01, remapped), several split by ; or ,
==============  ========  ==================================================================================
"""

from __future__ import annotations

import collections
import csv
import io
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from charter.redteam.imports.common import (
    Crosswalk,
    ImportedAttempt,
    ImportResult,
    ReportInvalid,
    attempt_hash,
    classify_tags,
    content_hash,
    finish,
    parse_owasp_id,
    shipped_crosswalk,
)

_TRUE = frozenset({"true", "yes", "1", "hit", "fail", "failed"})
_FALSE = frozenset({"false", "no", "0", "pass", "passed"})


def _score(row: Mapping[str, str], file: str, line: int) -> float | None:
    if "score" in row and (row.get("score") or "").strip():
        text = (row["score"] or "").strip()
        try:
            value = float(text)
        except ValueError:
            raise ReportInvalid(
                file, line, f"score {text!r} is not a number; use 0..1, or leave it empty for none"
            ) from None
        if math.isnan(value) or not 0.0 <= value <= 1.0:
            raise ReportInvalid(file, line, f"score {value} is outside 0..1")
        return value
    text = (row.get("hit") or "").strip().lower()
    if not text:
        return None
    if text in _TRUE:
        return 1.0
    if text in _FALSE:
        return 0.0
    raise ReportInvalid(file, line, f"hit {text!r} is not one of true/false/yes/no/1/0")


def parse_generic_csv(
    text: str,
    *,
    filename: str = "results.csv",
    crosswalk: Crosswalk | None = None,
    classification: Mapping[str, tuple[str, ...]] | None = None,
) -> ImportResult:
    """Parse the generic CSV; raises ReportInvalid naming the line and the column."""
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise ReportInvalid(filename, None, "empty file")
    if text.lstrip()[:1] in "[{":
        raise ReportInvalid(filename, 1, "this is JSON, not CSV (a garak report or a PyRIT export? use --format)")
    reader = csv.DictReader(io.StringIO(text))
    columns = [c.strip() for c in reader.fieldnames or []]
    reader.fieldnames = columns
    missing = [c for c in ("probe", "detector") if c not in columns]
    if missing or not ({"score", "hit"} & set(columns)):
        need = ", ".join([*missing, *([] if {"score", "hit"} & set(columns) else ["score (or hit)"])])
        raise ReportInvalid(filename, 1, f"missing column(s): {need}; found: {', '.join(columns) or 'none'}")
    groups: dict[str, dict[str, Any]] = {}
    owasp: dict[str, set[str]] = collections.defaultdict(set)
    previous = reader.line_num
    rows = 0
    try:
        for row in reader:
            line, previous = previous + 1, reader.line_num  # the line the row starts on
            rows += 1
            if None in row:
                raise ReportInvalid(filename, line, f"more values than the {len(columns)} columns")
            if any(v is None for v in row.values()):
                raise ReportInvalid(filename, line, "fewer values than columns (a cut-off line?)")
            probe, detector = (row.get("probe") or "").strip(), (row.get("detector") or "").strip()
            if not probe or not detector:
                raise ReportInvalid(filename, line, "'probe' and 'detector' must not be empty")
            try:
                index = int((row.get("output_index") or "0").strip() or 0)
            except ValueError:
                raise ReportInvalid(
                    filename, line, f"output_index {row.get('output_index')!r} is not a whole number"
                ) from None
            if not 0 <= index < 1_000:
                raise ReportInvalid(filename, line, f"output_index {index} is outside 0..999")
            prompt, output = row.get("prompt") or "", row.get("output")
            attempt_id = (row.get("attempt_id") or "").strip() or content_hash(probe, prompt, output)
            for tag in re.split(r"[;,|\s]+", (row.get("owasp") or "").strip()):
                if not tag:
                    continue
                try:
                    oid = parse_owasp_id(tag)
                except ValueError as exc:
                    raise ReportInvalid(filename, line, f"owasp: {exc}") from None
                if oid is None:
                    raise ReportInvalid(filename, line, f"owasp: {tag!r} is not an OWASP LLM id such as LLM01:2025")
                owasp[probe].add(oid)
            g = groups.setdefault(
                attempt_id,
                {
                    "probe": probe,
                    "prompt": prompt,
                    "goal": row.get("goal") or "",
                    "outputs": {},
                    "scores": {},
                    "line": line,
                },
            )
            if g["probe"] != probe:
                raise ReportInvalid(filename, line, f"attempt {attempt_id} is also in probe {g['probe']!r}")
            g["outputs"].setdefault(index, output)
            g["scores"][detector, index] = _score(row, filename, line)
    except csv.Error as exc:
        raise ReportInvalid(filename, reader.line_num, f"not valid CSV: {exc}") from None
    attempts = []
    for attempt_id, g in groups.items():
        n = max(g["outputs"]) + 1
        outputs = tuple(g["outputs"].get(i) for i in range(n))
        detectors = sorted({d for d, _ in g["scores"]})
        scores = {d: tuple(g["scores"].get((d, i)) for i in range(n)) for d in detectors}
        digest = attempt_hash(g["probe"], g["prompt"], outputs, scores)
        attempts.append(
            ImportedAttempt("csv", attempt_id, digest, g["probe"], g["prompt"], outputs, scores, g["goal"], g["line"])
        )
    walk = crosswalk
    cls: dict[str, tuple[str, ...]] = {}
    for probe in {a.probe for a in attempts}:
        ids = owasp.get(probe, set())
        if walk is None and any(i.endswith(":2023") for i in ids):
            walk = shipped_crosswalk()
        given = set((classification or {}).get(probe, ()))
        cls[probe] = tuple(sorted(given | set(classify_tags(ids, walk or Crosswalk([])))))
    return finish("csv", filename, attempts, cls, meta={"rows": rows})


def parse_generic_csv_file(path: Path, **options: Any) -> ImportResult:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ReportInvalid(path.name, None, f"not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ReportInvalid(str(path), None, f"cannot read: {exc.strerror}") from None
    return parse_generic_csv(text, filename=path.name, **options)
