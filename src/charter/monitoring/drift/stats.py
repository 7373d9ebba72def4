"""Drift statistics computed from two profiles (reference, current) — never from raw rows.

Definitions follow scipy and Evidently so results are familiar:

- Kolmogorov-Smirnov: D = sup |F_ref - F_cur| from the cumulative counts at the reference edges; exact when
  every reference value is an edge (up to FINE_BINS distinct values), otherwise a lower bound, reported with
  the upper bound. p-value as scipy.stats.ks_2samp(method='auto'): exact lattice-path probability when both
  samples have at most 10,000 values, Smirnov's asymptotic distribution (kstwo) beyond. The exact p-value is
  computed only where the verdict uses it (method 'ks'); elsewhere the reported p-value is the asymptotic one.
- Wasserstein-1, normed by the reference's standard deviation (Evidently: max(std, 0.001)): the distance
  between the profiles' discrete approximations (per bin: the values on the right edge there, the rest at their
  mean). Exact outside the reference range and wherever a bin holds one distinct value; elsewhere the error
  is at most half the bin width times the mass strictly inside it, summed (reported as `bound`).
- PSI and Jensen-Shannon distance (natural log, scipy.spatial.distance.jensenshannon): over the value counts
  for categorical columns and numeric columns with at most DISTINCT_CAP reference values, else over
  COARSE_BINS reference-quantile buckets. PSI fills empty buckets as Evidently does.
- Chi-square p-value (Evidently: expected = reference counts scaled to the current size, k-1 degrees of
  freedom) and the two-proportion Z-test p-value for binary columns.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from scipy.stats import chi2, kstwo, norm

from charter.monitoring.drift.profiles import OTHER, ProfileError, std

COARSE_BINS: Final = 20
KS_EXACT_MAX_N: Final = 10_000  # scipy's MAX_AUTO_N

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


# ----------------------------------------------------------------------------- Kolmogorov-Smirnov


@dataclass(frozen=True)
class KS:
    statistic: float
    upper: float
    p_value: float
    exact: bool


def _cums(col: Mapping[str, Any]) -> tuple[IntArray, IntArray]:
    counts = np.asarray(col["counts"], dtype=np.int64)
    eq = np.asarray(col["eq"], dtype=np.int64)
    le = np.cumsum(counts)[:-1]  # values <= e_i
    return le, le - eq  # and values < e_i


def ks(ref: Mapping[str, Any], cur: Mapping[str, Any], exact_edges: bool, *, exact_p: bool = True) -> KS:
    n_r, n_c = int(ref["count"]), int(cur["count"])
    le_r, lt_r = _cums(ref)
    le_c, lt_c = _cums(cur)
    fr_le, fr_lt = le_r / n_r, lt_r / n_r
    fc_le, fc_lt = le_c / n_c, lt_c / n_c
    lower = float(max(np.abs(fr_le - fc_le).max(initial=0.0), np.abs(fr_lt - fc_lt).max(initial=0.0)))
    # Between edges e_i <= x < e_{i+1}: F_ref in [fr_le[i], fr_lt[i+1]], F_cur in [fc_le[i], fc_lt[i+1]].
    above = np.concatenate(([fc_lt[0]], fc_lt[1:] - fr_le[:-1])) if fc_lt.size else np.zeros(1)
    if exact_edges:
        # Every reference value is an edge: F_ref is flat between edges, so these sups are attained.
        below = fr_le - fc_le
        d = float(max(above.max(initial=0.0), below.max(initial=0.0), lower))
        return KS(d, d, ks_p_value(d, n_r, n_c, exact=exact_p), True)
    below = np.concatenate((fr_lt[1:] - fc_le[:-1], [1.0 - fc_le[-1]])) if fc_le.size else np.zeros(1)
    upper = float(min(1.0, max(above.max(initial=0.0), below.max(initial=0.0), lower)))
    return KS(lower, upper, ks_p_value(lower, n_r, n_c, exact=exact_p), upper == lower)


def ks_p_value(d: float, n1: int, n2: int, *, exact: bool = True) -> float:
    """Two-sided p-value of the two-sample KS statistic, as scipy.stats.ks_2samp(method='auto'); with
    exact=False always Smirnov's asymptotic distribution (scipy's method='asymp'), which costs microseconds."""
    if exact and max(n1, n2) <= KS_EXACT_MAX_N:
        p = _ks_exact_square(d, n1) if n1 == n2 else _ks_exact(d, n1, n2)
        if p is not None:
            return p
    m, n = sorted((float(n1), float(n2)), reverse=True)
    en = m * n / (m + n)
    return float(np.clip(kstwo.sf(d, np.round(en)), 0.0, 1.0))


def _ks_exact_square(d: float, n: int) -> float | None:
    """P(D >= d) for two samples of the same size n: scipy's closed form (alternating sum of binomial ratios,
    evaluated Horner-like to avoid cancellation), O(n) instead of the O(n^2) lattice walk."""
    h = round(d * n)
    if h == 0:
        return 1.0
    p = 0.0
    k = n // h
    j = np.arange(h, dtype=np.float64)
    while k >= 0:
        p = float(np.prod((n - k * h - j) / (n + k * h + j + 1.0))) * (1.0 - p)
        k -= 1
    p *= 2
    return p if 0.0 <= p <= 1.0 else None


def _ks_exact(d: float, n1: int, n2: int) -> float | None:
    """P(D >= d) under H0: the share of monotone lattice paths (0,0)->(n1,n2) that leave the band
    |i/n1 - j/n2| < d. Computed over anti-diagonals with probabilities (no overflow), only inside the band:
    a cell outside it counts as 1 (every path through it has left)."""
    g = math.gcd(n1, n2)
    lcm = (n1 // g) * n2
    h = round(d * lcm)
    if h == 0:
        return 1.0
    bound = h * g  # outside  <=>  |i*n2 - j*n1| >= h*g  <=>  |i*(n1+n2) - k*n1| >= h*g on diagonal k = i+j
    total = n1 + n2
    prev = np.zeros(1)
    plo = 0
    for k in range(1, total + 1):
        lo = max(0, k - n2, (k * n1 - bound) // total + 1)
        hi = min(k, n1, -((-(k * n1 + bound)) // total) - 1)
        if lo > hi:
            return 1.0  # the band is closed: every path leaves it
        i = np.arange(lo, hi + 1)
        pos_a = i - 1 - plo
        ok_a = (pos_a >= 0) & (pos_a < prev.shape[0])
        from_a = np.where(ok_a, prev[np.clip(pos_a, 0, max(prev.shape[0] - 1, 0))], 1.0) if prev.size else 1.0
        pos_b = i - plo
        ok_b = (pos_b >= 0) & (pos_b < prev.shape[0])
        from_b = np.where(ok_b, prev[np.clip(pos_b, 0, max(prev.shape[0] - 1, 0))], 1.0) if prev.size else 1.0
        prev = (from_a * i + from_b * (k - i)) / k
        plo = lo
    p = float(prev[-1]) if hi == n1 else 1.0
    return p if 0.0 <= p <= 1.0 else None


# ----------------------------------------------------------------------------- Wasserstein


def _point_masses(col: Mapping[str, Any]) -> tuple[FloatArray, FloatArray, float]:
    """Support points, their masses, and the W1 distance bound of this approximation (unnormalised)."""
    edges = np.asarray(col["edges"], dtype=np.float64)
    counts = np.asarray(col["counts"], dtype=np.float64)
    eq = np.asarray(col["eq"], dtype=np.float64)
    sums = np.asarray(col["sums"], dtype=np.float64)
    b = edges.shape[0]
    eq_full = np.concatenate((eq, [0.0]))
    right = np.concatenate((edges, [0.0]))
    inside = counts - eq_full
    with np.errstate(invalid="ignore", divide="ignore"):
        inside_mean = (sums - eq_full * right) / inside
    lo = np.concatenate(([-np.inf], edges))
    hi = np.concatenate((edges, [np.inf]))
    inside_mean = np.clip(np.where(inside > 0, inside_mean, 0.0), lo, hi)
    pos = np.empty(2 * b + 1)
    mass = np.empty(2 * b + 1)
    pos[0::2], mass[0::2] = inside_mean, inside
    pos[1::2], mass[1::2] = edges, eq
    keep = mass > 0
    n = float(col["count"])
    widths = np.diff(edges)
    bound = float((inside[1:b] * widths).sum() / (2 * n)) if b > 1 and n else 0.0
    return pos[keep], mass[keep] / (n or 1.0), bound


def wasserstein(ref: Mapping[str, Any], cur: Mapping[str, Any]) -> tuple[float, float]:
    """(W1 distance between the profiles' approximations, bound on its distance to the true W1)."""
    pr, wr, br = _point_masses(ref)
    pc, wc, bc = _point_masses(cur)
    pos = np.concatenate((pr, pc))
    w = np.concatenate((wr, -wc))
    order = np.argsort(pos, kind="stable")
    pos, w = pos[order], w[order]
    cdf_diff = np.cumsum(w)[:-1]
    return float(np.abs(cdf_diff) @ np.diff(pos)), br + bc


def wasserstein_norm(ref: Mapping[str, Any], cur: Mapping[str, Any]) -> tuple[float, float]:
    norm = max(std(ref), 0.001)
    w, bound = wasserstein(ref, cur)
    return w / norm, bound / norm


# ----------------------------------------------------------------------------- bucketed counts


@dataclass(frozen=True)
class Buckets:
    keys: list[str]
    ref: FloatArray
    cur: FloatArray
    basis: str  # values | quantile buckets


def numeric_buckets(ref: Mapping[str, Any], cur: Mapping[str, Any]) -> Buckets:
    """Counts per distinct value when the reference has few values, else per reference-quantile bucket."""
    ref_d, cur_d = ref.get("distinct"), cur.get("distinct")
    if ref_d is not None:
        ref_counts = {float(v): int(c) for v, c in ref_d}
        if cur_d is not None:
            cur_counts = {float(v): int(c) for v, c in cur_d}
            keys = sorted(set(ref_counts) | set(cur_counts))
            return Buckets(
                [_fmt(k) for k in keys],
                np.array([ref_counts.get(k, 0) for k in keys], dtype=np.float64),
                np.array([cur_counts.get(k, 0) for k in keys], dtype=np.float64),
                "values",
            )
        # Current has many values: those on reference values are counted exactly, the rest lumped together.
        eq = dict(zip(map(float, ref["edges"]), cur["eq"], strict=True))
        ref_values = sorted(ref_counts)
        cur_on = [int(eq.get(k, 0)) for k in ref_values]
        rest = int(cur["count"]) - sum(cur_on)
        return Buckets(
            [*map(_fmt, ref_values), OTHER],
            np.array([*(ref_counts[k] for k in ref_values), 0], dtype=np.float64),
            np.array([*cur_on, rest], dtype=np.float64),
            "values",
        )
    le_r, _ = _cums(ref)
    le_c, _ = _cums(cur)
    n_r, n_c = int(ref["count"]), int(cur["count"])
    targets = [(j * n_r + COARSE_BINS - 1) // COARSE_BINS for j in range(1, COARSE_BINS)]
    idx = np.unique(np.searchsorted(le_r, targets, side="left"))
    idx = idx[idx < le_r.shape[0]]
    edges = np.asarray(ref["edges"], dtype=np.float64)[idx]
    r = np.diff(np.concatenate(([0], le_r[idx], [n_r]))).astype(np.float64)
    c = np.diff(np.concatenate(([0], le_c[idx], [n_c]))).astype(np.float64)
    names = [f"<={_fmt(e)}" for e in edges] + [f">{_fmt(edges[-1])}" if edges.size else "all"]
    return Buckets(names, r, c, "quantile buckets")


def categorical_buckets(ref: Mapping[str, Any], cur: Mapping[str, Any]) -> Buckets:
    rv = {str(k): int(v) for k, v in ref["values"].items()}
    cv = {str(k): int(v) for k, v in cur["values"].items()}
    if ref.get("other"):
        rv[OTHER] = rv.get(OTHER, 0) + int(ref["other"])
    if cur.get("other"):
        cv[OTHER] = cv.get(OTHER, 0) + int(cur["other"])
    keys = sorted(set(rv) | set(cv))
    return Buckets(
        keys,
        np.array([rv.get(k, 0) for k in keys], dtype=np.float64),
        np.array([cv.get(k, 0) for k in keys], dtype=np.float64),
        "values",
    )


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() and abs(v) < 1e15 else repr(float(v))


def _fill_zeros(p: FloatArray) -> FloatArray:
    """Evidently's rule for empty buckets before PSI: a tiny share instead of zero."""
    p = p.copy()
    nonzero = p[p != 0]
    if nonzero.size and (p == 0).any():
        smallest = float(nonzero.min())
        p[p == 0] = smallest / 10**6 if smallest <= 0.0001 else 0.0001
    return p


def psi(ref_counts: FloatArray, cur_counts: FloatArray) -> float:
    r = _fill_zeros(ref_counts / ref_counts.sum())
    c = _fill_zeros(cur_counts / cur_counts.sum())
    return float(((r - c) * np.log(r / c)).sum())


def jensenshannon(ref_counts: FloatArray, cur_counts: FloatArray) -> float:
    """Jensen-Shannon distance (square root of the divergence), natural logarithm, like scipy."""
    p = ref_counts / ref_counts.sum()
    q = cur_counts / cur_counts.sum()
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log(p / m), 0.0).sum()
        kl_q = np.where(q > 0, q * np.log(q / m), 0.0).sum()
    return float(math.sqrt(max((kl_p + kl_q) / 2, 0.0)))


def chisquare_p(ref_counts: FloatArray, cur_counts: FloatArray) -> float:
    """Evidently's chi-square test: observed current counts against reference counts scaled to its size."""
    k = ref_counts.shape[0]
    if k < 2:
        return 1.0
    expected = ref_counts * (cur_counts.sum() / ref_counts.sum())
    if ((expected == 0) & (cur_counts > 0)).any():
        return 0.0
    mask = expected > 0
    stat = float((((cur_counts - expected) ** 2)[mask] / expected[mask]).sum())
    return float(chi2.sf(stat, k - 1))


def z_test_p(ref_counts: FloatArray, cur_counts: FloatArray) -> float:
    """Two-proportion Z-test (Evidently's test for binary columns): share of the second value in each."""
    if ref_counts.shape[0] < 2:
        return 1.0
    n1, n2 = float(ref_counts.sum()), float(cur_counts.sum())
    p1, p2 = float(ref_counts[1:].sum()) / n1, float(cur_counts[1:].sum()) / n2
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    denom = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if denom == 0:
        return 1.0 if p1 == p2 else 0.0
    z = (p1 - p2) / denom
    return float(2 * (1 - norm.cdf(abs(z))))


def n_unique(ref: Mapping[str, Any], cur: Mapping[str, Any]) -> int | None:
    """Distinct values across both columns (as Evidently counts them); None when more than DISTINCT_CAP."""
    if ref["type"] == "categorical":
        keys = set(ref["values"]) | set(cur["values"])
        return None if ref.get("other") or cur.get("other") else len(keys)
    rd, cd = ref.get("distinct"), cur.get("distinct")
    if rd is None or cd is None:
        return None
    return len({float(v) for v, _ in rd} | {float(v) for v, _ in cd})


def require_same_edges(name: str, ref: Mapping[str, Any], cur: Mapping[str, Any]) -> None:
    if ref["type"] != cur["type"]:
        raise ProfileError(f"column '{name}' is {ref['type']} in the reference but {cur['type']} in the current data")
    if ref["type"] == "numeric" and list(ref["edges"]) != list(cur["edges"]):
        raise ProfileError(
            f"column '{name}': the current profile was not binned on the reference's edges; build it with "
            "build_profile(data, reference=<the reference profile>)"
        )
