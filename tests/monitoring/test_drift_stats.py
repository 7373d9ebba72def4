"""Drift statistics computed from profiles agree with scipy on the raw data.

Stated tolerances (docs/monitoring.md):
- KS statistic and p-value: exact (1e-9) when the reference has at most 1,000 distinct values; otherwise the
  statistic is within [reported, reported upper bound], which is within 0.002 of scipy at 100k rows.
- Wasserstein (normed by the reference std): within the reported bound, and within 1% (relative) or 0.002.
- PSI, Jensen-Shannon, chi-square, Z-test: exact (1e-9) on the same buckets / categories.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from charter.monitoring.drift import stats as ds
from charter.monitoring.drift.profiles import build_profile


def profiles(ref, cur):  # type: ignore[no-untyped-def]
    r = build_profile({"x": ref})
    c = build_profile({"x": cur}, reference=r)
    return r["columns"]["x"], c["columns"]["x"]


def quantile_buckets(ref: np.ndarray, cur: np.ndarray, k: int = ds.COARSE_BINS) -> tuple[np.ndarray, np.ndarray]:
    """Independent bucketing: reference quantiles j/k (inverted CDF), right-closed bins, open ends."""
    edges = np.unique(np.quantile(ref, np.arange(1, k) / k, method="inverted_cdf"))
    r = np.bincount(np.searchsorted(edges, ref, side="left"), minlength=edges.size + 1)
    c = np.bincount(np.searchsorted(edges, cur, side="left"), minlength=edges.size + 1)
    return r.astype(float), c.astype(float)


def evidently_psi(r: np.ndarray, c: np.ndarray) -> float:
    """Evidently's PSI with its rule for empty buckets, written out independently."""

    def fill(p: np.ndarray) -> np.ndarray:
        p = p / p.sum()
        nz = p[p > 0].min()
        return np.where(p == 0, nz / 1e6 if nz <= 1e-4 else 1e-4, p)

    rp, cp = fill(r), fill(c)
    return float(np.sum((rp - cp) * np.log(rp / cp)))


rng = np.random.default_rng(2026)


@pytest.mark.parametrize(
    ("n_ref", "n_cur", "shift"), [(300, 400, 0.0), (1000, 1000, 0.15), (200, 1000, 0.4), (50, 80, 1.0)]
)
def test_ks_is_exact_for_small_references(n_ref, n_cur, shift) -> None:
    a, b = rng.normal(0, 1, n_ref), rng.normal(shift, 1, n_cur)
    r, c = profiles(a, b)
    got = ds.ks(r, c, exact_edges=True)
    want = stats.ks_2samp(a, b)
    assert got.statistic == pytest.approx(want.statistic, abs=1e-12)
    assert got.p_value == pytest.approx(want.pvalue, rel=1e-9, abs=1e-15)


def test_ks_is_exact_for_discrete_data_with_ties() -> None:
    a = rng.integers(0, 40, 5000).astype(float)
    b = rng.integers(0, 45, 3000).astype(float)
    r, c = profiles(a, b)
    got, want = ds.ks(r, c, exact_edges=True), stats.ks_2samp(a, b)
    assert got.statistic == pytest.approx(want.statistic, abs=1e-12)
    assert got.p_value == pytest.approx(want.pvalue, rel=1e-9, abs=1e-300)


def test_ks_on_large_continuous_data_is_bounded_and_close() -> None:
    a, b = rng.normal(0, 1, 100_000), rng.normal(0.05, 1.1, 100_000)
    r, c = profiles(a, b)
    got, want = ds.ks(r, c, exact_edges=False), stats.ks_2samp(a, b)
    assert got.statistic <= want.statistic + 1e-12 <= got.upper + 2e-12
    assert abs(got.statistic - want.statistic) <= 0.002


@pytest.mark.parametrize(
    ("n_ref", "n_cur", "make"),
    [
        (100_000, 80_000, lambda n, s: rng.normal(s, 1, n)),
        (50_000, 50_000, lambda n, s: rng.exponential(2, n) + s),
        (800, 3000, lambda n, s: rng.normal(s, 2, n)),
    ],
)
@pytest.mark.parametrize("shift", [0.0, 0.3, 3.0])
def test_wasserstein_normed_agrees_with_scipy_within_its_bound(n_ref, n_cur, make, shift) -> None:
    a, b = make(n_ref, 0.0), make(n_cur, shift)
    r, c = profiles(a, b)
    got, bound = ds.wasserstein_norm(r, c)
    want = stats.wasserstein_distance(a, b) / max(float(np.std(a)), 0.001)
    assert abs(got - want) <= bound + 1e-9
    assert abs(got - want) <= max(0.01 * want, 0.002)


def test_wasserstein_is_exact_when_every_value_is_an_edge() -> None:
    a = rng.integers(0, 30, 4000).astype(float)
    b = rng.integers(5, 40, 2500).astype(float)
    r, c = profiles(a, b)
    got, bound = ds.wasserstein_norm(r, c)
    assert bound == 0.0
    assert got == pytest.approx(stats.wasserstein_distance(a, b) / np.std(a), rel=1e-12)


@pytest.mark.parametrize("shift", [0.0, 0.5])
def test_psi_and_jensen_shannon_on_numeric_columns_use_reference_quantile_buckets(shift) -> None:
    a, b = rng.normal(0, 1, 20_000), rng.normal(shift, 1, 15_000)
    r, c = profiles(a, b)
    buckets = ds.numeric_buckets(r, c)
    want_r, want_c = quantile_buckets(a, b)
    assert buckets.ref.tolist() == want_r.tolist() and buckets.cur.tolist() == want_c.tolist()
    assert ds.jensenshannon(buckets.ref, buckets.cur) == pytest.approx(jensenshannon(want_r, want_c), abs=1e-12)
    assert ds.psi(buckets.ref, buckets.cur) == pytest.approx(evidently_psi(want_r, want_c), abs=1e-12)


def test_categorical_statistics_agree_with_scipy() -> None:
    cats = np.array(["red", "green", "blue", "black"])
    a = rng.choice(cats, 3000, p=[0.4, 0.3, 0.2, 0.1])
    b = rng.choice(cats, 2000, p=[0.3, 0.3, 0.3, 0.1])
    r, c = profiles(a, b)
    buckets = ds.categorical_buckets(r, c)
    keys = sorted(set(a) | set(b))
    ref_counts = np.array([np.sum(a == k) for k in keys], dtype=float)
    cur_counts = np.array([np.sum(b == k) for k in keys], dtype=float)
    assert buckets.keys == keys
    expected = ref_counts * (len(b) / len(a))
    assert ds.chisquare_p(buckets.ref, buckets.cur) == pytest.approx(
        stats.chisquare(cur_counts, expected).pvalue, rel=1e-9
    )
    assert ds.jensenshannon(buckets.ref, buckets.cur) == pytest.approx(jensenshannon(ref_counts, cur_counts), abs=1e-12)
    assert ds.psi(buckets.ref, buckets.cur) == pytest.approx(evidently_psi(ref_counts, cur_counts), abs=1e-12)


def test_a_category_unseen_in_the_reference_is_certain_drift_for_chi_square() -> None:
    r, c = profiles(np.array(["a", "b"] * 50), np.array(["a", "b", "c"] * 30))
    b = ds.categorical_buckets(r, c)
    assert ds.chisquare_p(b.ref, b.cur) == 0.0


def test_z_test_agrees_with_the_two_proportion_formula() -> None:
    a = rng.choice(["yes", "no"], 800, p=[0.5, 0.5])
    b = rng.choice(["yes", "no"], 600, p=[0.6, 0.4])
    r, c = profiles(a, b)
    bk = ds.categorical_buckets(r, c)
    p1, p2 = np.mean(a == "yes"), np.mean(b == "yes")
    pooled = (p1 * len(a) + p2 * len(b)) / (len(a) + len(b))
    z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1 / len(a) + 1 / len(b)))
    assert ds.z_test_p(bk.ref, bk.cur) == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-9)


@pytest.mark.parametrize(("d", "n1", "n2"), [(0.05, 1000, 10_000), (0.1, 300, 700), (0.02, 1000, 1000), (0.9, 5, 7)])
def test_exact_ks_p_values_match_scipy(d, n1, n2) -> None:
    # two samples whose KS statistic is d (by construction) would be long to build; compare the p-value
    # function itself with scipy's exact method through ks_2samp on shifted uniform samples instead
    a = np.arange(n1) / n1
    b = np.arange(n2) / n2 + d
    want = stats.ks_2samp(a, b, method="exact")
    assert ds.ks_p_value(float(want.statistic), n1, n2) == pytest.approx(want.pvalue, rel=1e-8, abs=1e-300)


def test_large_samples_use_the_asymptotic_distribution_like_scipy() -> None:
    a, b = rng.normal(0, 1, 20_000), rng.normal(0.01, 1, 15_000)
    want = stats.ks_2samp(a, b)
    assert ds.ks_p_value(float(want.statistic), 20_000, 15_000) == pytest.approx(want.pvalue, rel=1e-9)
