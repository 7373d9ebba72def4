"""Drift checks: a current profile against a reference profile, column by column, with Evidently's defaults.

Default test per column (Evidently's documented auto-selection, decided on the reference's non-missing count
and the number of distinct values across both datasets):

    reference <= 1000 values   numeric (> 5 distinct)  Kolmogorov-Smirnov     drift when p < 0.05
                               categorical, or numeric with <= 5 distinct:
                                   > 2 distinct        chi-square             drift when p < 0.05
                                   <= 2 distinct       Z-test (proportions)   drift when p < 0.05
    reference > 1000 values    numeric (> 5 distinct)  Wasserstein (normed)   drift when >= 0.1
                               categorical, or numeric with <= 5 distinct:
                                                       Jensen-Shannon         drift when >= 0.1

The dataset drifts when the share of drifted columns is at least `drift_share` (0.5). Methods and thresholds
are configurable per column type and per column.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, get_args

from charter.monitoring.drift import stats as ds
from charter.monitoring.drift.profiles import DISTINCT_CAP, ProfileError, check_same_columns, std

NumericMethod = Literal["ks", "wasserstein", "psi", "jensenshannon", "chisquare", "z"]
NUMERIC_METHODS: Final[tuple[NumericMethod, ...]] = get_args(NumericMethod)
CategoricalMethod = Literal["chisquare", "z", "psi", "jensenshannon"]
CATEGORICAL_METHODS: Final[tuple[CategoricalMethod, ...]] = get_args(CategoricalMethod)
P_VALUE_METHODS: Final = frozenset({"ks", "chisquare", "z"})
DEFAULT_THRESHOLDS: Final[dict[str, float]] = {
    "ks": 0.05,
    "chisquare": 0.05,
    "z": 0.05,
    "wasserstein": 0.1,
    "psi": 0.1,
    "jensenshannon": 0.1,
}
SMALL_REFERENCE: Final = 1000
FEW_VALUES: Final = 5
DEFAULT_DRIFT_SHARE: Final = 0.5


@dataclass(frozen=True)
class DriftOptions:
    drift_share: float = DEFAULT_DRIFT_SHARE
    num_method: str | None = None
    cat_method: str | None = None
    num_threshold: float | None = None
    cat_threshold: float | None = None
    per_column_method: Mapping[str, str] = field(default_factory=dict)
    per_column_threshold: Mapping[str, float] = field(default_factory=dict)
    columns: tuple[str, ...] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "drift_share": self.drift_share,
            "num_method": self.num_method,
            "cat_method": self.cat_method,
            "num_threshold": self.num_threshold,
            "cat_threshold": self.cat_threshold,
            "per_column_method": dict(self.per_column_method),
            "per_column_threshold": dict(self.per_column_threshold),
            "columns": list(self.columns) if self.columns is not None else None,
        }


@dataclass(frozen=True)
class ColumnDrift:
    column: str
    column_type: str
    method: str
    value: float
    threshold: float
    drifted: bool
    stats: dict[str, Any]


@dataclass(frozen=True)
class DriftReport:
    columns: list[ColumnDrift]
    drift_share: float
    share_threshold: float
    dataset_drift: bool
    rows_reference: int
    rows_current: int

    @property
    def drifted(self) -> int:
        return sum(1 for c in self.columns if c.drifted)


def default_method(column_type: str, n_reference: int, distinct: int | None) -> str:
    few = distinct is not None and distinct <= FEW_VALUES
    if n_reference <= SMALL_REFERENCE:
        if column_type == "numeric" and not few:
            return "ks"
        return "chisquare" if distinct is None or distinct > 2 else "z"
    if column_type == "numeric" and not few:
        return "wasserstein"
    return "jensenshannon"


def _choose(name: str, ctype: str, n_ref: int, distinct: int | None, opts: DriftOptions) -> tuple[str, float]:
    method = opts.per_column_method.get(name) or (opts.num_method if ctype == "numeric" else opts.cat_method)
    method = method or default_method(ctype, n_ref, distinct)
    allowed = NUMERIC_METHODS if ctype == "numeric" else CATEGORICAL_METHODS
    if method not in allowed:
        raise ProfileError(f"column '{name}' is {ctype}: method {method!r} is not one of {', '.join(allowed)}")
    if ctype == "numeric" and method in ("chisquare", "z") and distinct is None:
        raise ProfileError(
            f"column '{name}': {method} needs few distinct values (at most {DISTINCT_CAP}); "
            "use ks, wasserstein, psi or jensenshannon"
        )
    threshold = opts.per_column_threshold.get(name)
    if threshold is None:
        threshold = opts.num_threshold if ctype == "numeric" else opts.cat_threshold
    return method, DEFAULT_THRESHOLDS[method] if threshold is None else float(threshold)


def column_drift(
    name: str, ref: Mapping[str, Any], cur: Mapping[str, Any], exact_edges: bool, opts: DriftOptions
) -> ColumnDrift:
    ds.require_same_edges(name, ref, cur)
    n_ref, n_cur = int(ref["count"]), int(cur["count"])
    if n_ref == 0:
        raise ProfileError(f"column '{name}' has no values in the reference")
    if n_cur == 0:
        raise ProfileError(f"column '{name}' has no values in the current data (all missing)")
    ctype = ref["type"]
    distinct = ds.n_unique(ref, cur)
    method, threshold = _choose(name, ctype, n_ref, distinct, opts)
    stats: dict[str, Any] = {"rows_reference": n_ref, "rows_current": n_cur, "distinct": distinct}
    if ctype == "numeric":
        k = ds.ks(ref, cur, exact_edges, exact_p=method == "ks")
        w, w_bound = ds.wasserstein_norm(ref, cur)
        buckets = ds.numeric_buckets(ref, cur)
        stats.update(
            ks_statistic=k.statistic,
            ks_statistic_upper=k.upper,
            ks_p_value=k.p_value,
            ks_p_value_method="exact" if method == "ks" and max(n_ref, n_cur) <= ds.KS_EXACT_MAX_N else "asymptotic",
            wasserstein_norm=w,
            wasserstein_norm_bound=w_bound,
            mean_reference=float(ref["mean"]),
            mean_current=float(cur["mean"]),
            std_reference=std(ref),
            std_current=std(cur),
        )
    else:
        buckets = ds.categorical_buckets(ref, cur)
    stats.update(
        psi=ds.psi(buckets.ref, buckets.cur),
        jensenshannon=ds.jensenshannon(buckets.ref, buckets.cur),
        buckets=buckets.basis,
    )
    if method in ("chisquare", "z") or ctype == "categorical":
        vb = buckets if ctype == "categorical" else ds.numeric_buckets(ref, cur)
        stats["chisquare_p_value"] = ds.chisquare_p(vb.ref, vb.cur)
        if distinct is not None and distinct <= 2:
            stats["z_p_value"] = ds.z_test_p(vb.ref, vb.cur)
    value = {
        "ks": stats.get("ks_p_value"),
        "wasserstein": stats.get("wasserstein_norm"),
        "psi": stats["psi"],
        "jensenshannon": stats["jensenshannon"],
        "chisquare": stats.get("chisquare_p_value"),
        "z": stats.get("z_p_value"),
    }[method]
    if value is None:  # z requested on a column with more than two values
        raise ProfileError(f"column '{name}': the Z-test needs a column with at most two distinct values")
    drifted = value < threshold if method in P_VALUE_METHODS else value >= threshold
    return ColumnDrift(name, ctype, method, float(value), threshold, bool(drifted), stats)


def check(reference: Mapping[str, Any], current: Mapping[str, Any], opts: DriftOptions | None = None) -> DriftReport:
    """Compare a current profile with a reference profile. Raises ProfileError naming what does not fit."""
    opts = opts or DriftOptions()
    if not 0 < opts.drift_share <= 1:
        raise ProfileError("drift_share must be above 0 and at most 1")
    ref_cols, cur_cols = reference["columns"], current["columns"]
    check_same_columns(list(ref_cols), list(cur_cols))
    names = list(ref_cols)
    if opts.columns is not None:
        unknown = [c for c in opts.columns if c not in ref_cols]
        if unknown:
            raise ProfileError(f"unknown columns {', '.join(unknown)}; the reference has: {', '.join(names)}")
        names = [c for c in names if c in set(opts.columns)]
    for key in list(opts.per_column_method) + list(opts.per_column_threshold):
        if key not in ref_cols:
            raise ProfileError(f"options name column '{key}', which is not in the reference")
    results = []
    for name in names:
        ref_col = ref_cols[name]
        results.append(column_drift(name, ref_col, cur_cols[name], bool(ref_col.get("exact_edges")), opts))
    share = sum(1 for r in results if r.drifted) / len(results) if results else 0.0
    return DriftReport(
        columns=results,
        drift_share=share,
        share_threshold=opts.drift_share,
        dataset_drift=bool(results) and share >= opts.drift_share,
        rows_reference=int(reference["rows"]),
        rows_current=int(current["rows"]),
    )
