"""Parsing and validating a metric batch (JSON already decoded) in one tight loop.

Ingestion must sustain tens of thousands of points per second, so a batch is not validated through one
Pydantic model per point: names and label sets repeat, and each distinct one is checked once. The rules are
those of schemas.PointIn / BatchIn (which document the API); every problem says where and what is allowed.
"""

from __future__ import annotations

import hashlib
import math
import re
from array import array
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from charter.monitoring.alerts.rules import labels_key
from charter.monitoring.metrics.catalog import (
    BATCH_ID,
    KNOWN_METRICS,
    LABEL_NAME,
    MAX_LABEL_VALUE,
    MAX_LABELS,
    METRIC_NAME,
)

_NAME = re.compile(METRIC_NAME)
_LABEL = re.compile(LABEL_NAME)
_BATCH = re.compile(BATCH_ID)
_POINT_KEYS = frozenset({"name", "value", "ts", "labels"})
MAX_ERRORS = 20


@dataclass(frozen=True)
class Limits:
    now: datetime
    max_future: timedelta
    retention: timedelta
    max_points: int


@dataclass
class ParsedBatch:
    batch_id: str
    names: list[str]
    labels: list[str]  # canonical label-set text per point
    stamps: list[str]  # UTC as 'YYYY-MM-DD HH:MM:SS.ffffff': what SQLite stores, and sortable as text
    values: list[float]
    digest: str

    def __len__(self) -> int:
        return len(self.values)


def stamp(ts: datetime) -> str:
    """The canonical UTC text of an aware datetime (see ParsedBatch.stamps)."""
    return ts.astimezone(UTC).isoformat(" ", "microseconds")[:26]


def from_stamp(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class BatchInvalid(ValueError):
    def __init__(self, errors: list[dict[str, Any]]) -> None:
        first = errors[0]
        where = ".".join(str(p) for p in first["loc"])
        more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
        super().__init__(f"{where}: {first['msg']}{more}; nothing was stored")
        self.errors = errors


def _ts(raw: Any) -> datetime | str:
    """An aware UTC datetime, or why the value is not a timestamp."""
    if isinstance(raw, str):
        try:
            dt = datetime.fromisoformat(raw)
        except ValueError:
            return f"{raw[:40]!r} is not an ISO 8601 timestamp (e.g. 2026-01-01T09:00:00Z)"
        if dt.tzinfo is None:
            return dt.replace(tzinfo=UTC)
        return dt if dt.utcoffset() == timedelta(0) and dt.tzinfo is UTC else dt.astimezone(UTC)
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        if not math.isfinite(raw):
            return "must be a finite number of Unix seconds or an ISO 8601 text"
        try:
            return datetime.fromtimestamp(raw, UTC)
        except (OverflowError, OSError, ValueError):
            return f"{raw!r} is out of range for Unix seconds"
    return "must be an ISO 8601 text or Unix seconds"


def parse_batch(payload: Any, limits: Limits) -> ParsedBatch:
    """Validate a decoded batch; raise BatchInvalid listing (up to 20) problems, each with its location."""
    errors: list[dict[str, Any]] = []

    def bad(loc: list[Any], msg: str) -> None:
        errors.append({"loc": loc, "msg": msg})

    if not isinstance(payload, Mapping):
        raise BatchInvalid([{"loc": ["body"], "msg": "must be an object with batch_id and points"}])
    extra = sorted(set(payload) - {"batch_id", "points"})
    if extra:
        bad([extra[0]], f"unknown field; a batch has batch_id and points (got {', '.join(extra)})")
    batch_id = payload.get("batch_id")
    if not isinstance(batch_id, str) or not _BATCH.match(batch_id):
        bad(["batch_id"], "required: your id for this batch (letters, digits, '.', '_', ':', '-'; at most 100)")
    raw_points = payload.get("points")
    if not isinstance(raw_points, list) or not raw_points:
        bad(["points"], "required: a non-empty list of {name, value, ts, labels}")
        raise BatchInvalid(errors)
    if len(raw_points) > limits.max_points:
        bad(["points"], f"a batch holds at most {limits.max_points} points; you sent {len(raw_points)} — split it")
        raise BatchInvalid(errors)
    if errors:
        raise BatchInvalid(errors)

    now = limits.now
    latest, earliest, now_text = stamp(now + limits.max_future), stamp(now - limits.retention), stamp(now)
    names: list[str] = []
    label_keys: list[str] = []
    stamps: list[str] = []
    values: list[float] = []
    sent_ts: list[Any] = []
    add_name, add_label, add_stamp, add_value, add_sent = (
        names.append, label_keys.append, stamps.append, values.append, sent_ts.append,
    )  # fmt: skip
    bounds: dict[str, tuple[float, float] | None] = {}  # checked names -> (min, max) of a known metric
    label_cache: dict[tuple[tuple[Any, Any], ...], str] = {}
    for i, p in enumerate(raw_points):
        if type(p) is not dict or not p.keys() <= _POINT_KEYS:
            if type(p) is not dict:
                bad(["points", i], "must be an object {name, value, ts, labels}")
            else:
                bad(
                    ["points", i],
                    f"unknown field {sorted(set(p) - _POINT_KEYS)[0]!r}; allowed: name, value, ts, labels",
                )
            if len(errors) >= MAX_ERRORS:
                break
            continue
        name: Any = p.get("name")
        value: Any = p.get("value")
        raw_ts = p.get("ts")
        raw_labels = p.get("labels")
        try:
            limits_of = bounds[name]
        except (KeyError, TypeError):
            if not isinstance(name, str) or not _NAME.match(name):
                bad(["points", i, "name"], f"{name!r} is not a metric name (letters, digits, '_', '.', ':'; 1-100)")
                if len(errors) >= MAX_ERRORS:
                    break
                continue
            info = KNOWN_METRICS.get(name)
            lo = -math.inf if info is None or info.minimum is None else info.minimum
            hi = math.inf if info is None or info.maximum is None else info.maximum
            limits_of = bounds[name] = None if info is None else (lo, hi)
        problem: tuple[str, str] | None = None
        vt = type(value)
        if vt is int:
            value = float(value)
        elif vt is not float:
            what = "missing" if value is None else f"{vt.__name__} {value!r}"[:60]
            problem = ("value", f"must be a number ({what})")
        elif not math.isfinite(value):
            problem = ("value", f"must be a finite number, not {value}")
        if problem is None and limits_of is not None and not limits_of[0] <= value <= limits_of[1]:
            problem = ("value", KNOWN_METRICS[name].check(name, value) or "out of range")
        if problem is None:
            if raw_ts is None:
                text = now_text
            elif type(raw_ts) is str and len(raw_ts) == 32 and raw_ts[10] == "T" and raw_ts.endswith("+00:00"):
                try:  # the common canonical form (Python's isoformat of a UTC time): validate, then slice
                    datetime.fromisoformat(raw_ts)
                    text = raw_ts[:10] + " " + raw_ts[11:26]
                except ValueError:
                    text = ""
            else:
                parsed = _ts(raw_ts)
                if isinstance(parsed, str):
                    problem, text = ("ts", parsed), "-"
                else:
                    text = stamp(parsed)
            if problem is None and not text:
                problem = ("ts", f"{str(raw_ts)[:40]!r} is not an ISO 8601 timestamp (e.g. 2026-01-01T09:00:00Z)")
            elif problem is None and text > latest:
                problem = (
                    "ts",
                    f"{from_stamp(text).isoformat()} is more than {int(limits.max_future.total_seconds())} s in the "
                    f"future (server time {now.isoformat()}); check the sender's clock",
                )
            elif problem is None and text < earliest:
                problem = (
                    "ts",
                    f"{from_stamp(text).isoformat()} is older than the raw retention of {limits.retention.days} days",
                )
        if problem is None:
            if not raw_labels:
                if raw_labels is not None and raw_labels != {}:
                    problem = ("labels", "must be an object of label name -> text")
                lk = "{}"
            elif type(raw_labels) is dict:
                items = tuple(raw_labels.items())
                cached = label_cache.get(items)
                if cached is None:
                    found = _label_problem(raw_labels)
                    if found:
                        bad(["points", i, "labels", *found[0]], found[1])
                        if len(errors) >= MAX_ERRORS:
                            break
                        continue
                    cached = label_cache[items] = labels_key(raw_labels)
                lk = cached
            else:
                problem = ("labels", "must be an object of label name -> text")
        if problem is not None:
            bad(["points", i, problem[0]], problem[1])
            if len(errors) >= MAX_ERRORS:
                break
            continue
        add_name(name)
        add_label(lk)
        add_stamp(text)
        add_value(value)
        add_sent(raw_ts)
    if errors:
        raise BatchInvalid(errors)
    # Of the points as sent (a point without ts is the same point on a retry), column by column.
    h = hashlib.sha256("\x1f".join(names).encode())
    h.update(array("d", values).tobytes())
    h.update("\x1f".join(map(str, sent_ts)).encode())
    h.update("\x1f".join(label_keys).encode())
    return ParsedBatch(str(batch_id), names, label_keys, stamps, values, h.hexdigest())


def _label_problem(labels: dict[Any, Any]) -> tuple[list[Any], str] | None:
    if len(labels) > MAX_LABELS:
        return [], f"at most {MAX_LABELS} labels per point"
    for k, v in labels.items():
        if not isinstance(k, str) or not _LABEL.match(k):
            return [k], "label names are letters, digits and '_' (not starting with a digit), at most 64"
        if not isinstance(v, str):
            return [k], f'label values are text (got {type(v).__name__}); send "{v}"'
        if len(v) > MAX_LABEL_VALUE:
            return [k], f"at most {MAX_LABEL_VALUE} characters"
    return None
