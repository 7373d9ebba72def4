"""Drift check: Charter vs Evidently's DataDriftPreset on the same 1,000,000-row x 20-column data, one run.

    pip install -e '.[bench]'          # evidently 0.7 + pandas < 3: never runtime dependencies
    python benchmarks/drift.py         # --rows 200000 for a quicker look

Both see the same reference and current data (15 numeric columns, 5 with a mean shift; 5 categorical, 2 with
a distribution shift). Charter's time covers everything from raw columns to the verdicts: profiling the
reference, profiling the current data on the reference's edges, and the check. Evidently's time covers
Report.run + the result. The per-column verdicts are compared too. Target: Charter at least 20x faster.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

import numpy as np

TARGET_RATIO = 20.0
NUMERIC, CATEGORICAL = 15, 5
CATEGORIES = np.array(["alpha", "beta", "gamma", "delta", "epsilon", "zeta"])


def make_data(rows: int, seed: int = 0) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    ref: dict[str, np.ndarray] = {}
    cur: dict[str, np.ndarray] = {}
    for i in range(NUMERIC):
        ref[f"num{i}"] = rng.normal(0, 1, rows)
        cur[f"num{i}"] = rng.normal(0.3 if i < 5 else 0.0, 1, rows)
    shifted = [0.30, 0.10, 0.15, 0.15, 0.15, 0.15]
    for i in range(CATEGORICAL):
        ref[f"cat{i}"] = rng.choice(CATEGORIES, rows)
        cur[f"cat{i}"] = rng.choice(CATEGORIES, rows, p=shifted if i < 2 else None)
    return ref, cur


def run_charter(ref: dict[str, np.ndarray], cur: dict[str, np.ndarray]) -> tuple[float, dict[str, bool], float]:
    from charter.monitoring.drift import rules as drift
    from charter.monitoring.drift.profiles import build_profile

    started = time.perf_counter()
    reference = build_profile(ref)
    current = build_profile(cur, reference=reference)
    report = drift.check(reference, current)
    elapsed = time.perf_counter() - started
    return elapsed, {c.column: c.drifted for c in report.columns}, report.drift_share


def run_evidently(ref: dict[str, np.ndarray], cur: dict[str, np.ndarray]) -> tuple[float, dict[str, bool], float]:
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    ref_df, cur_df = pd.DataFrame(ref), pd.DataFrame(cur)
    definition = DataDefinition(
        numerical_columns=[f"num{i}" for i in range(NUMERIC)],
        categorical_columns=[f"cat{i}" for i in range(CATEGORICAL)],
    )
    started = time.perf_counter()
    snapshot = Report([DataDriftPreset()]).run(
        Dataset.from_pandas(cur_df, data_definition=definition),
        Dataset.from_pandas(ref_df, data_definition=definition),
    )
    result = snapshot.dict()
    elapsed = time.perf_counter() - started
    verdicts = {}
    for metric in result["metrics"][1:]:
        cfg = metric["config"]
        value = float(metric["value"])
        p_value = "p_value" in cfg["method"]
        verdicts[cfg["column"]] = value < cfg["threshold"] if p_value else value >= cfg["threshold"]
    return elapsed, verdicts, float(result["metrics"][0]["value"]["share"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    try:
        import evidently  # noqa: F401
    except ImportError:
        print("Evidently is not installed: pip install -e '.[bench]' (evidently 0.7 needs pandas < 3)")
        return 2
    warnings.filterwarnings("ignore")
    import scipy.stats  # noqa: F401  (both tools use scipy: import it before timing either)

    print(f"drift benchmark: {args.rows:,} rows x {NUMERIC + CATEGORICAL} columns, reference and current")
    ref, cur = make_data(args.rows)
    charter_s, charter_v, charter_share = run_charter(ref, cur)
    print(f"charter    {charter_s:8.2f} s   drifted share {charter_share:.2f}")
    evidently_s, evidently_v, evidently_share = run_evidently(ref, cur)
    print(f"evidently  {evidently_s:8.2f} s   drifted share {evidently_share:.2f}")
    ratio = evidently_s / charter_s
    same = sum(charter_v[c] == evidently_v[c] for c in charter_v)
    print(f"ratio      {ratio:8.1f}x  (target >= {TARGET_RATIO:.0f}x: {'PASS' if ratio >= TARGET_RATIO else 'FAIL'})")
    print(f"verdicts   {same}/{len(charter_v)} columns agree")
    return 0 if ratio >= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
