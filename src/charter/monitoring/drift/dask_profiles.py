"""Profiles of a Dask dataframe: partitions profiled in parallel where they live, merged on the client.

    import dask.dataframe as dd
    from charter.monitoring.drift.dask_profiles import build_profile_dask
    reference = build_profile_dask(dd.read_parquet("s3://lake/table/"))          # on the current Dask client
    current = build_profile_dask(todays_ddf, reference=reference)

The result equals `build_profile` of the same rows in one process: exactly for the bin edges, counts, values on
edges, minimum, maximum, distinct values and category counts; mean, M2 and the per-bin sums are floating-point
sums taken in another order (relative difference ~1e-12). Categories are exact while every partition holds at
most MAX_CATEGORIES distinct values (a partition caps its own, as any profile does).

A reference needs its quantile edges over all rows, which no partition knows. They are found without moving
the data: every partition keeps its numeric columns sorted (as order-preserving integer keys) on its worker,
and the client bisects each edge's rank over the key space — one small task per partition per step, 64 steps
at most — until the exact value at that rank is known. Then every partition is binned on those edges and the
partition profiles are merged (`merge_profiles`). Needs the `dask` extra: pip install 'charter[dask]'.
"""

from __future__ import annotations

from typing import Any, Final

import dask
import numpy as np
import numpy.typing as npt

from charter.monitoring.drift.profiles import (
    COLUMN_TYPES,
    FINE_BINS,
    FORMAT,
    ProfileError,
    _as_array,
    _numeric_values,
    build_profile,
    merge_profiles,
)

KeyArray = npt.NDArray[np.int64]
_SIGN: Final = np.int64(0x7FFFFFFFFFFFFFFF)


def float_keys(x: npt.NDArray[np.float64]) -> KeyArray:
    """Integers ordered as the floats are (IEEE 754 bits, negatives' magnitude bits flipped); -0.0 < 0.0."""
    bits = x.view(np.int64)
    return np.asarray(bits ^ ((bits >> 63) & _SIGN), dtype=np.int64)


def key_floats(k: KeyArray) -> npt.NDArray[np.float64]:
    return np.asarray(k ^ ((k >> 63) & _SIGN), dtype=np.int64).view(np.float64)


def _scan(pdf: Any, types: dict[str, str | None], bins: int) -> dict[str, Any]:
    """One partition, first pass: row count; per column whether it reads as numbers, its sorted keys and its
    distinct values (None when more than `bins`)."""
    out: dict[str, Any] = {"rows": len(pdf), "columns": {}}
    for name, kind in types.items():
        arr = _as_array(pdf[name])
        parsed = _numeric_values(name, arr, strict=kind == "numeric") if kind != "categorical" else None
        if parsed is None:
            out["columns"][name] = None
            continue
        x = np.sort(parsed[0])
        keys = float_keys(x)
        starts = np.concatenate(([True], x[1:] != x[:-1])) if x.size else np.zeros(0, dtype=bool)
        distinct = x[starts] if int(starts.sum()) <= bins else None
        out["columns"][name] = {"keys": keys, "distinct": distinct}
    return out


def _summary(scan: dict[str, Any]) -> dict[str, Any]:
    """What the client needs from a scan (the sorted keys stay on the worker)."""
    cols: dict[str, Any] = {}
    for name, col in scan["columns"].items():
        if col is None:
            cols[name] = None
            continue
        keys = col["keys"]
        cols[name] = {
            "count": int(keys.shape[0]),
            "lo": int(keys[0]) if keys.size else None,
            "hi": int(keys[-1]) if keys.size else None,
            "distinct": col["distinct"],
        }
    return {"rows": scan["rows"], "columns": cols}


def _count_le(scan: dict[str, Any], probes: dict[str, KeyArray]) -> dict[str, npt.NDArray[np.int64]]:
    """Per column, how many of this partition's values are <= each probe key."""
    return {
        name: np.searchsorted(scan["columns"][name]["keys"], p, side="right").astype(np.int64)
        for name, p in probes.items()
    }


def _profile_part(pdf: Any, skeleton: dict[str, Any], bins: int) -> dict[str, Any] | None:
    return build_profile(pdf, reference=skeleton, bins=bins) if len(pdf) else None


def _ranked_values(scans: list[Any], need: dict[str, tuple[int, int, npt.NDArray[np.int64]]]) -> dict[str, Any]:
    """Per column, the values at the given 0-based global ranks: bisection over the key space, every
    partition counting its values <= the probes in each step (all columns and ranks in one task)."""
    lo = {name: np.full(r.shape, a, dtype=np.int64) for name, (a, _, r) in need.items()}
    hi = {name: np.full(r.shape, b, dtype=np.int64) for name, (_, b, r) in need.items()}
    while any((hi[n] > lo[n]).any() for n in need):
        mid = {n: (lo[n] >> 1) + (hi[n] >> 1) + (lo[n] & hi[n] & 1) for n in need}  # no int64 overflow
        counts = dask.compute(*[dask.delayed(_count_le)(s, mid) for s in scans])
        for n, (_, _, ranks) in need.items():
            total = np.sum([c[n] for c in counts], axis=0)
            enough = total >= ranks + 1  # the value at this rank is <= mid
            hi[n] = np.where(enough, mid[n], hi[n])
            lo[n] = np.where(enough, lo[n], mid[n] + 1)
    return {n: key_floats(lo[n]) for n in need}


def _reference_skeleton(ddf: Any, types: dict[str, str | None], bins: int) -> tuple[dict[str, Any], dict[str, bool]]:
    parts = ddf.to_delayed()
    scans = dask.persist(*[dask.delayed(_scan)(p, types, bins) for p in parts])
    summaries = dask.compute(*[dask.delayed(_summary)(s) for s in scans])
    columns: dict[str, Any] = {}
    exact: dict[str, bool] = {}
    need: dict[str, tuple[int, int, npt.NDArray[np.int64]]] = {}
    for name in types:
        cols = [s["columns"][name] for s in summaries if s["rows"]]
        if not cols or any(c is None for c in cols):
            if types[name] == "numeric":
                raise ProfileError(f"column '{name}' is not numeric in every partition")
            columns[name] = {"type": "categorical"}
            continue
        n = sum(c["count"] for c in cols)
        if n == 0:
            raise ProfileError(f"column '{name}' has no values; a reference needs at least one per column")
        distincts = [c["distinct"] for c in cols]
        if all(d is not None for d in distincts):
            values = np.unique(np.concatenate(distincts))
            if values.shape[0] <= bins:
                columns[name], exact[name] = {"type": "numeric", "edges": values.tolist()}, True
                continue
        q = np.arange(bins + 1) / bins
        ranks = np.clip(np.ceil(q * n).astype(np.int64) - 1, 0, n - 1)  # as profiles.reference_edges
        lo = min(c["lo"] for c in cols if c["count"])
        hi = max(c["hi"] for c in cols if c["count"])
        need[name] = (lo, hi, ranks)
        columns[name], exact[name] = {"type": "numeric"}, False
    for name, values in _ranked_values(list(scans), need).items():
        columns[name]["edges"] = np.unique(values).tolist()
    return {"format": FORMAT, "rows": 0, "columns": columns}, exact


def build_profile_dask(
    ddf: Any,
    *,
    reference: dict[str, Any] | None = None,
    column_types: dict[str, str] | None = None,
    bins: int = FINE_BINS,
) -> dict[str, Any]:
    """The profile of a Dask dataframe, computed on the current Dask scheduler (a `distributed.Client` when
    one is active). Same arguments and result as `build_profile`."""
    names = [str(c) for c in ddf.columns]
    if not names:
        raise ProfileError("the data has no columns")
    for col, t in (column_types or {}).items():
        if t not in COLUMN_TYPES:
            raise ProfileError(f"column '{col}': type must be numeric or categorical, not {t!r}")
    if reference is not None:
        skeleton, exact = reference, dict[str, bool]()
    else:
        types = {n: (column_types or {}).get(n) for n in names}
        skeleton, exact = _reference_skeleton(ddf, types, bins)
    parts = [p for p in dask.compute(*[dask.delayed(_profile_part)(p, skeleton, bins) for p in ddf.to_delayed()]) if p]
    if not parts:
        raise ProfileError("the data has no rows")
    merged = merge_profiles(parts)
    for name, is_exact in exact.items():
        merged["columns"][name]["exact_edges"] = is_exact
    return merged
