"""Import PyRIT memory exports: conversations (message pieces with their scores), JSON or CSV.

Format, from PyRIT's source: ``MemoryInterface.export_conversations(file_path=..., export_type="json"|"csv")``
writes ``MessagePiece.to_dict()`` (earlier ``PromptRequestPiece.to_dict()``) for every piece:
``id``, ``role`` (system | user | assistant | simulated_assistant | tool | developer), ``conversation_id``,
``sequence``, ``labels``, ``prompt_metadata``, ``converter_identifiers``, ``attack_identifier`` (earlier
``orchestrator_identifier``), ``original_value``, ``converted_value``, ``response_error`` (none | blocked |
processing | empty | unknown), ``scores`` (``Score.to_dict()``: ``score_value`` "true"/"false" or a float in
[0, 1], ``score_type`` true_false | float_scale, ``score_category``, ``scorer_class_identifier`` with
``__type__`` or, from PyRIT 0.11, ``class_name``; ``message_piece_id``, earlier ``prompt_request_response_id``).
JSON is a list of those objects; CSV has the same columns, nested values written by ``csv.DictWriter`` as
Python literals (older exporters flattened nested objects into dotted columns such as ``labels.op_name``).
Scores exported separately (a list of ``Score.to_dict()``) can be passed as `scores_text`.

Mapping to Charter: an attempt is an assistant piece (a real response; simulated ones are skipped); its prompt
is the last user piece before it in the conversation; its probe is ``labels["probe"]`` if set, else the attack
(orchestrator) class; each scorer class is a detector; a score of "true" or >= 0.5 is a hit, except for
scorers that say "true" when the target refused (``SelfAskRefusalScorer``), which are inverted. A response with
an error is a None output (counted in ``nones``). OWASP ids come from ``labels["owasp"]`` or `classification`.
"""

from __future__ import annotations

import ast
import collections
import csv
import io
import json
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any, Final, Literal

from charter.redteam.imports.common import (
    Crosswalk,
    ImportedAttempt,
    ImportResult,
    ReportInvalid,
    attempt_hash,
    classify_tags,
    finish,
    parse_owasp_id,
    shipped_crosswalk,
)

NESTED_COLUMNS: Final = frozenset(
    {
        "labels",
        "prompt_metadata",
        "converter_identifiers",
        "prompt_target_identifier",
        "attack_identifier",
        "orchestrator_identifier",
        "scorer_identifier",
        "scores",
        "targeted_harm_categories",
        "scorer_class_identifier",
        "score_category",
        "score_metadata",
    }
)
INVERTED_SCORERS: Final = frozenset({"SelfAskRefusalScorer"})
RESPONSE_ROLES: Final = frozenset({"assistant"})

Where = int | str


def _literal(value: str, file: str, where: Where, column: str) -> Any:
    text = value.strip()
    if text in ("", "None", "null"):
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise ReportInvalid(file, where, f"column '{column}': not a JSON or Python literal: {text[:60]!r}") from None


def _rows_from_csv(text: str, file: str, required: Collection[str]) -> list[tuple[Where, dict[str, Any]]]:
    reader = csv.DictReader(io.StringIO(text))
    columns = reader.fieldnames or []
    missing = [c for c in required if c not in columns]
    if missing:
        raise ReportInvalid(file, 1, f"missing column(s) {', '.join(missing)}; found: {', '.join(columns) or 'none'}")
    rows: list[tuple[Where, dict[str, Any]]] = []
    previous = reader.line_num
    try:
        for raw in reader:
            line, previous = previous + 1, reader.line_num  # the line the row starts on
            if None in raw:
                raise ReportInvalid(file, line, f"{len(raw[None])} more value(s) than the {len(columns)} columns")
            row: dict[str, Any] = {}
            for col, value in raw.items():
                if value is None:
                    raise ReportInvalid(file, line, f"the row stops before column '{col}' (a cut-off line?)")
                if col in NESTED_COLUMNS:
                    row[col] = _literal(value, file, line, col)
                elif "." in col and col.split(".", 1)[0] in NESTED_COLUMNS:
                    head, tail = col.split(".", 1)
                    row.setdefault(head, {})[tail] = value
                else:
                    row[col] = value
            rows.append((line, row))
    except csv.Error as exc:
        raise ReportInvalid(file, reader.line_num, f"not valid CSV: {exc}") from None
    return rows


def _rows_from_json(text: str, file: str) -> list[tuple[Where, dict[str, Any]]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportInvalid(file, exc.lineno, f"not valid JSON ({exc.msg} at column {exc.colno}); cut off?") from None
    if isinstance(data, dict) and isinstance(data.get("entry_type"), str):
        raise ReportInvalid(file, 1, "this is a garak report line, not a PyRIT export (use --format garak)")
    if not isinstance(data, list):
        raise ReportInvalid(file, 1, "a PyRIT export is a JSON list of message pieces (or of scores)")
    rows: list[tuple[Where, dict[str, Any]]] = []
    for i, item in enumerate(data, 1):
        if not isinstance(item, dict):
            raise ReportInvalid(file, f"item {i}", f"expected an object, got {type(item).__name__}")
        rows.append((f"item {i}", item))
    return rows


def _rows(
    text: str, file: str, fmt: Literal["json", "csv"] | None, required: Collection[str]
) -> list[tuple[Where, dict[str, Any]]]:
    stripped = text.lstrip()
    if not stripped:
        raise ReportInvalid(file, None, "empty file")
    kind = fmt or ("json" if stripped[0] in "[{" else "csv")
    return _rows_from_json(text, file) if kind == "json" else _rows_from_csv(text, file, required)


def _class_name(identifier: Any) -> str | None:
    if isinstance(identifier, dict):
        name = identifier.get("class_name") or identifier.get("__type__") or identifier.get("type")
        return str(name) if name else None
    return None


def _score_value(score: Mapping[str, Any], file: str, where: Where) -> float:
    value, kind = score.get("score_value"), score.get("score_type")
    text = str(value).strip().lower()
    if kind == "true_false" or text in ("true", "false"):
        if text not in ("true", "false"):
            raise ReportInvalid(file, where, f"a true_false score is 'true' or 'false', got {value!r}")
        return 1.0 if text == "true" else 0.0
    try:
        number = float(text)
    except ValueError:
        raise ReportInvalid(file, where, f"score_value {value!r} is neither true/false nor a number") from None
    if not 0.0 <= number <= 1.0:
        raise ReportInvalid(file, where, f"a float_scale score is between 0 and 1, got {number}")
    return number


def _labels(row: Mapping[str, Any] | None) -> dict[str, Any]:
    labels = row.get("labels") if row is not None else None
    return labels if isinstance(labels, dict) else {}


def _probe_name(response: Mapping[str, Any], request: Mapping[str, Any] | None) -> str:
    """``labels["probe"]`` of the response or its prompt, else the attack (orchestrator) class, else "pyrit"."""
    for row in (response, request):
        if row is not None and _labels(row).get("probe"):
            return str(_labels(row)["probe"])
    for row in (response, request):
        for key in ("attack_identifier", "orchestrator_identifier"):
            name = _class_name(row.get(key)) if row is not None else None
            if name:
                return name
    return "pyrit"


def _response_scores(
    found: Iterable[tuple[Where, str, Mapping[str, Any]]], inverted_scorers: Collection[str]
) -> dict[str, float | None]:
    """One score per scorer class (the highest if a scorer scored twice), inverted for refusal scorers."""
    scores: dict[str, float | None] = {}
    for where, file, score in found:
        name = _class_name(score.get("scorer_class_identifier")) or "pyrit.scorer"
        value = _score_value(score, file, where)
        if name in inverted_scorers:
            value = 1.0 - value
        previous = scores.get(name)
        scores[name] = value if previous is None else max(value, previous)
    return scores


def _require(row: Mapping[str, Any], keys: Collection[str], file: str, where: Where) -> None:
    missing = [k for k in keys if row.get(k) in (None, "")]
    if missing:
        raise ReportInvalid(file, where, f"message piece without {', '.join(repr(k) for k in missing)}")


def parse_pyrit_export(
    text: str,
    *,
    filename: str = "export.json",
    fmt: Literal["json", "csv"] | None = None,
    scores_text: str | None = None,
    scores_filename: str = "scores.json",
    classification: Mapping[str, tuple[str, ...]] | None = None,
    crosswalk: Crosswalk | None = None,
    inverted_scorers: Collection[str] = INVERTED_SCORERS,
) -> ImportResult:
    """Parse a PyRIT conversation export (and optionally a separate score export). Raises ReportInvalid."""
    pieces = _rows(text, filename, fmt, ("id", "role", "conversation_id"))
    by_id: dict[str, tuple[Where, dict[str, Any]]] = {}
    conversations: dict[str, list[tuple[int, dict[str, Any]]]] = collections.defaultdict(list)
    scores_by_piece: dict[str, list[tuple[Where, str, Mapping[str, Any]]]] = collections.defaultdict(list)
    for where, row in pieces:
        if "score_value" in row and "role" not in row:
            raise ReportInvalid(
                filename, where, "this is a score export; pass it as the scores file with the conversations"
            )
        _require(row, ("id", "role", "conversation_id"), filename, where)
        try:
            seq = int(row.get("sequence", -1) if row.get("sequence") not in (None, "") else -1)
        except (TypeError, ValueError):
            raise ReportInvalid(
                filename, where, f"'sequence' must be a whole number, got {row.get('sequence')!r}"
            ) from None
        row["_where"] = where
        by_id[str(row["id"])] = (where, row)
        conversations[str(row["conversation_id"])].append((seq, row))
        for score in row.get("scores") or ():
            if isinstance(score, dict):
                scores_by_piece[str(row["id"])].append((where, filename, score))
    warnings: list[str] = []
    if scores_text is not None:
        for where, score in _rows(scores_text, scores_filename, None, ("score_value",)):
            target = score.get("message_piece_id") or score.get("prompt_request_response_id")
            if target is None:
                raise ReportInvalid(
                    scores_filename, where, "score without 'message_piece_id' (or 'prompt_request_response_id')"
                )
            scores_by_piece[str(target)].append((where, scores_filename, score))
    unknown_targets = sorted(k for k in scores_by_piece if k not in by_id)
    if unknown_targets:
        warnings.append(f"{len(unknown_targets)} score(s) refer to message pieces not in the export; ignored")

    attempts: list[ImportedAttempt] = []
    tags: dict[str, set[str]] = collections.defaultdict(set)
    unscored = request_scores = 0
    for convo in conversations.values():
        convo.sort(key=lambda item: item[0])
        last_user: dict[str, Any] | None = None
        for _, row in convo:
            role = str(row["role"])
            if role == "user":
                last_user = row
                request_scores += len(scores_by_piece.get(str(row["id"]), ()))
                continue
            if role not in RESPONSE_ROLES:
                continue
            where = row["_where"]
            labels = _labels(row)
            user_labels = _labels(last_user)
            probe = _probe_name(row, last_user)
            for source in (labels, user_labels):
                if source and source.get("owasp"):
                    tags[probe].update(str(t) for t in str(source["owasp"]).replace(",", " ").split())
            error = str(row.get("response_error") or "none")
            value = row.get("converted_value", row.get("original_value"))
            output = None if error != "none" or value is None else str(value)
            scores = _response_scores(scores_by_piece.get(str(row["id"]), ()), inverted_scorers)
            if not scores and output is not None:
                unscored += 1
            prompt = str(last_user.get("converted_value") or last_user.get("original_value") or "") if last_user else ""
            digest = attempt_hash(probe, prompt, (output,), {k: (v,) for k, v in scores.items()})
            line = where if isinstance(where, int) else None
            attempts.append(
                ImportedAttempt(
                    "pyrit",
                    str(row["id"]),
                    digest,
                    probe,
                    prompt,
                    (output,),
                    {k: (v,) for k, v in scores.items()},
                    str(user_labels.get("objective") or ""),
                    line,
                )
            )
    if unscored:
        warnings.append(f"{unscored} response(s) have no score; they are not counted")
    if request_scores:
        warnings.append(f"{request_scores} score(s) are on prompts, not responses; not counted")
    attempts = _fill_errored(attempts)
    walk = crosswalk
    cls: dict[str, tuple[str, ...]] = {}
    for probe in {a.probe for a in attempts}:
        given = tuple((classification or {}).get(probe, ()))
        if tags.get(probe):
            if walk is None and any(
                (parse_owasp_id(t, default_year="2025") or "").endswith("2023") for t in tags[probe]
            ):
                walk = shipped_crosswalk()
            given = tuple(sorted(set(given) | set(classify_tags(_with_year(tags[probe]), walk or Crosswalk([])))))
        cls[probe] = given
    meta = {"pieces": len(pieces), "conversations": len(conversations)}
    return finish("pyrit", filename, attempts, cls, warnings, meta)


def _with_year(tags: Collection[str]) -> list[str]:
    out = []
    for t in tags:
        try:
            out.append(parse_owasp_id(t, default_year="2025") or t)
        except ValueError:
            out.append(t)
    return out


def _fill_errored(attempts: list[ImportedAttempt]) -> list[ImportedAttempt]:
    """An errored response has no score: count it as a none for every detector used on its probe."""
    detectors: dict[str, set[str]] = collections.defaultdict(set)
    for a in attempts:
        detectors[a.probe].update(a.scores)
    out = []
    for a in attempts:
        if a.outputs == (None,) and not a.scores and detectors[a.probe]:
            filled = {name: (None,) for name in sorted(detectors[a.probe])}
            a = ImportedAttempt(
                a.source, a.attempt_id, a.content_hash, a.probe, a.prompt, a.outputs, filled, a.goal, a.line
            )
        out.append(a)
    return out


def parse_pyrit_file(path: Path, scores_path: Path | None = None, **options: Any) -> ImportResult:
    def read(p: Path) -> str:
        try:
            return p.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise ReportInvalid(p.name, None, f"not UTF-8 text (byte {exc.start})") from None
        except OSError as exc:
            raise ReportInvalid(str(p), None, f"cannot read: {exc.strerror}") from None

    suffix = path.suffix.lower()
    fmt: Literal["json", "csv"] | None = "csv" if suffix == ".csv" else "json" if suffix == ".json" else None
    scores_text = read(scores_path) if scores_path is not None else None
    return parse_pyrit_export(
        read(path),
        filename=path.name,
        fmt=fmt,
        scores_text=scores_text,
        scores_filename=scores_path.name if scores_path is not None else "scores.json",
        **options,
    )
