"""Pure alerting rules: aggregations over a window, comparisons, the alert state machine, robust z-scores,
health. No database, no web imports."""

from __future__ import annotations

import json
import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal, get_args

from charter.kit.errors import IllegalTransition

RuleKind = Literal["threshold", "anomaly", "no_data", "drift"]
RULE_KINDS: Final[tuple[RuleKind, ...]] = get_args(RuleKind)
Aggregation = Literal["last", "avg", "p95", "max", "min", "rate"]
AGGREGATIONS: Final[tuple[Aggregation, ...]] = get_args(Aggregation)
# p95 and anomaly rules read at most this many of a window's newest points (D110): a sweep's cost is bounded
# whatever a window holds. 10,000 points put the 95th percentile and the median/MAD within a fraction of a
# percent of the distribution they sample.
MAX_WINDOW_POINTS: Final = 10_000
COMPARISONS: Final[dict[str, Callable[[float, float], bool]]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
Severity = Literal["info", "warning", "critical"]
SEVERITIES: Final[tuple[Severity, ...]] = get_args(Severity)
SEVERITY_RANK: Final[dict[str, int]] = {s: i for i, s in enumerate(SEVERITIES)}
Health = Literal["unknown", "healthy", "degraded", "critical"]
HEALTH: Final[tuple[Health, ...]] = get_args(Health)
AnomalyDirection = Literal["both", "above", "below"]
ANOMALY_DIRECTIONS: Final[tuple[AnomalyDirection, ...]] = get_args(AnomalyDirection)

ACTIVE_STATES: Final = frozenset({"pending", "firing"})
# Alert lifecycle, like Prometheus: a breach starts 'pending'; held for the rule's for-duration it is 'firing';
# when the condition clears it is 'resolved' (final: a later breach opens a new alert).
TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    "pending": frozenset({"firing", "resolved"}),
    "firing": frozenset({"resolved"}),
    "resolved": frozenset(),
}

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_UNIT_SECONDS: Final = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, None: 1}


def parse_duration(value: str | int | float) -> int:
    """'90s', '15m', '1h', '7d' or a number of seconds -> whole seconds."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):  # e.g. {} or [] from JSON
        raise ValueError("a duration is a number of seconds or text like '15m', '1h', '7d'")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        m = _DURATION.match(value)
        if not m:
            raise ValueError(f"{value!r} is not a duration; use seconds or text like '90s', '15m', '1h', '7d'")
        seconds = float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError("a duration cannot be negative")
    return int(seconds)


def format_duration(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def labels_key(labels: Mapping[str, str]) -> str:
    """The canonical text of a label set: the identity of a series (with its metric) and of an alert."""
    return json.dumps(dict(sorted(labels.items())), separators=(",", ":"), ensure_ascii=False)


def labels_match(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    """A rule's label filter: every selector label must be present with that value."""
    return all(labels.get(k) == v for k, v in selector.items())


def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default, Prometheus' quantile_over_time)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    pos = q * (len(ordered) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def counter_rate(points: Sequence[tuple[datetime, float]]) -> float | None:
    """Per-second increase of a counter over the points (resets to a lower value count from zero)."""
    if len(points) < 2:
        return None
    increase = 0.0
    prev = points[0][1]
    for _, value in points[1:]:
        increase += value - prev if value >= prev else value
        prev = value
    span = (points[-1][0] - points[0][0]).total_seconds()
    return increase / span if span > 0 else None


def aggregate(aggregation: str, points: Sequence[tuple[datetime, float]]) -> float | None:
    """The value of `aggregation` over time-ordered points; None when the window holds too little data."""
    if not points:
        return None
    values = [v for _, v in points]
    if aggregation == "last":
        return values[-1]
    if aggregation == "avg":
        return math.fsum(values) / len(values)
    if aggregation == "max":
        return max(values)
    if aggregation == "min":
        return min(values)
    if aggregation == "p95":
        return percentile(values, 0.95)
    if aggregation == "rate":
        return counter_rate(points)
    raise ValueError(f"unknown aggregation {aggregation!r}; allowed: {', '.join(AGGREGATIONS)}")


def compare(value: float, comparison: str, threshold: float) -> bool:
    return COMPARISONS[comparison](value, threshold)


@dataclass(frozen=True)
class RobustZ:
    z: float
    median: float
    mad: float


def robust_z(value: float, baseline: Sequence[float]) -> RobustZ:
    """Robust z-score of `value` against a baseline: 0.6745 (x - median) / MAD (Iglewicz and Hoaglin).

    When the MAD is zero (over half the baseline is one value) the mean absolute deviation scaled by
    1.2533 stands in; when that is zero too, any departure from the median is infinitely far.
    """
    med = percentile(baseline, 0.5)
    deviations = [abs(v - med) for v in baseline]
    mad = percentile(deviations, 0.5)
    diff = value - med
    if mad > 0:
        return RobustZ(0.6745 * diff / mad, med, mad)
    mean_ad = math.fsum(deviations) / len(deviations)
    if mean_ad > 0:
        return RobustZ(diff / (1.2533 * mean_ad), med, mad)
    return RobustZ(0.0 if diff == 0 else math.copysign(math.inf, diff), med, mad)


def anomalous(z: float, threshold: float, direction: str) -> bool:
    if direction == "above":
        return z > threshold
    if direction == "below":
        return z < -threshold
    return abs(z) > threshold


def next_state(
    current: str | None, breaching: bool, since: datetime | None, for_seconds: int, now: datetime
) -> str | None:
    """Where an alert goes after an evaluation. `current` is None when no alert is active for the series.

    Returns the new state, or None for "no change" (or "still no alert").
    """
    if current is None:
        if not breaching:
            return None
        return "firing" if for_seconds <= 0 else "pending"
    if current == "pending":
        if not breaching:
            return "resolved"
        if since is not None and now - since >= timedelta(seconds=for_seconds):
            return "firing"
        return None
    if current == "firing":
        return None if breaching else "resolved"
    return None


def check_transition(alert: str, current: str, target: str) -> None:
    allowed = TRANSITIONS.get(current, frozenset())
    if target not in allowed:
        raise IllegalTransition(alert, current, target, allowed)


def health(firing_severities: Sequence[str], has_data: bool) -> str:
    """critical if any critical alert fires, degraded if a warning fires, healthy otherwise; unknown before data."""
    if "critical" in firing_severities:
        return "critical"
    if "warning" in firing_severities:
        return "degraded"
    return "healthy" if has_data or firing_severities else "unknown"


def at_least(severity: str, minimum: str) -> bool:
    return SEVERITY_RANK.get(severity, -1) >= SEVERITY_RANK[minimum]


def describe(metric: str | None, aggregation: str, window_seconds: int, comparison: str, threshold: float) -> str:
    return f"{aggregation}({metric}[{format_duration(window_seconds)}]) {comparison} {threshold:g}"


ANOMALY_DEFAULTS: Final[dict[str, object]] = {"z": 3.5, "min_points": 10, "direction": "both"}
DRIFT_PARAMS: Final = frozenset({"reference", "share"})


def rule_problems(
    kind: str,
    metric: str | None,
    aggregation: str,
    window_seconds: int,
    comparison: str | None,
    threshold: float | None,
    params: Mapping[str, object],
) -> list[tuple[str, str]]:
    """Everything wrong with a rule's combination of fields, as (field, message); empty when it is sound."""
    problems: list[tuple[str, str]] = []
    if kind not in RULE_KINDS:
        return [("kind", f"must be one of {', '.join(RULE_KINDS)}")]
    if aggregation not in AGGREGATIONS:
        problems.append(("aggregation", f"must be one of {', '.join(AGGREGATIONS)}"))
    if kind in ("threshold", "anomaly") and not metric:
        problems.append(("metric", f"a {kind} rule watches one metric: name it"))
    if kind in ("threshold", "anomaly", "no_data") and window_seconds < 1:
        problems.append(("window", "must be at least 1 second"))
    if kind == "threshold":
        if comparison not in COMPARISONS:
            problems.append(("comparison", f"a threshold rule needs one of {', '.join(COMPARISONS)}"))
        if threshold is None or not math.isfinite(threshold):
            problems.append(("threshold", "a threshold rule needs a finite threshold"))
        if params:
            problems.append(("params", "a threshold rule takes no params"))
    else:
        if comparison is not None or threshold is not None:
            problems.append(("threshold", f"a {kind} rule has no comparison or threshold"))
    if kind == "anomaly":
        unknown = set(params) - set(ANOMALY_DEFAULTS)
        if unknown:
            problems.append(("params", f"unknown {', '.join(sorted(unknown))}; allowed: z, min_points, direction"))
        z = params.get("z", ANOMALY_DEFAULTS["z"])
        if isinstance(z, bool) or not isinstance(z, int | float) or not 0 < z < 1000:
            problems.append(("params.z", "the robust z-score threshold must be a number above 0 (3.5 is usual)"))
        mp = params.get("min_points", ANOMALY_DEFAULTS["min_points"])
        if isinstance(mp, bool) or not isinstance(mp, int) or mp < 3:
            problems.append(("params.min_points", "must be a whole number of at least 3"))
        if params.get("direction", "both") not in ANOMALY_DIRECTIONS:
            problems.append(("params.direction", f"must be one of {', '.join(ANOMALY_DIRECTIONS)}"))
    if kind == "no_data" and params:
        problems.append(("params", "a no_data rule takes no params"))
    if kind == "drift":
        if metric:
            problems.append(("metric", "a drift rule watches drift checks, not a metric"))
        unknown = set(params) - DRIFT_PARAMS
        if unknown:
            problems.append(("params", f"unknown {', '.join(sorted(unknown))}; allowed: reference, share"))
        share = params.get("share")
        if share is not None and (isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share <= 1):
            problems.append(("params.share", "must be a number above 0 and at most 1"))
        ref = params.get("reference")
        if ref is not None and not isinstance(ref, str):
            problems.append(("params.reference", "must be the name of a reference profile"))
    return problems
