"""Profiles built on a Dask cluster (a real LocalCluster: scheduler and worker processes) equal the profile of
the same rows built in one process."""

from __future__ import annotations

import numpy as np
import pytest

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")
pd = pytest.importorskip("pandas")

from charter.monitoring.drift import rules as drift  # noqa: E402
from charter.monitoring.drift.dask_profiles import build_profile_dask, float_keys, key_floats  # noqa: E402
from charter.monitoring.drift.profiles import ProfileError, build_profile  # noqa: E402

EXACT = (
    "type",
    "count",
    "missing",
    "min",
    "max",
    "edges",
    "counts",
    "eq",
    "distinct",
    "exact_edges",
    "values",
    "other",
)
rng = np.random.default_rng(5)


@pytest.fixture(scope="module")
def client():  # type: ignore[no-untyped-def]
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


def frame(rows: int, shift: float = 0.0) -> pd.DataFrame:
    x = rng.normal(shift, 1, rows)
    x[rng.random(rows) < 0.01] = np.nan  # missing values
    return pd.DataFrame(
        {
            "latency": x,
            "score": np.round(rng.normal(0, 3, rows), 1),  # many ties, values on edges
            "clicks": rng.integers(0, 4, rows),  # few distinct values: every value an edge
            "country": rng.choice(["de", "fr", "us", "", None], rows),
            "plan": rng.choice(["free", "pro"], rows, p=[0.8 - shift / 2, 0.2 + shift / 2]),
        }
    )


def assert_same(got: dict, want: dict) -> None:
    assert got["rows"] == want["rows"] and list(got["columns"]) == list(want["columns"])
    for name, w in want["columns"].items():
        g = got["columns"][name]
        for key in EXACT:
            assert g.get(key) == w.get(key), (name, key)
        if w["type"] == "numeric":  # sums taken in another order: relative to the values' magnitude
            scale = max(1.0, abs(w["min"]), abs(w["max"]))
            assert g["mean"] == pytest.approx(w["mean"], rel=1e-12, abs=1e-12 * scale)
            assert g["m2"] == pytest.approx(w["m2"], rel=1e-10)
            assert np.allclose(g["sums"], w["sums"], rtol=1e-9, atol=1e-9 * scale)


def test_reference_and_current_profiles_equal_the_single_process_profiles(client) -> None:
    ref_pdf, cur_pdf = frame(60_000), frame(40_000, shift=0.2)
    ref_ddf = dd.from_pandas(ref_pdf, npartitions=7)
    cur_ddf = dd.from_pandas(cur_pdf, npartitions=5)
    reference = build_profile_dask(ref_ddf)
    want_reference = build_profile(ref_pdf)
    assert_same(reference, want_reference)
    assert reference["columns"]["latency"]["exact_edges"] is False
    assert reference["columns"]["clicks"]["exact_edges"] is True
    current = build_profile_dask(cur_ddf, reference=reference)
    assert_same(current, build_profile(cur_pdf, reference=want_reference))
    got = drift.check(reference, current)
    want = drift.check(want_reference, build_profile(cur_pdf, reference=want_reference))
    assert [(c.column, c.method, c.drifted) for c in got.columns] == [
        (c.column, c.method, c.drifted) for c in want.columns
    ]


def test_extreme_values_and_uneven_partitions(client) -> None:
    x = np.concatenate((rng.normal(0, 1, 5000), [-1e12, 1e12, -0.0, 0.0, 5e-324]))
    pdf = pd.DataFrame({"x": x})
    ddf = dd.from_pandas(pdf, npartitions=1).repartition(divisions=[0, 10, 11, 3000, len(x) - 1])
    assert_same(build_profile_dask(ddf, bins=100), build_profile(pdf, bins=100))


def test_the_key_mapping_keeps_float_order() -> None:
    x = np.sort(np.concatenate((rng.normal(0, 1e10, 1000), [-np.inf, np.inf, -0.0, 0.0, 1e-320, -1e-320])))
    keys = float_keys(x)
    assert (np.diff(keys) >= 0).all()
    assert np.array_equal(key_floats(keys), x)


def test_a_column_numeric_in_the_reference_must_be_numeric_everywhere(client) -> None:
    pdf = pd.DataFrame({"x": ["1", "2", "three", "4"]})
    with pytest.raises(ProfileError, match="column 'x' is numeric in the reference but holds 'three'"):
        build_profile_dask(dd.from_pandas(pdf, npartitions=2), column_types={"x": "numeric"})
    with pytest.raises(ProfileError, match="type must be numeric or categorical"):
        build_profile_dask(dd.from_pandas(pdf, npartitions=2), column_types={"x": "text"})
