"""Agreement statistics (Cohen's kappa, Krippendorff's alpha, Fleiss' kappa) and judge calibration.

Definitions follow the reference libraries, which the tests hold these functions equal to (1e-9):

- ``cohen_kappa`` = ``sklearn.metrics.cohen_kappa_score`` (labels, weights None / "linear" / "quadratic");
- ``krippendorff_alpha`` = ``krippendorff.alpha`` (nominal / interval, missing values allowed);
- ``fleiss_kappa`` = ``statsmodels.stats.inter_rater.fleiss_kappa(method="fleiss")`` when every subject has the
  same number of ratings; with varying numbers, Gwet's generalisation (see ``fleiss_kappa``).

Undefined values are ``None``: each function says when.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from charter.evaluation.stats import (
    StatisticsInputError,
    normalise_binary_labels,
    normalise_numeric_labels,
    wilson_interval,
)

__all__ = [
    "Calibration",
    "calibrate",
    "cohen_kappa",
    "default_scale_points",
    "fleiss_kappa",
    "krippendorff_alpha",
    "krippendorff_alpha_from_counts",
]

FloatArray = npt.NDArray[np.float64]
Level = Literal["nominal", "interval"]
Weights = Literal["linear", "quadratic"] | None


def _positions(labels: npt.NDArray[Any], domain: npt.NDArray[Any]) -> npt.NDArray[np.intp]:
    """Index of each label in ``domain`` (vectorised lookup); an error names the first label not in it."""
    order = np.argsort(domain, kind="stable")
    ordered = domain[order]
    pos = np.searchsorted(ordered, labels).clip(0, max(domain.size - 1, 0))
    found = ordered[pos] == labels if domain.size else np.zeros(labels.shape, dtype=np.bool_)
    if not bool(np.all(found)):
        missing = labels[~found][0]
        raise StatisticsInputError(f"cohen_kappa: label {missing!r} is not among labels {domain.tolist()}")
    return np.asarray(order[pos], dtype=np.intp)


def cohen_kappa(
    y1: npt.ArrayLike, y2: npt.ArrayLike, *, labels: npt.ArrayLike | None = None, weights: Weights = None
) -> float | None:
    """Cohen's kappa of two raters, as ``sklearn.metrics.cohen_kappa_score(y1, y2, labels=, weights=)``.

    Weighted kappa weighs a disagreement by the distance between the *positions* of the two labels in ``labels``
    (default: the sorted labels seen in either rater), exactly as scikit-learn does. ``None`` when the
    chance-expected disagreement is zero, i.e. both raters used one and the same label throughout (scikit-learn's
    NaN case).
    """
    a = np.asarray(y1)
    b = np.asarray(y2)
    if a.shape != b.shape or a.ndim != 1:
        raise StatisticsInputError(f"cohen_kappa needs two 1-D label arrays of equal length, got {a.shape}, {b.shape}")
    if a.size == 0:
        raise StatisticsInputError("cohen_kappa needs at least one pair of labels")
    domain = np.unique(np.concatenate([a, b])) if labels is None else np.asarray(labels)
    ia = _positions(a, domain)
    ib = _positions(b, domain)
    k = domain.size
    confusion = np.bincount(ia * k + ib, minlength=k * k).reshape(k, k).astype(np.float64)
    expected = np.outer(confusion.sum(axis=1), confusion.sum(axis=0)) / confusion.sum()
    grid = np.arange(k, dtype=np.float64)
    if weights is None:
        w = 1.0 - np.eye(k)
    elif weights == "linear":
        w = np.abs(grid[:, None] - grid[None, :])
    elif weights == "quadratic":
        w = (grid[:, None] - grid[None, :]) ** 2
    else:
        raise StatisticsInputError(f"cohen_kappa: weights must be None, 'linear' or 'quadratic', got {weights!r}")
    denominator = float((w * expected).sum())
    if denominator == 0.0:
        return None
    return 1.0 - float((w * confusion).sum()) / denominator


def krippendorff_alpha_from_counts(
    value_counts: npt.ArrayLike, values: npt.ArrayLike | None = None, level: Level = "nominal"
) -> float | None:
    """Krippendorff's alpha from a units x values count matrix (how many coders gave value v to unit u).

    ``values`` are the numeric values of the columns (needed for ``interval``; default 0..V-1). Units coded by fewer
    than two coders carry no pairable value. ``None`` when no unit has two codes or every pairable value is the same
    (expected disagreement zero): there ``krippendorff.alpha`` raises or returns NaN.
    """
    counts = np.asarray(value_counts, dtype=np.float64)
    if counts.ndim != 2:
        raise StatisticsInputError(f"value_counts must be a units x values matrix, got shape {counts.shape}")
    m_u = counts.sum(axis=1)
    pairable = m_u >= 2
    if not pairable.any():
        return None
    counts = counts[pairable]
    per_unit = counts / (m_u[pairable] - 1.0)[:, None]
    o = per_unit.T @ counts - np.diag(per_unit.sum(axis=0))
    n_v = o.sum(axis=0)
    n = n_v.sum()
    e = (np.outer(n_v, n_v) - np.diag(n_v)) / (n - 1.0)
    if level == "nominal":
        d = 1.0 - np.eye(counts.shape[1])
    elif level == "interval":
        v = np.arange(counts.shape[1], dtype=np.float64) if values is None else np.asarray(values, dtype=np.float64)
        if v.shape != (counts.shape[1],):
            raise StatisticsInputError(f"values must have one entry per column ({counts.shape[1]}), got {v.shape}")
        d = (v[:, None] - v[None, :]) ** 2
    else:
        raise StatisticsInputError(f"level must be 'nominal' or 'interval', got {level!r}")
    expected = float((e * d).sum())
    if expected == 0.0:
        return None
    return 1.0 - float((o * d).sum()) / expected


def krippendorff_alpha(reliability_data: npt.ArrayLike, level: Level = "nominal") -> float | None:
    """Krippendorff's alpha of a coders x units matrix of numeric codes, NaN = missing (``krippendorff.alpha``)."""
    data = np.asarray(reliability_data, dtype=np.float64)
    if data.ndim != 2:
        raise StatisticsInputError(f"reliability_data must be a coders x units matrix, got shape {data.shape}")
    present = ~np.isnan(data)
    values = np.unique(data[present])
    if values.size == 0:
        return None
    codes = np.searchsorted(values, np.where(present, data, values[0]))
    units = np.broadcast_to(np.arange(data.shape[1]), data.shape)
    counts = np.zeros((data.shape[1], values.size), dtype=np.float64)
    np.add.at(counts, (units[present], codes[present]), 1.0)
    return krippendorff_alpha_from_counts(counts, values, level)


def fleiss_kappa(table: npt.ArrayLike) -> float | None:
    """Fleiss' kappa of a subjects x categories table of rating counts.

    Gwet's generalisation to a varying number of ratings per subject (Handbook of Inter-Rater Reliability,
    4th ed., ch. 2; the ``irrCAC`` package's ``CAC.fleiss``). With r_i ratings of subject i, r_ik of them in
    category k::

        P_o = mean over subjects with r_i >= 2 of  sum_k r_ik (r_ik - 1) / (r_i (r_i - 1))
        pi_k = mean over subjects with r_i >= 1 of  r_ik / r_i          P_e = sum_k pi_k^2
        kappa = (P_o - P_e) / (1 - P_e)

    Every subject weighs the same. When every subject has the same r_i >= 2 this is exactly statsmodels'
    ``fleiss_kappa(table, method="fleiss")``. Unrated subjects are ignored; ``None`` when no subject has two
    ratings or every rating falls in one category (P_e = 1).
    """
    counts = np.asarray(table, dtype=np.float64)
    if counts.ndim != 2:
        raise StatisticsInputError(f"fleiss_kappa needs a subjects x categories table, got shape {counts.shape}")
    if (counts < 0).any():
        raise StatisticsInputError("fleiss_kappa: counts must be non-negative")
    r = counts.sum(axis=1)
    rated = r >= 1
    pairable = r >= 2
    if not pairable.any():
        return None
    pc, pr = counts[pairable], r[pairable]
    p_o = float((((pc * (pc - 1.0)).sum(axis=1)) / (pr * (pr - 1.0))).mean())
    pi_k = (counts[rated] / r[rated][:, None]).mean(axis=0)
    p_e = float((pi_k * pi_k).sum())
    if p_e >= 1.0:
        return None
    return (p_o - p_e) / (1.0 - p_e)


@dataclass(frozen=True)
class Calibration:
    """How far a judge agrees with human labels on the same items (the ``charter eval agreement --json`` contract)."""

    n: int
    accuracy: float
    precision: float | None
    recall: float | None
    f1: float | None
    cohen_kappa: float | None
    krippendorff_alpha: float | None
    mae: float | None
    accuracy_wilson95: tuple[float, float]

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["accuracy_wilson95"] = list(self.accuracy_wilson95)
        return data


def default_scale_points(values: npt.NDArray[np.float64]) -> FloatArray:
    """Scale points used for weighted kappa when none are given.

    Whole-number data: every integer from the smallest to the largest value seen (so a 1-5 scale on which nobody
    chose 3 still weighs 2 vs 4 as two steps apart). Otherwise the sorted distinct values seen.
    """
    if values.size and bool(np.all(values == np.round(values))):
        return np.arange(values.min(), values.max() + 1.0)
    return np.unique(values)


def _binary_counts(truth: npt.NDArray[np.bool_], pred: npt.NDArray[np.bool_]) -> tuple[int, int, int]:
    tp = int(np.count_nonzero(truth & pred))
    fp = int(np.count_nonzero(~truth & pred))
    fn = int(np.count_nonzero(truth & ~pred))
    return tp, fp, fn


def _check_pairs(h: npt.NDArray[Any], j: npt.NDArray[Any]) -> None:
    if h.size != j.size:
        raise StatisticsInputError(
            f"human and judge label lists differ in length ({h.size} vs {j.size}); "
            "each position must be one item labelled by both"
        )
    if h.size == 0:
        raise StatisticsInputError("no paired labels: calibration needs at least one item labelled by both")


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def calibrate(
    human: Sequence[Any] | npt.NDArray[Any],
    judge: Sequence[Any] | npt.NDArray[Any],
    scale: Literal["binary", "interval"],
    *,
    scale_points: Sequence[float] | None = None,
    pass_threshold: float | None = None,
    confidence: float = 0.95,
) -> Calibration:
    """Agreement of a judge's labels with human labels on the same items (position i of both is one item).

    ``binary``: labels per ``normalise_binary_labels`` (pass/yes/true/1 is positive); the human label is the truth.
    accuracy, precision = TP/(TP+FP), recall = TP/(TP+FN), F1 = 2TP/(2TP+FP+FN) (scikit-learn with
    ``zero_division=np.nan``: ``None`` when the denominator is 0), unweighted Cohen's kappa, nominal Krippendorff's
    alpha; ``mae`` is None (it would be 1 - accuracy).

    ``interval`` (numeric scales such as 1-5): accuracy = exact agreement; MAE; *quadratic-weighted* Cohen's kappa,
    i.e. ``cohen_kappa_score(human, judge, labels=scale_points, weights="quadratic")`` with ``scale_points`` defaulting
    to ``default_scale_points`` (it weighs by position on the scale, so give every point of the scale when
    the scale is not whole numbers); interval Krippendorff's alpha. precision / recall / F1 are None unless
    ``pass_threshold`` is given: then a label >= threshold counts as a pass and they are computed as for binary.

    ``accuracy_wilson95`` is the Wilson interval of accuracy (``confidence``, 0.95 by default). Undefined statistics
    (a constant label, a single item, complete agreement on one label) are None, see each statistic's function.
    """
    if scale not in ("binary", "interval"):
        raise StatisticsInputError(f"scale must be 'binary' or 'interval', got {scale!r}")
    if scale == "binary":
        if scale_points is not None or pass_threshold is not None:
            raise StatisticsInputError("scale_points and pass_threshold apply to scale='interval' only")
        h = normalise_binary_labels(human, side="human")
        j = normalise_binary_labels(judge, side="judge")
        _check_pairs(h, j)
        n = int(h.size)
        agree = int(np.count_nonzero(h == j))
        tp, fp, fn = _binary_counts(h, j)
        reliability = np.vstack([h, j]).astype(np.float64)
        return Calibration(
            n=n,
            accuracy=agree / n,
            precision=_ratio(tp, tp + fp),
            recall=_ratio(tp, tp + fn),
            f1=_ratio(2 * tp, 2 * tp + fp + fn),
            cohen_kappa=cohen_kappa(h, j),
            krippendorff_alpha=krippendorff_alpha(reliability, "nominal"),
            mae=None,
            accuracy_wilson95=wilson_interval(agree, n, confidence),
        )
    hv = normalise_numeric_labels(human, side="human")
    jv = normalise_numeric_labels(judge, side="judge")
    _check_pairs(hv, jv)
    seen = np.concatenate([hv, jv])
    if scale_points is None:
        points = default_scale_points(seen)
    else:
        points = np.unique(np.asarray(scale_points, dtype=np.float64))
        outside = np.setdiff1d(seen, points)
        if outside.size:
            raise StatisticsInputError(
                f"labels {outside.tolist()} are not on the scale {points.tolist()}; give every point of the scale"
            )
    n = int(hv.size)
    agree = int(np.count_nonzero(hv == jv))
    precision = recall = f1 = None
    if pass_threshold is not None:
        tp, fp, fn = _binary_counts(hv >= pass_threshold, jv >= pass_threshold)
        precision, recall, f1 = _ratio(tp, tp + fp), _ratio(tp, tp + fn), _ratio(2 * tp, 2 * tp + fp + fn)
    return Calibration(
        n=n,
        accuracy=agree / n,
        precision=precision,
        recall=recall,
        f1=f1,
        cohen_kappa=cohen_kappa(hv, jv, labels=points, weights="quadratic"),
        krippendorff_alpha=krippendorff_alpha(np.vstack([hv, jv]), "interval"),
        mae=float(np.mean(np.abs(hv - jv))),
        accuracy_wilson95=wilson_interval(agree, n, confidence),
    )
