"""Group fairness of binary decisions: per-group rates, fairlearn's disparity metrics, bootstrap intervals.

Definitions are fairlearn's (``fairlearn.metrics``, method ``between_groups``), held equal by the tests:

- selection rate = share of predicted positives; TPR = TP / (TP + FN); FPR = FP / (FP + TN);
- ``demographic_parity_difference`` = max - min of the groups' selection rates; ``_ratio`` = min / max;
- ``equalized_odds_difference`` = the larger of the TPR and FPR differences; ``_ratio`` = the smaller of the
  TPR and FPR ratios.

Two conventions come from fairlearn and are kept for the aggregates: a group with no actual positives has TPR 0
(and one with no actual negatives FPR 0), because fairlearn normalises its confusion matrix with scikit-learn,
which writes 0 for an empty row. The per-group table shows such a rate as ``None`` and ``notes`` says which
groups were affected. A ratio whose largest rate is 0 is undefined (``None``; fairlearn's NaN). Where fairlearn's
``equalized_odds_ratio`` returns NaN only because its TPR ratio is undefined while the FPR ratio is defined, this
module returns the FPR ratio (the smaller of the *defined* ratios); everywhere fairlearn gives a number the two agree.

The four-fifths flag is raised when the demographic parity ratio (lowest selection rate / highest) is below 0.8.

Bootstrap intervals are percentile intervals over resamples of the whole data set with replacement, like
fairlearn's ``MetricFrame(n_boot=...)``. Every statistic here depends on the data only through the counts of the
4 x G cells (group, actual, predicted), so a resample of n rows is drawn as one multinomial draw of n over those
cells - the same distribution as resampling rows, in O(B x G) memory and without a Python loop per resample.
A resample where a statistic is undefined (a group absent, a zero denominator) is left out of that statistic's
quantiles; ``undefined_resamples`` counts them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from charter.evaluation.stats import StatisticsInputError, finite_or_none, normalise_binary_labels

__all__ = [
    "FOUR_FIFTHS",
    "BootstrapInterval",
    "FairnessReport",
    "GroupMetrics",
    "group_fairness",
]

FOUR_FIFTHS = 0.8
FloatArray = npt.NDArray[np.float64]
AGGREGATES = (
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equalized_odds_difference",
    "equalized_odds_ratio",
)
GROUP_RATES = ("selection_rate", "true_positive_rate", "false_positive_rate", "accuracy")


@dataclass(frozen=True)
class BootstrapInterval:
    low: float | None
    high: float | None
    undefined_resamples: int


@dataclass(frozen=True)
class GroupMetrics:
    group: str
    count: int
    positives: int
    negatives: int
    selection_rate: float
    true_positive_rate: float | None
    false_positive_rate: float | None
    accuracy: float
    intervals: dict[str, BootstrapInterval] = field(default_factory=dict)


@dataclass(frozen=True)
class FairnessReport:
    groups: list[GroupMetrics]
    demographic_parity_difference: float
    demographic_parity_ratio: float | None
    equalized_odds_difference: float
    equalized_odds_ratio: float | None
    four_fifths_violation: bool | None
    intervals: dict[str, BootstrapInterval]
    n_resamples: int
    confidence: float
    notes: list[str]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _rates(cells: FloatArray, *, fairlearn_zero: bool) -> dict[str, FloatArray]:
    """Per-group rates from cell counts shaped (..., G, 4) in the order (t0p0, t0p1, t1p0, t1p1).

    A group with no rows has NaN everywhere (absent). With ``fairlearn_zero`` an empty TPR/FPR denominator in a
    present group gives 0 (fairlearn), otherwise NaN (undefined).
    """
    t0p0, t0p1, t1p0, t1p1 = (cells[..., k] for k in range(4))
    count = cells.sum(axis=-1)
    pos = t1p0 + t1p1
    neg = t0p0 + t0p1
    present = count > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        selection = np.where(present, (t0p1 + t1p1) / count, np.nan)
        accuracy = np.where(present, (t0p0 + t1p1) / count, np.nan)
        empty = 0.0 if fairlearn_zero else np.nan
        tpr = np.where(present, np.where(pos > 0, t1p1 / pos, empty), np.nan)
        fpr = np.where(present, np.where(neg > 0, t0p1 / neg, empty), np.nan)
    return {"selection_rate": selection, "true_positive_rate": tpr, "false_positive_rate": fpr, "accuracy": accuracy}


def _aggregates(cells: FloatArray) -> dict[str, FloatArray]:
    """fairlearn's between-groups difference and ratio over the present groups (last-but-one axis)."""
    rates = _rates(cells, fairlearn_zero=True)
    out: dict[str, FloatArray] = {}
    diff: dict[str, FloatArray] = {}
    ratio: dict[str, FloatArray] = {}
    for name in ("selection_rate", "true_positive_rate", "false_positive_rate"):
        hi = np.nanmax(rates[name], axis=-1)
        lo = np.nanmin(rates[name], axis=-1)
        diff[name] = hi - lo
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio[name] = np.where(hi > 0, lo / hi, np.nan)
    out["demographic_parity_difference"] = diff["selection_rate"]
    out["demographic_parity_ratio"] = ratio["selection_rate"]
    out["equalized_odds_difference"] = np.maximum(diff["true_positive_rate"], diff["false_positive_rate"])
    out["equalized_odds_ratio"] = np.fmin(ratio["true_positive_rate"], ratio["false_positive_rate"])
    return out


def _interval(samples: FloatArray, confidence: float) -> BootstrapInterval:
    defined = samples[np.isfinite(samples)]
    undefined = int(samples.size - defined.size)
    if defined.size == 0:
        return BootstrapInterval(None, None, undefined)
    alpha = 1.0 - confidence
    low, high = np.quantile(defined, [alpha / 2.0, 1.0 - alpha / 2.0])
    return BootstrapInterval(float(low), float(high), undefined)


def _rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, int) and not isinstance(rng, bool):
        return np.random.default_rng(rng)
    raise StatisticsInputError("bootstrap needs rng: a numpy Generator or an integer seed, so results can be repeated")


def group_fairness(
    y_true: Sequence[Any] | npt.NDArray[Any],
    y_pred: Sequence[Any] | npt.NDArray[Any],
    groups: Sequence[Any] | npt.NDArray[Any],
    *,
    n_resamples: int = 0,
    confidence: float = 0.95,
    rng: np.random.Generator | int | None = None,
) -> FairnessReport:
    """Per-group metrics and fairlearn's disparity metrics of binary decisions ``y_pred`` against ``y_true``.

    Labels are normalised like judge labels (true/1/pass/yes = positive). ``groups`` is the sensitive feature,
    one value per row (converted with ``str``; a missing value is an error). With ``n_resamples > 0`` every metric
    gets a percentile bootstrap interval at ``confidence``, drawn from ``rng`` (a ``numpy.random.Generator`` or an
    integer seed; required).
    """
    truth = normalise_binary_labels(y_true, side="y_true")
    pred = normalise_binary_labels(y_pred, side="y_pred")
    raw_groups = list(groups)
    if not (truth.size == pred.size == len(raw_groups)):
        raise StatisticsInputError(
            f"y_true, y_pred and groups must have one entry per row; got {truth.size}, {pred.size}, {len(raw_groups)}"
        )
    if truth.size == 0:
        raise StatisticsInputError("no rows: group fairness needs at least one decision")
    for i, g in enumerate(raw_groups):
        if g is None or (isinstance(g, float) and g != g) or (isinstance(g, str) and not g.strip()):
            raise StatisticsInputError(f"group at index {i} is missing ({g!r}); every row needs a sensitive group")
    if not 0.0 < confidence < 1.0:
        raise StatisticsInputError(f"confidence must be strictly between 0 and 1, got {confidence}")
    if n_resamples < 0:
        raise StatisticsInputError(f"n_resamples must be >= 0, got {n_resamples}")
    names, g_idx = np.unique(np.asarray([str(g) for g in raw_groups], dtype=str), return_inverse=True)
    n_groups = names.size
    cell = g_idx * 4 + truth.astype(np.intp) * 2 + pred.astype(np.intp)
    cells = np.bincount(cell, minlength=4 * n_groups).reshape(n_groups, 4).astype(np.float64)

    rates = _rates(cells, fairlearn_zero=False)
    point = _aggregates(cells)
    intervals: dict[str, BootstrapInterval] = {}
    group_intervals: list[dict[str, BootstrapInterval]] = [{} for _ in range(n_groups)]
    if n_resamples > 0:
        generator = _rng(rng)
        n = int(truth.size)
        draws = generator.multinomial(n, cells.ravel() / n, size=n_resamples).reshape(n_resamples, n_groups, 4)
        boot = _aggregates(draws.astype(np.float64))
        intervals = {name: _interval(boot[name], confidence) for name in AGGREGATES}
        boot_rates = _rates(draws.astype(np.float64), fairlearn_zero=False)
        for gi in range(n_groups):
            group_intervals[gi] = {name: _interval(boot_rates[name][:, gi], confidence) for name in GROUP_RATES}

    notes: list[str] = []
    report_groups: list[GroupMetrics] = []
    for gi, name in enumerate(names.tolist()):
        t0p0, t0p1, t1p0, t1p1 = (int(c) for c in cells[gi])
        if t1p0 + t1p1 == 0:
            notes.append(f"group {name!r} has no actual positives: its TPR is undefined and counts as 0 (fairlearn)")
        if t0p0 + t0p1 == 0:
            notes.append(f"group {name!r} has no actual negatives: its FPR is undefined and counts as 0 (fairlearn)")
        report_groups.append(
            GroupMetrics(
                group=name,
                count=t0p0 + t0p1 + t1p0 + t1p1,
                positives=t1p0 + t1p1,
                negatives=t0p0 + t0p1,
                selection_rate=float(rates["selection_rate"][gi]),
                true_positive_rate=finite_or_none(rates["true_positive_rate"][gi]),
                false_positive_rate=finite_or_none(rates["false_positive_rate"][gi]),
                accuracy=float(rates["accuracy"][gi]),
                intervals=group_intervals[gi],
            )
        )
    if n_groups == 1:
        notes.append("only one group: every difference is 0 and every defined ratio is 1")
    dp_ratio = finite_or_none(float(point["demographic_parity_ratio"]))
    return FairnessReport(
        groups=report_groups,
        demographic_parity_difference=float(point["demographic_parity_difference"]),
        demographic_parity_ratio=dp_ratio,
        equalized_odds_difference=float(point["equalized_odds_difference"]),
        equalized_odds_ratio=finite_or_none(float(point["equalized_odds_ratio"])),
        four_fifths_violation=None if dp_ratio is None else dp_ratio < FOUR_FIFTHS,
        intervals=intervals,
        n_resamples=n_resamples,
        confidence=confidence,
        notes=notes,
    )
