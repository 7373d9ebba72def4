"""Drift check: Charter vs Evidently's DataDriftPreset at 1k, 3k, 10k, 100k and 1M rows x 20 columns, one run.

    pip install -e '.[bench]'          # evidently 0.7 + pandas < 3: never runtime dependencies
    python benchmarks/drift.py         # --sizes 1000,10000 for a quicker look

Both see the same reference and current data (15 numeric columns, 5 with a mean shift; 5 categorical, 2 with
a distribution shift). Charter's time covers everything from raw columns to the verdicts: profiling the
reference, profiling the current data on the reference's edges, and the check. Evidently's time covers
Report.run + the result. The per-column verdicts are compared too. Both tools are warmed up first (imports, caches);
at up to 10k rows each tool's best of three runs counts. Target: Charter faster at every size, at least 50x at 1M,
and the same verdict for every column at every size. Prints the load average before and after.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

import numpy as np

TARGET_RATIO = 50.0  # at 1M rows; faster (> 1x) at every size
SIZES = (1_000, 3_000, 10_000, 100_000, 1_000_000)
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


def run_charter(ref: dict[str, np.ndarray], cur: dict[str, np.ndarray]) -> tuple[float, dict[str, bool], float, float]:
    from charter.monitoring.drift import rules as drift
    from charter.monitoring.drift.profiles import build_profile

    started, cpu = time.perf_counter(), time.process_time()
    reference = build_profile(ref)
    current = build_profile(cur, reference=reference)
    report = drift.check(reference, current)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    return elapsed, {c.column: c.drifted for c in report.columns}, report.drift_share, cpu


def run_evidently(
    ref: dict[str, np.ndarray], cur: dict[str, np.ndarray]
) -> tuple[float, dict[str, bool], float, float]:
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    ref_df, cur_df = pd.DataFrame(ref), pd.DataFrame(cur)
    definition = DataDefinition(
        numerical_columns=[f"num{i}" for i in range(NUMERIC)],
        categorical_columns=[f"cat{i}" for i in range(CATEGORICAL)],
    )
    started, cpu = time.perf_counter(), time.process_time()
    snapshot = Report([DataDriftPreset()]).run(
        Dataset.from_pandas(cur_df, data_definition=definition),
        Dataset.from_pandas(ref_df, data_definition=definition),
    )
    result = snapshot.dict()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    verdicts = {}
    for metric in result["metrics"][1:]:
        cfg = metric["config"]
        value = float(metric["value"])
        p_value = "p_value" in cfg["method"]
        verdicts[cfg["column"]] = value < cfg["threshold"] if p_value else value >= cfg["threshold"]
    return elapsed, verdicts, float(result["metrics"][0]["value"]["share"]), cpu


def best(fn, ref, cur, repeats):  # type: ignore[no-untyped-def]
    runs = [fn(ref, cur) for _ in range(repeats)]
    return min(runs, key=lambda r: r[0])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="rows per dataset, comma-separated")
    args = parser.parse_args()
    try:
        import evidently  # noqa: F401
    except ImportError:
        print("Evidently is not installed: pip install -e '.[bench]' (evidently 0.7 needs pandas < 3)")
        return 2
    warnings.filterwarnings("ignore")
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"drift benchmark: {NUMERIC + CATEGORICAL} columns, reference and current; load average {os.getloadavg()}")
    warm_ref, warm_cur = make_data(500, seed=1)
    run_charter(warm_ref, warm_cur)
    run_evidently(warm_ref, warm_cur)
    print(
        f"{'rows':>10} {'charter s':>10} {'evidently s':>12} {'ratio':>8} {'verdicts agree':>15} {'drift share':>12}"
        f"   CPU s: {'charter':>8} {'evidently':>10} {'ratio':>7}"
    )
    ok = True
    for rows in sizes:
        ref, cur = make_data(rows)
        repeats = 3 if rows <= 10_000 else 1
        charter_s, charter_v, charter_share, charter_cpu = best(run_charter, ref, cur, repeats)
        evidently_s, evidently_v, evidently_share, evidently_cpu = best(run_evidently, ref, cur, repeats)
        ratio = evidently_s / charter_s
        same = sum(charter_v[c] == evidently_v[c] for c in charter_v)
        passed = same == len(charter_v) and ratio > 1 and (rows < 1_000_000 or ratio >= TARGET_RATIO)
        ok = ok and passed
        print(
            f"{rows:>10,} {charter_s:>10.3f} {evidently_s:>12.3f} {ratio:>7.1f}x {same:>8}/{len(charter_v):<6}"
            f" {charter_share:>5.2f}/{evidently_share:<5.2f}       {charter_cpu:>8.3f} {evidently_cpu:>10.3f}"
            f" {evidently_cpu / max(charter_cpu, 1e-9):>6.1f}x {'' if passed else 'FAIL'}",
            flush=True,
        )
    print(f"load average after: {os.getloadavg()}")
    print(f"target: faster at every size, >= {TARGET_RATIO:.0f}x at 1M, verdicts agree: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
