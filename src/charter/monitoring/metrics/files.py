"""Reading metric points from a file for `charter metrics push` (stdlib only).

CSV, long form: columns name, value, optional ts, and any other column is a label (empty cell: no label).
CSV, wide form (no 'name' column): a ts (or timestamp) column and one column per metric, as in seed 002's
ModelMetrics; the label columns (default: release, stage) and any non-numeric cell are labels.
JSON Lines: one point {name, value, ts?, labels?} per line, or one wide object {ts, accuracy, ...} per line.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

from charter.monitoring.metrics.catalog import is_metric_name

TS_COLUMNS = ("ts", "timestamp", "time")
LABEL_COLUMNS = ("release", "stage")


class MetricFileError(ValueError):
    pass


def _number(text: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise MetricFileError(f"{where}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise MetricFileError(f"{where}: {text!r} is not a finite number")
    return value


def _ts(raw: Any) -> Any:
    if isinstance(raw, str):
        raw = raw.strip()
        try:
            return float(raw)  # Unix seconds
        except ValueError:
            return raw or None
    return raw


def read_points(
    path: str | Path, fmt: str | None = None, label_columns: tuple[str, ...] = LABEL_COLUMNS
) -> list[dict[str, Any]]:
    p = Path(path)
    text = p.read_text(encoding="utf-8-sig")
    if not text.strip():
        raise MetricFileError(f"{p.name} is empty")
    kind = fmt or ("jsonl" if p.suffix.lower() in (".jsonl", ".ndjson", ".json") else "csv")
    points = _jsonl(text, label_columns) if kind == "jsonl" else _csv(text, label_columns)
    if not points:
        raise MetricFileError(f"{p.name} holds no points")
    return points


def _csv(text: str, label_columns: tuple[str, ...]) -> list[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or []]
    if not header:
        raise MetricFileError("line 1 must be a header")
    reader.fieldnames = header
    ts_col = next((c for c in header if c.lower() in TS_COLUMNS), None)
    out: list[dict[str, Any]] = []
    if "name" in header:
        if "value" not in header:
            raise MetricFileError("a CSV with a 'name' column needs a 'value' column")
        label_cols = [c for c in header if c not in ("name", "value") and c != ts_col]
        for row in reader:
            where = f"line {reader.line_num}"
            point: dict[str, Any] = {"name": (row["name"] or "").strip(), "value": _number(row["value"] or "", where)}
            if ts_col and row.get(ts_col):
                point["ts"] = _ts(row[ts_col])
            labels = {c: row[c] for c in label_cols if row.get(c)}
            if labels:
                point["labels"] = labels
            out.append(point)
        return out
    metric_cols = [c for c in header if c != ts_col and c not in label_columns and is_metric_name(c)]
    for row in reader:
        where = f"line {reader.line_num}"
        labels = {c: row[c].strip() for c in label_columns if (row.get(c) or "").strip()}
        values = {}
        for c in metric_cols:
            cell = (row.get(c) or "").strip()
            if not cell:
                continue
            try:
                values[c] = _number(cell, f"{where}, column {c}")
            except MetricFileError:
                labels[c] = cell  # a text column: a label of every point on the line
        ts = _ts(row[ts_col]) if ts_col and row.get(ts_col) else None
        for name, value in values.items():
            point = {"name": name, "value": value, **({"ts": ts} if ts is not None else {})}
            if labels:
                point["labels"] = labels
            out.append(point)
    return out


def _jsonl(text: str, label_columns: tuple[str, ...]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as exc:
            raise MetricFileError(f"line {number} is not valid JSON: {exc}") from None
        if not isinstance(obj, dict):
            raise MetricFileError(f"line {number} must be a JSON object")
        if "name" in obj:
            out.append(obj)
            continue
        ts = next((obj[k] for k in TS_COLUMNS if k in obj), None)
        labels = {**{k: str(obj[k]) for k in label_columns if obj.get(k) is not None}, **(obj.get("labels") or {})}
        for key, value in obj.items():
            if key in TS_COLUMNS or key == "labels" or key in label_columns:
                continue
            out.append({"name": key, "value": value, **({"ts": ts} if ts is not None else {}), "labels": labels})
    return out
