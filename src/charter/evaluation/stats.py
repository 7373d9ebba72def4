"""Statistical primitives shared by the evaluation reports: the Wilson interval and label normalisation.

Everything here is pure (no I/O, no clock, no randomness) and works on plain Python sequences or numpy arrays.
The reference libraries (statsmodels, scikit-learn, krippendorff, fairlearn) are test-only: the statistics are
written against numpy/scipy and the tests hold them equal to the references to 1e-9.

Undefined statistics are ``None``, never NaN: a value is undefined exactly when its formula divides zero by zero
(or by zero) on the given data; each function documents its case.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy.stats import norm

__all__ = [
    "BINARY_VOCABULARIES",
    "LabelError",
    "StatisticsInputError",
    "finite_or_none",
    "normalise_binary_labels",
    "normalise_numeric_labels",
    "wilson_interval",
]

Side = Literal["human", "judge", "y_true", "y_pred", "labels"]


class StatisticsInputError(ValueError):
    """Input a statistic cannot be computed from (empty, mismatched lengths, out of range)."""


class LabelError(StatisticsInputError):
    """A label that cannot be normalised; ``side`` and ``index`` (0-based) say where it is."""

    def __init__(self, message: str, *, side: str, index: int | None, value: object = None) -> None:
        super().__init__(message)
        self.side = side
        self.index = index
        self.value = value


def finite_or_none(value: float) -> float | None:
    """``float(value)``, or ``None`` when it is NaN or infinite (an undefined statistic)."""
    v = float(value)
    return v if math.isfinite(v) else None


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion ``successes / n``.

    Same formula and clipping to [0, 1] as ``statsmodels.stats.proportion.proportion_confint(method="wilson")``
    with ``alpha = 1 - confidence`` (to 1e-9; the end at 0 successes is exactly 0.0 and the end at n successes
    exactly 1.0, where floating point would leave them 1e-17 off). With ``n == 0`` nothing is known and the
    interval is ``(0.0, 1.0)``.
    """
    if isinstance(successes, bool) or isinstance(n, bool):
        raise StatisticsInputError("wilson_interval: successes and n must be integers, not booleans")
    if int(successes) != successes or int(n) != n:
        raise StatisticsInputError(f"wilson_interval: successes and n must be whole numbers, got {successes!r}, {n!r}")
    if n < 0 or not 0 <= successes <= max(n, 0):
        raise StatisticsInputError(f"wilson_interval: need 0 <= successes <= n, got successes={successes}, n={n}")
    if not 0.0 < confidence < 1.0:
        raise StatisticsInputError(f"wilson_interval: confidence must be strictly between 0 and 1, got {confidence}")
    if n == 0:
        return (0.0, 1.0)
    crit = float(norm.isf((1.0 - confidence) / 2.0))
    crit2 = crit * crit
    q = successes / n
    denom = 1.0 + crit2 / n
    center = (q + crit2 / (2.0 * n)) / denom
    dist = crit * math.sqrt(q * (1.0 - q) / n + crit2 / (4.0 * n * n)) / denom
    # at k = 0 the lower end, at k = n the upper end, is exactly 0 / 1; rounding would leave 1e-17 off
    low = 0.0 if successes == 0 else min(max(center - dist, 0.0), 1.0)
    high = 1.0 if successes == n else min(max(center + dist, 0.0), 1.0)
    return (low, high)


# --- label normalisation ------------------------------------------------------------------------------------------

# Each vocabulary maps its tokens (compared case-insensitively, surrounding whitespace ignored) to True/False.
# True is the positive class everywhere (a pass, a "yes", a 1).
BINARY_VOCABULARIES: dict[str, dict[str, bool]] = {
    "true/false": {"true": True, "false": False, "1": True, "0": False},
    "pass/fail": {"pass": True, "fail": False},
    "yes/no": {"yes": True, "no": False},
}


def _binary_token(value: object) -> tuple[str, bool] | None:
    """(vocabulary, truth) of one label, or None when it is not a binary label."""
    if isinstance(value, bool | np.bool_):
        return "true/false", bool(value)
    if isinstance(value, int | np.integer) and value in (0, 1):
        return "true/false", bool(value)
    if isinstance(value, float | np.floating) and value in (0.0, 1.0):
        return "true/false", bool(value)
    if isinstance(value, str):
        token = value.strip().lower()
        for vocabulary, mapping in BINARY_VOCABULARIES.items():
            if token in mapping:
                return vocabulary, mapping[token]
    return None


def _allowed_binary() -> str:
    return "true/false (also True/False, 1/0), pass/fail, yes/no"


def normalise_binary_labels(labels: Sequence[Any] | npt.ArrayLike, *, side: str = "labels") -> npt.NDArray[np.bool_]:
    """Labels of one column as a bool array (True = positive: pass / yes / true / 1).

    A column must use one vocabulary: ``true/false`` (Python or numpy bools, 0/1 as int or float, the strings
    "true"/"false"/"1"/"0"), ``pass/fail`` or ``yes/no`` (strings, case-insensitive). Two columns may use different
    vocabularies (a human column of "pass"/"fail" against a judge column of booleans).
    """
    array = np.asarray(labels, dtype=object) if not isinstance(labels, np.ndarray) else labels
    if array.ndim != 1:
        raise StatisticsInputError(f"{side} labels must be one-dimensional, got shape {array.shape}")
    if array.dtype == np.bool_:
        return array.astype(np.bool_, copy=True)
    if array.dtype.kind in "iu" and array.size and bool(np.isin(array, (0, 1)).all()):
        return array.astype(np.bool_)
    out = np.empty(array.shape[0], dtype=np.bool_)
    first: tuple[str, int] | None = None
    for i, value in enumerate(array.tolist()):
        token = _binary_token(value)
        if token is None:
            raise LabelError(
                f"{side} label at index {i} is {value!r}, which is not a binary label; "
                f"allowed: {_allowed_binary()}; numeric scales use scale='interval'",
                side=side,
                index=i,
                value=value,
            )
        vocabulary, truth = token
        if first is None:
            first = (vocabulary, i)
        elif vocabulary != first[0]:
            raise LabelError(
                f"{side} labels mix two vocabularies: {first[0]} (first at index {first[1]}) and {vocabulary} "
                f"({value!r} at index {i}); use one vocabulary per column",
                side=side,
                index=i,
                value=value,
            )
        out[i] = truth
    return out


def normalise_numeric_labels(labels: Sequence[Any] | npt.ArrayLike, *, side: str = "labels") -> npt.NDArray[np.float64]:
    """Labels of one column as a float array: ints, floats or numeric strings; booleans, NaN and text are errors."""
    array = np.asarray(labels, dtype=object) if not isinstance(labels, np.ndarray) else labels
    if array.ndim != 1:
        raise StatisticsInputError(f"{side} labels must be one-dimensional, got shape {array.shape}")
    if array.dtype.kind in "iuf":
        values = array.astype(np.float64)
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            i = int(bad[0])
            raise LabelError(
                f"{side} label at index {i} is {values[i]!r}; a scale label must be a finite number",
                side=side,
                index=i,
                value=float(values[i]),
            )
        return values
    out = np.empty(array.shape[0], dtype=np.float64)
    for i, value in enumerate(array.tolist()):
        number: float | None = None
        if isinstance(value, int | float) and not isinstance(value, bool):
            number = float(value)
        elif isinstance(value, str):
            try:
                number = float(value.strip())
            except ValueError:
                number = None
        if number is None or not math.isfinite(number):
            hint = "; booleans belong to scale='binary'" if isinstance(value, bool) else ""
            raise LabelError(
                f"{side} label at index {i} is {value!r}; a scale label must be a finite number{hint}",
                side=side,
                index=i,
                value=value,
            )
        out[i] = number
    return out
