"""Expert benchmark report: blinded pairwise ratings of the AI's answer against the expert's.

Each rating is ``(task_id, rater, verdict[, criterion])`` with verdict ``ai_better``, ``tie`` or ``human_better``.
The report (the ``charter eval benchmark report --json`` contract) gives

- ``majority``: one outcome per unit (a task, or a task x criterion): the verdict a strict majority of its raters
  chose, else ``tie``;
- ``pooled``: every rating counted once;

each with win / tie / loss counts and rates, ``win_or_tie_rate`` and its Wilson interval; inter-rater agreement
over the units: ``fleiss_kappa`` (``agreement.fleiss_kappa``: statsmodels' value when every unit has the same number
of raters, Gwet's generalisation otherwise) and nominal ``krippendorff_alpha`` (missing ratings allowed). Units rated
by fewer than ``min_raters`` raters have their task ids listed in ``units_below_min_raters`` and are still counted
in the tallies (a single-rated unit is its own majority) but carry no agreement.

When ratings carry a criterion, every rating must carry one: the top-level figures then treat each
(task, criterion) pair as a unit and ``by_criterion`` gives the same report per criterion.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from charter.evaluation.agreement import fleiss_kappa, krippendorff_alpha_from_counts
from charter.evaluation.stats import StatisticsInputError, wilson_interval

__all__ = [
    "VERDICTS",
    "BenchmarkInputError",
    "BenchmarkReport",
    "Outcome",
    "Rating",
    "benchmark_report",
]

VERDICTS: tuple[str, str, str] = ("ai_better", "tie", "human_better")
_VERDICT_INDEX = {v: i for i, v in enumerate(VERDICTS)}


class BenchmarkInputError(StatisticsInputError):
    """Ratings that cannot be reported on; ``index`` is the 0-based position of the offending rating, if any."""

    def __init__(self, message: str, *, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index


@dataclass(frozen=True)
class Rating:
    task_id: str
    rater: str
    verdict: str
    criterion: str | None = None


@dataclass(frozen=True)
class Outcome:
    """Win / tie / loss tallies from the AI's side (win = ``ai_better``)."""

    n: int
    win: int
    tie: int
    loss: int
    win_rate: float | None
    tie_rate: float | None
    loss_rate: float | None
    win_or_tie_rate: float | None
    win_or_tie_wilson95: tuple[float, float]

    @classmethod
    def of(cls, counts: np.ndarray[Any, np.dtype[np.int64]], confidence: float) -> Outcome:
        win, tie, loss = (int(c) for c in counts)
        n = win + tie + loss

        def rate(k: int) -> float | None:
            return k / n if n else None

        return cls(
            n=n,
            win=win,
            tie=tie,
            loss=loss,
            win_rate=rate(win),
            tie_rate=rate(tie),
            loss_rate=rate(loss),
            win_or_tie_rate=rate(win + tie),
            win_or_tie_wilson95=wilson_interval(win + tie, n, confidence),
        )


@dataclass(frozen=True)
class BenchmarkReport:
    majority: Outcome
    pooled: Outcome
    fleiss_kappa: float | None
    krippendorff_alpha: float | None
    observed_agreement: float | None
    tasks: int
    raters: int
    ratings: int
    units_below_min_raters: list[str]
    by_criterion: dict[str, BenchmarkReport] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        def fix(node: Any) -> Any:
            if isinstance(node, dict):
                return {k: fix(v) for k, v in node.items()}
            if isinstance(node, tuple):
                return list(node)
            if isinstance(node, list):
                return [fix(v) for v in node]
            return node

        result: dict[str, Any] = fix(asdict(self))
        return result


def _coerce(raw: Rating | Mapping[str, Any] | tuple[Any, ...], index: int) -> Rating:
    if isinstance(raw, Rating):
        fields: tuple[Any, ...] = (raw.task_id, raw.rater, raw.verdict, raw.criterion)
    elif isinstance(raw, Mapping):
        unknown = set(raw) - {"task_id", "rater", "verdict", "criterion"}
        if unknown:
            raise BenchmarkInputError(
                f"rating {index}: unknown fields {sorted(unknown)}; allowed: task_id, rater, verdict, criterion",
                index=index,
            )
        fields = (raw.get("task_id"), raw.get("rater"), raw.get("verdict"), raw.get("criterion"))
    elif isinstance(raw, tuple | list) and len(raw) in (3, 4):
        fields = (*raw, None) if len(raw) == 3 else tuple(raw)
    else:
        raise BenchmarkInputError(
            f"rating {index}: expected (task_id, rater, verdict[, criterion]), got {raw!r}", index=index
        )
    task_id, rater, verdict, criterion = fields
    if isinstance(task_id, int) and not isinstance(task_id, bool):
        task_id = str(task_id)
    for name, value in (("task_id", task_id), ("rater", rater), ("verdict", verdict)):
        if not isinstance(value, str) or not value.strip():
            raise BenchmarkInputError(f"rating {index}: {name} is missing or empty ({value!r})", index=index)
    v = str(verdict).strip().lower()
    if v not in _VERDICT_INDEX:
        raise BenchmarkInputError(
            f"rating {index}: unknown verdict {verdict!r} for task {task_id!r}; allowed: {', '.join(VERDICTS)}",
            index=index,
        )
    if criterion is not None and (not isinstance(criterion, str) or not criterion.strip()):
        criterion = None
    return Rating(str(task_id).strip(), str(rater).strip(), v, criterion.strip() if criterion else None)


def _validate(
    raw: Iterable[Rating | Mapping[str, Any] | tuple[Any, ...]],
    known_tasks: Collection[str] | None,
    authors: Mapping[str, Collection[str]] | None,
) -> list[Rating]:
    ratings = [_coerce(r, i) for i, r in enumerate(raw)]
    if not ratings:
        raise BenchmarkInputError("no ratings: a benchmark report needs at least one rating")
    with_criterion = [r.criterion is not None for r in ratings]
    if any(with_criterion) and not all(with_criterion):
        i = with_criterion.index(False) if with_criterion[0] else with_criterion.index(True)
        raise BenchmarkInputError(
            f"rating {i}: some ratings carry a criterion and others do not; give a criterion on every rating or none",
            index=i,
        )
    seen: dict[tuple[str, str, str | None], int] = {}
    known = set(known_tasks) if known_tasks is not None else None
    for i, r in enumerate(ratings):
        key = (r.task_id, r.rater, r.criterion)
        if key in seen:
            where = f" on criterion {r.criterion!r}" if r.criterion else ""
            raise BenchmarkInputError(
                f"rating {i}: rater {r.rater!r} rated task {r.task_id!r}{where} twice (first at rating {seen[key]}); "
                "each rater rates a task once",
                index=i,
            )
        seen[key] = i
        if known is not None and r.task_id not in known:
            raise BenchmarkInputError(f"rating {i}: task {r.task_id!r} is not in the benchmark", index=i)
        if authors is not None and r.rater in authors.get(r.task_id, ()):
            raise BenchmarkInputError(
                f"rating {i}: rater {r.rater!r} wrote an answer of task {r.task_id!r} and cannot rate it", index=i
            )
    return ratings


def _report(ratings: list[Rating], min_raters: int, confidence: float, *, per_criterion: bool) -> BenchmarkReport:
    units = sorted({(r.task_id, r.criterion or "") for r in ratings})
    unit_index = {u: i for i, u in enumerate(units)}
    u_idx = np.fromiter((unit_index[(r.task_id, r.criterion or "")] for r in ratings), dtype=np.intp)
    v_idx = np.fromiter((_VERDICT_INDEX[r.verdict] for r in ratings), dtype=np.intp)
    table = np.zeros((len(units), len(VERDICTS)), dtype=np.int64)
    np.add.at(table, (u_idx, v_idx), 1)
    per_unit = table.sum(axis=1)
    # strict majority: more than half of the unit's raters; otherwise the unit is a tie
    winner = np.where(table.max(axis=1) * 2 > per_unit, table.argmax(axis=1), _VERDICT_INDEX["tie"])
    majority = np.bincount(winner, minlength=len(VERDICTS)).astype(np.int64)
    pooled = table.sum(axis=0)
    pairable = table[per_unit >= 2]
    pairs = (pairable * (pairable - 1)).sum(axis=1) / (pairable.sum(axis=1) * (pairable.sum(axis=1) - 1))
    below = sorted({t for (t, _), k in zip(units, per_unit, strict=True) if k < min_raters})
    by_criterion: dict[str, BenchmarkReport] = {}
    if per_criterion:
        for criterion in sorted({r.criterion for r in ratings if r.criterion}):
            subset = [r for r in ratings if r.criterion == criterion]
            by_criterion[criterion] = _report(subset, min_raters, confidence, per_criterion=False)
    return BenchmarkReport(
        majority=Outcome.of(majority, confidence),
        pooled=Outcome.of(pooled, confidence),
        fleiss_kappa=fleiss_kappa(table),
        krippendorff_alpha=krippendorff_alpha_from_counts(table, level="nominal"),
        observed_agreement=float(pairs.mean()) if pairs.size else None,
        tasks=len({r.task_id for r in ratings}),
        raters=len({r.rater for r in ratings}),
        ratings=len(ratings),
        units_below_min_raters=below,
        by_criterion=by_criterion,
    )


def benchmark_report(
    ratings: Iterable[Rating | Mapping[str, Any] | tuple[Any, ...]],
    *,
    known_tasks: Collection[str] | None = None,
    authors: Mapping[str, Collection[str]] | None = None,
    min_raters: int = 2,
    confidence: float = 0.95,
) -> BenchmarkReport:
    """Report on blinded pairwise ratings; see the module docstring for the figures.

    Ratings are ``Rating`` objects, mappings with keys task_id / rater / verdict / criterion, or tuples
    ``(task_id, rater, verdict[, criterion])``. Verdicts are compared case-insensitively. Raises
    ``BenchmarkInputError`` on: no ratings, a missing field, an unknown verdict, a rater rating the same task
    (and criterion) twice, a task not in ``known_tasks`` (when given), a rater listed in ``authors[task_id]``
    (the people who wrote that task's answers), and a mix of ratings with and without a criterion.
    ``observed_agreement`` is the mean share of agreeing rater pairs per unit (units with >= 2 raters).
    """
    if min_raters < 1:
        raise BenchmarkInputError(f"min_raters must be at least 1, got {min_raters}")
    valid = _validate(ratings, known_tasks, authors)
    return _report(valid, min_raters, confidence, per_criterion=valid[0].criterion is not None)
