"""Pure evaluation rules: names, the run state machine, run summaries, the pass rule, regression detection."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, get_args

from charter.evaluation.stats import wilson_interval

RunStatus = Literal["queued", "running", "completed", "failed", "cancelled"]
RUN_STATUSES: Final[tuple[str, ...]] = get_args(RunStatus)
RUN_TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    "queued": frozenset({"running", "cancelled"}),
    "running": frozenset({"running", "completed", "failed", "cancelled"}),  # running -> running: resumed
    "failed": frozenset({"running"}),  # resumed after a failure (an unreachable target, a kill)
    "completed": frozenset(),
    "cancelled": frozenset(),
}
FINAL_RUN_STATUSES: Final = frozenset({"completed", "cancelled"})
BenchmarkStatus = Literal["open", "closed"]
BENCHMARK_TRANSITIONS: Final[dict[str, frozenset[str]]] = {"open": frozenset({"closed"}), "closed": frozenset()}
Scale = Literal["binary", "interval"]
SCALES: Final[tuple[str, ...]] = get_args(Scale)
STAGES: Final[tuple[str, ...]] = ("sandbox", "pilot", "production")
NAME: Final = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
NAME_HELP: Final = "lower-case letters, digits, '.', '_' and '-', starting with a letter or digit (at most 100)"
LEASE_SECONDS: Final = 300  # a run not heard from for this long is taken to be dead and may be resumed


def check_name(value: str, what: str) -> str | None:
    """Why `value` is not a valid name for `what`, or None."""
    if NAME.fullmatch(value):
        return None
    return f"{what} name {value!r} is not allowed: {NAME_HELP}"


def scorer_names(configs: Iterable[Mapping[str, Any]]) -> list[str]:
    """A name per scorer: its type, with a number when the type repeats (contains, contains_2)."""
    names: list[str] = []
    seen: dict[str, int] = {}
    for config in configs:
        kind = str(config["type"])
        seen[kind] = seen.get(kind, 0) + 1
        names.append(kind if seen[kind] == 1 else f"{kind}_{seen[kind]}")
    return names


@dataclass(frozen=True)
class ItemScores:
    status: str
    scores: Mapping[str, Mapping[str, Any]]


def summarise(items: Iterable[ItemScores], names: list[str], planned: int) -> dict[str, Any]:
    """Per scorer: items scored, mean value, passes, pass rate over all planned items (an errored or missing
    item counts as not passed) with its Wilson 95 % interval."""
    listed = list(items)
    out: dict[str, Any] = {}
    for name in names:
        values = [float(i.scores[name]["value"]) for i in listed if i.status == "completed" and name in i.scores]
        passes = sum(1 for i in listed if i.status == "completed" and i.scores.get(name, {}).get("passed") is True)
        low, high = wilson_interval(passes, planned) if planned else (0.0, 1.0)
        out[name] = {
            "n": len(values),
            "mean": sum(values) / len(values) if values else None,
            "passed": passes,
            "pass_rate": passes / planned if planned else None,
            "pass_rate_wilson95": [low, high],
        }
    return out


def run_passed(summary: Mapping[str, Any], threshold: float | None) -> bool | None:
    """A run passes when every scorer's pass rate reaches the threshold; None without a threshold."""
    if threshold is None:
        return None
    return all((s["pass_rate"] or 0.0) >= threshold for s in summary.values())


@dataclass(frozen=True)
class Regression:
    dropped: bool
    reason: str


def regression(baseline: float, passes: int, n: int, max_drop: float) -> Regression:
    """Has the pass rate dropped? Yes when it fell more than `max_drop` below the baseline, or when its Wilson
    95 % interval lies wholly below the baseline."""
    if n == 0:
        return Regression(True, "no item could be scored")
    rate = passes / n
    low, high = wilson_interval(passes, n)
    if baseline - rate > max_drop:
        return Regression(
            True,
            f"pass rate {rate:.3f} is {baseline - rate:.3f} below the baseline {baseline:.3f} "
            f"(more than the {max_drop:.3f} allowed)",
        )
    if high < baseline:
        return Regression(
            True, f"pass rate {rate:.3f}: its 95% interval [{low:.3f}, {high:.3f}] excludes the baseline {baseline:.3f}"
        )
    return Regression(False, f"pass rate {rate:.3f} within {max_drop:.3f} of the baseline {baseline:.3f}")
