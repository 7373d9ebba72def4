"""Per-column drift verdicts follow Evidently's documented defaults on synthetic cases.

The expected method and verdict are computed here independently, on the raw arrays with scipy, from
Evidently's rule: reference <= 1000 rows: numeric -> KS (p < 0.05), categorical -> chi-square (p < 0.05) or
the Z-test for two values; > 1000 rows: numeric -> Wasserstein normed (>= 0.1), categorical -> Jensen-Shannon
(>= 0.1); numeric columns with <= 5 distinct values are treated as categorical; dataset drift when at least
half of the columns drift. When Evidently itself is installed (the `bench` extra), it is compared directly.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from charter.monitoring.drift import rules as drift
from charter.monitoring.drift.profiles import build_profile

NUMERIC = ("income", "age", "score_bucket")
CATEGORICAL = ("channel", "returning")


def dataset(n: int, case: str, seed: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)

    def make(shifted: bool) -> dict[str, np.ndarray]:
        mean = case == "mean shift" and shifted
        cat = case == "category shift" and shifted
        return {
            "income": rng.lognormal(10 + (0.6 if mean else 0), 0.5, n),
            "age": rng.normal(40 + (6 if mean else 0), 12, n),
            "score_bucket": rng.integers(1, 5, n).astype(float),  # 4 distinct values: categorical tests
            "channel": rng.choice(["web", "app", "phone"], n, p=[0.2, 0.2, 0.6] if cat else [0.5, 0.3, 0.2]),
            "returning": rng.choice(["yes", "no"], n, p=[0.8, 0.2] if cat else [0.5, 0.5]),
        }

    return make(False), make(True)


def evidently_default(ref: np.ndarray, cur: np.ndarray, numeric: bool) -> tuple[str, bool]:
    n_values = len(set(ref.tolist()) | set(cur.tolist()))
    keys = sorted(set(ref.tolist()) | set(cur.tolist()))
    r = np.array([np.sum(ref == k) for k in keys], dtype=float)
    c = np.array([np.sum(cur == k) for k in keys], dtype=float)
    as_categories = not numeric or n_values <= 5
    if len(ref) <= 1000:
        if not as_categories:
            return "ks", bool(stats.ks_2samp(ref, cur).pvalue < 0.05)
        if n_values > 2:
            return "chisquare", bool(stats.chisquare(c, r * len(cur) / len(ref)).pvalue < 0.05)
        p1, p2 = r[1] / r.sum(), c[1] / c.sum()
        pooled = (r[1] + c[1]) / (r.sum() + c.sum())
        z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1 / r.sum() + 1 / c.sum()))
        return "z", bool(2 * stats.norm.sf(abs(z)) < 0.05)
    if not as_categories:
        return "wasserstein", bool(stats.wasserstein_distance(ref, cur) / max(np.std(ref), 0.001) >= 0.1)
    return "jensenshannon", bool(jensenshannon(r, c) >= 0.1)


CASES = [(n, case) for n in (600, 5000) for case in ("no drift", "mean shift", "category shift")]


@pytest.mark.parametrize(("n", "case"), CASES)
def test_verdicts_per_column_match_evidentlys_defaults(n, case) -> None:
    ref, cur = dataset(n, case, seed=n + len(case))
    report = drift.check(build_profile(ref), build_profile(cur, reference=build_profile(ref)))
    got = {c.column: (c.method, c.drifted) for c in report.columns}
    want = {name: evidently_default(ref[name], cur[name], name in NUMERIC) for name in ref}
    assert got == want
    share = sum(d for _, d in want.values()) / len(want)
    assert report.dataset_drift == (share >= 0.5)


def test_the_three_cases_read_as_a_person_expects() -> None:
    def drifted(case: str) -> set[str]:
        ref, cur = dataset(5000, case, seed=1)
        rep = drift.check(build_profile(ref), build_profile(cur, reference=build_profile(ref)))
        return {c.column for c in rep.columns if c.drifted}

    assert drifted("no drift") == set()
    assert drifted("mean shift") == {"income", "age"}
    assert drifted("category shift") == {"channel", "returning"}


def test_thresholds_and_methods_are_configurable() -> None:
    ref, cur = dataset(5000, "mean shift", seed=3)
    r = build_profile(ref)
    c = build_profile(cur, reference=r)
    strict = drift.check(r, c, drift.DriftOptions(num_threshold=5.0))
    assert not any(col.drifted for col in strict.columns if col.column in ("income", "age"))
    psi = drift.check(r, c, drift.DriftOptions(num_method="psi", per_column_method={"channel": "chisquare"}))
    methods = {col.column: col.method for col in psi.columns}
    assert methods["income"] == "psi" and methods["channel"] == "chisquare"
    lenient = drift.check(r, c, drift.DriftOptions(drift_share=0.3))
    assert lenient.dataset_drift and lenient.drift_share == pytest.approx(0.4)


def test_verdicts_match_evidently_itself_when_installed() -> None:
    pytest.importorskip("evidently", reason="Evidently is in the bench extra, not a test dependency")
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    names = {"K-S p_value": "ks", "chi-square p_value": "chisquare", "Z-test p_value": "z",
             "Wasserstein distance (normed)": "wasserstein", "Jensen-Shannon distance": "jensenshannon"}  # fmt: skip
    for n, case in CASES:
        ref, cur = dataset(n, case, seed=n + len(case))
        definition = DataDefinition(numerical_columns=list(NUMERIC), categorical_columns=list(CATEGORICAL))
        snap = Report([DataDriftPreset()]).run(
            Dataset.from_pandas(pd.DataFrame(cur), data_definition=definition),
            Dataset.from_pandas(pd.DataFrame(ref), data_definition=definition),
        )
        theirs = {}
        for metric in snap.dict()["metrics"][1:]:
            cfg = metric["config"]
            value = float(metric["value"])
            method = names[cfg["method"]]
            is_p = method in ("ks", "chisquare", "z")
            theirs[cfg["column"]] = (method, value < cfg["threshold"] if is_p else value >= cfg["threshold"])
        r = build_profile(ref)
        ours = {c.column: (c.method, c.drifted) for c in drift.check(r, build_profile(cur, reference=r)).columns}
        assert ours == theirs, (n, case)
