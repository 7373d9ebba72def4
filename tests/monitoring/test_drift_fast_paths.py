"""The fast paths of drift (binning without sorting, counting in C, exact p-values only where the verdict needs
them) give the same numbers as the straightforward ways, checked against numpy, Counter and scipy."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
from scipy import stats

from charter.monitoring.drift import rules as drift
from charter.monitoring.drift import stats as ds
from charter.monitoring.drift.profiles import _bin_stats, _categorical_counts, bin_index, build_profile

rng = np.random.default_rng(11)


@pytest.mark.parametrize(
    "x",
    [
        rng.normal(0, 1, 200_000),
        np.round(rng.normal(0, 3, 200_000), 1),  # many values exactly on edges
        rng.integers(0, 7, 120_000).astype(np.float64),  # few values, all edges
        np.concatenate((rng.normal(0, 1, 100_000), [-1e12, 1e12, 0.0, -0.0])),  # far outside the edges
    ],
)
def test_binning_on_reference_edges_equals_sorting_and_searching(x) -> None:
    ref = build_profile({"x": np.round(rng.normal(0, 2, 100_000), 1)})
    edges = np.asarray(ref["columns"]["x"]["edges"])
    assert np.array_equal(bin_index(x, edges), np.searchsorted(edges, x, side="left"))
    cur = build_profile({"x": x}, reference=ref)["columns"]["x"]
    counts, eq, _ = _bin_stats(np.sort(x), edges)
    assert cur["counts"] == counts
    assert cur["eq"] == eq
    want_sums = [math.fsum(x[np.searchsorted(edges, x) == i]) for i in range(len(edges) + 1)]
    assert np.allclose(cur["sums"], want_sums, rtol=1e-9, atol=1e-6)
    assert cur["min"] == x.min() and cur["max"] == x.max()
    assert cur["mean"] == pytest.approx(x.mean(), rel=1e-12, abs=1e-12)
    uniq, n = np.unique(x, return_counts=True)
    want = [[float(v), int(c)] for v, c in zip(uniq, n, strict=True)] if uniq.size <= 20 else None
    assert cur["distinct"] == want


@pytest.mark.parametrize(
    "values",
    [
        np.array(["b", "a", "", "NA", "a", "c"] * 500),
        np.array(["x", None, "y", "x", float("nan"), "None"] * 300, dtype=object),
        np.array([1, 2, 2, 3, None] * 100, dtype=object),
        np.array(["a", 1, 2.5, "True", None, b"bytes"] * 50, dtype=object),  # mixed: Python's Counter
        np.array([1.0, 2.5, 1.0, float("nan")] * 50, dtype=object),
    ],
)
def test_categorical_counts_equal_pythons_counter(values) -> None:
    want_counts: Counter[str] = Counter()
    want_missing = 0
    for v in values.tolist():
        if isinstance(v, bytes):
            v = v.decode()
        if v is None or (isinstance(v, float) and v != v) or (isinstance(v, str) and v.strip().lower() in {
            "", "na", "n/a", "nan", "null", "none"}):  # fmt: skip
            want_missing += 1
        else:
            want_counts[str(v)] += 1
    counts, missing = _categorical_counts(values)
    assert (dict(counts), missing) == (dict(want_counts), want_missing)


@pytest.mark.parametrize(("d", "n"), [(0.05, 1000), (0.02, 3000), (0.3, 40), (0.9, 7), (0.004, 10_000)])
def test_exact_ks_p_value_for_equal_sizes_matches_scipy(d, n) -> None:
    a = np.arange(n) / n
    b = np.arange(n) / n + d
    want = stats.ks_2samp(a, b, method="exact")
    assert ds.ks_p_value(float(want.statistic), n, n) == pytest.approx(want.pvalue, rel=1e-9, abs=1e-300)


def test_the_exact_p_value_is_computed_only_when_the_verdict_uses_it() -> None:
    small = {"x": rng.normal(0, 1, 800)}
    report = drift.check(
        build_profile(small), build_profile({"x": rng.normal(0.1, 1, 900)}, reference=build_profile(small))
    )
    col = report.columns[0]
    assert col.method == "ks" and col.stats["ks_p_value_method"] == "exact"
    a, b = rng.normal(0, 1, 5000), rng.normal(0.05, 1, 4000)
    ref = build_profile({"x": a})
    col = drift.check(ref, build_profile({"x": b}, reference=ref)).columns[0]
    assert col.method == "wasserstein" and col.stats["ks_p_value_method"] == "asymptotic"
    d = col.stats["ks_statistic"]
    assert col.stats["ks_p_value"] == pytest.approx(stats.kstwo.sf(d, round(5000 * 4000 / 9000)), rel=1e-12)
