"""Drift use cases: reference profiles (from a dataset or from the SDK), current windows, drift checks."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from charter.context import Ctx
from charter.inventory.models import AISystem
from charter.inventory.queries import get_system
from charter.kit.errors import NotFound, StaleVersion, ValidationFailed
from charter.ledger.chain import snapshot
from charter.monitoring.alerts.evaluate import evaluate_drift
from charter.monitoring.drift import rules as drift
from charter.monitoring.drift.datasets import detect_format, read_columns
from charter.monitoring.drift.profiles import (
    ProfileError,
    build_profile,
    check_same_columns,
    merge_profiles,
    validate_profile,
)
from charter.monitoring.drift.stats import require_same_edges
from charter.monitoring.models import DriftCheck, DriftFeatureResult, DriftProfile, DriftWindow
from charter.monitoring.schemas import (
    CheckIn,
    CheckRead,
    DriftOptionsIn,
    FeatureRead,
    ProfileIn,
    ProfileRead,
    WindowIn,
    WindowRead,
)

MAX_COLUMNS: Final = 1000
DEFAULT_WINDOW: Final = timedelta(hours=24)


def _invalid(exc: ProfileError | list[str], what: str) -> ValidationFailed:
    problems = [str(exc)] if isinstance(exc, ProfileError) else exc
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return ValidationFailed(f"{what}: {problems[0]}{more}", errors=[{"loc": [what], "msg": p} for p in problems])


def _check_profile(profile: dict[str, Any], *, reference: bool, what: str) -> None:
    problems = validate_profile(profile, reference=reference)
    if problems:
        raise _invalid(problems, what)
    if len(profile["columns"]) > MAX_COLUMNS:
        raise ValidationFailed(f"{what}: at most {MAX_COLUMNS} columns")


def _columns(profile: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"name": n, "type": c["type"]} for n, c in profile["columns"].items()]


def profile_read(p: DriftProfile, include: bool = False) -> ProfileRead:
    return ProfileRead(
        name=p.name,
        release=p.release,
        source=p.source,
        rows=p.rows,
        columns=list(p.columns),
        version=p.version,
        created_at=p.created_at,
        updated_at=p.updated_at,
        updated_by=p.updated_by,
        profile=p.profile if include else None,
    )


def _find(session: Session, system: AISystem, name: str, release: str) -> DriftProfile | None:
    return session.execute(
        select(DriftProfile).where(
            DriftProfile.system_id == system.id, DriftProfile.name == name, DriftProfile.release == release
        )
    ).scalar_one_or_none()


def get_profile(session: Session, system: AISystem, name: str, release: str = "") -> DriftProfile:
    """The reference `name` for `release`, falling back to the system-wide one (release '')."""
    found = _find(session, system, name, release) or (_find(session, system, name, "") if release else None)
    if found is None:
        rel = f" for release '{release}'" if release else ""
        raise NotFound(
            f"system '{system.key}' has no reference profile '{name}'{rel}; upload one first", entity="drift_profile"
        )
    return found


def _save(
    ctx: Ctx,
    system: AISystem,
    name: str,
    release: str,
    source: str,
    profile: dict[str, Any],
    version: int | None,
    reason: str | None,
) -> DriftProfile:
    _check_profile(profile, reference=True, what="profile")
    existing = _find(ctx.session, system, name, release)
    now = ctx.now()
    summary = {"rows": profile["rows"], "columns": _columns(profile), "source": source}
    if existing is not None:
        if version is None:
            raise ValidationFailed(
                f"system '{system.key}' already has a reference '{name}'"
                + (f" for release '{release}'" if release else "")
                + f" (version {existing.version}); send version={existing.version} to replace it",
                errors=[{"loc": ["version"], "msg": "required to replace a profile"}],
            )
        if version != existing.version:
            raise StaleVersion(f"reference profile '{name}'", version, existing.version)
        before = snapshot(existing, exclude=frozenset({"profile", "id", "system_id"}))
        existing.source, existing.rows, existing.columns = source, profile["rows"], _columns(profile)
        existing.profile = profile
        existing.version += 1
        existing.updated_at, existing.updated_by = now, ctx.principal.actor
        ctx.session.flush()
        after = snapshot(existing, exclude=frozenset({"profile", "id", "system_id"}))
        ctx.record(
            "drift_profile.replaced", "drift_profile", f"{system.key}/{name}", before=before, after=after, reason=reason
        )
        return existing
    created = DriftProfile(
        system_id=system.id,
        name=name,
        release=release,
        version=1,
        created_at=now,
        updated_at=now,
        updated_by=ctx.principal.actor,
        profile=profile,
        **{k: v for k, v in summary.items()},
    )
    ctx.session.add(created)
    ctx.session.flush()
    after = snapshot(created, exclude=frozenset({"profile", "id", "system_id"}))
    ctx.record("drift_profile.created", "drift_profile", f"{system.key}/{name}", after=after, reason=reason)
    return created


def put_profile(ctx: Ctx, key: str, name: str, data: ProfileIn) -> DriftProfile:
    """Store a reference profile built client-side (raw data never left the user's machine)."""
    ctx.require("metrics:write")
    system = get_system(ctx.session, key)
    return _save(ctx, system, name, data.release, "sdk", data.profile, data.version, data.reason)


def _parse_upload(
    content: bytes, filename: str | None, content_type: str | None, fmt: str | None
) -> tuple[str, dict[str, Any]]:
    try:
        detected = detect_format(filename, content_type, content, fmt)
        return detected, read_columns(content, detected)
    except ProfileError as exc:
        raise _invalid(exc, "file") from None


def upload_dataset(
    ctx: Ctx,
    key: str,
    name: str,
    content: bytes,
    *,
    filename: str | None,
    content_type: str | None,
    fmt: str | None = None,
    release: str = "",
    column_types: dict[str, str] | None = None,
    version: int | None = None,
    reason: str | None = None,
) -> DriftProfile:
    """Build and store a reference profile from an uploaded CSV / JSON Lines / Parquet dataset."""
    ctx.require("metrics:write")
    system = get_system(ctx.session, key)
    detected, columns = _parse_upload(content, filename, content_type, fmt)
    unknown = sorted(set(column_types or {}) - set(columns))
    if unknown:
        raise ValidationFailed(f"column_types names columns the file does not have: {', '.join(unknown)}")
    try:
        profile = build_profile(columns, column_types=column_types)
    except ProfileError as exc:
        raise _invalid(exc, "file") from None
    return _save(ctx, system, name, release, detected, profile, version, reason)


def list_profiles(ctx: Ctx, key: str) -> list[ProfileRead]:
    ctx.require("metrics:read")
    system = get_system(ctx.session, key)
    rows = ctx.session.execute(
        select(DriftProfile)
        .where(DriftProfile.system_id == system.id)
        .order_by(DriftProfile.name, DriftProfile.release)
    ).scalars()
    return [profile_read(p) for p in rows]


def read_profile(ctx: Ctx, key: str, name: str, release: str = "", include: bool = True) -> ProfileRead:
    ctx.require("metrics:read")
    return profile_read(get_profile(ctx.session, get_system(ctx.session, key), name, release), include)


# ----------------------------------------------------------------------------- windows


def add_window(ctx: Ctx, key: str, data: WindowIn) -> WindowRead:
    """Store a current-window profile (binned on the reference) for later checks over time ranges."""
    ctx.require("metrics:write")
    system = get_system(ctx.session, key)
    ref = get_profile(ctx.session, system, data.reference, data.release)
    _check_current(ref, data.profile)
    window = DriftWindow(
        system_id=system.id,
        profile_id=ref.id,
        profile_version=ref.version,
        window_start=data.start,
        window_end=data.end,
        rows=data.profile["rows"],
        profile=data.profile,
        created_at=ctx.now(),
        created_by=ctx.principal.actor,
    )
    ctx.session.add(window)
    ctx.session.flush()
    return WindowRead(
        id=window.id, reference=ref.name, release=ref.release, start=data.start, end=data.end, rows=window.rows
    )


def _check_current(ref: DriftProfile, current: dict[str, Any]) -> None:
    _check_profile(current, reference=False, what="current")
    try:
        for name, col in current["columns"].items():
            ref_col = ref.profile["columns"].get(name)
            if ref_col is not None:
                require_same_edges(name, ref_col, col)

        check_same_columns(list(ref.profile["columns"]), list(current["columns"]))
    except ProfileError as exc:
        raise _invalid(exc, "current") from None


# ----------------------------------------------------------------------------- checks


def _options(o: DriftOptionsIn) -> drift.DriftOptions:
    return drift.DriftOptions(
        drift_share=o.drift_share,
        num_method=o.num_method,
        cat_method=o.cat_method,
        num_threshold=o.num_threshold,
        cat_threshold=o.cat_threshold,
        per_column_method=dict(o.per_column_method),
        per_column_threshold=dict(o.per_column_threshold),
        columns=tuple(o.columns) if o.columns is not None else None,
    )


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return value


def _store(
    ctx: Ctx,
    system: AISystem,
    ref: DriftProfile,
    current: dict[str, Any],
    source: str,
    opts: DriftOptionsIn,
    window: tuple[datetime | None, datetime | None] = (None, None),
) -> CheckRead:
    try:
        report = drift.check(ref.profile, current, _options(opts))
    except ProfileError as exc:
        raise _invalid(exc, "current") from None
    check = DriftCheck(
        system_id=system.id,
        profile_id=ref.id,
        profile_name=ref.name,
        profile_version=ref.version,
        release=ref.release,
        source=source,
        window_start=window[0],
        window_end=window[1],
        rows_reference=report.rows_reference,
        rows_current=report.rows_current,
        columns_total=len(report.columns),
        columns_drifted=report.drifted,
        drift_share=report.drift_share,
        share_threshold=report.share_threshold,
        dataset_drift=report.dataset_drift,
        options=opts.model_dump(mode="json"),
        checked_at=ctx.now(),
        actor=ctx.principal.actor,
    )
    ctx.session.add(check)
    ctx.session.flush()
    for c in report.columns:
        ctx.session.add(
            DriftFeatureResult(
                check_id=check.id,
                system_id=system.id,
                column=c.column,
                column_type=c.column_type,
                method=c.method,
                value=c.value if math.isfinite(c.value) else 0.0,
                threshold=c.threshold,
                drifted=c.drifted,
                stats=_finite(c.stats),
            )
        )
    ctx.session.flush()
    after = {
        **snapshot(check, exclude=frozenset({"id", "system_id", "options"})),
        "features": {c.column: {"method": c.method, "value": c.value, "drifted": c.drifted} for c in report.columns},
    }
    ctx.record("drift.checked", "drift_check", check.id, after=_finite(after))
    evaluate_drift(ctx, system, check)
    return check_read(ctx.session, check, system.key, features=True)


def run_check(ctx: Ctx, key: str, data: CheckIn) -> CheckRead:
    """Check a current profile (or the stored windows in [since, until)) against a reference."""
    ctx.require("metrics:write")
    system = get_system(ctx.session, key)
    ref = get_profile(ctx.session, system, data.reference, data.release)
    if data.current is not None:
        if data.since or data.until:
            raise ValidationFailed("send either a current profile or since/until (stored windows), not both")
        _check_current(ref, data.current)
        return _store(ctx, system, ref, data.current, "sdk", data.options)
    until = data.until or ctx.now()
    since = data.since or until - DEFAULT_WINDOW
    windows = list(
        ctx.session.execute(
            select(DriftWindow)
            .where(
                DriftWindow.profile_id == ref.id,
                DriftWindow.profile_version == ref.version,
                DriftWindow.window_start >= since,
                DriftWindow.window_end <= until,
            )
            .order_by(DriftWindow.window_start)
        ).scalars()
    )
    if not windows:
        raise ValidationFailed(
            f"no current windows for reference '{ref.name}' (version {ref.version}) between {since.isoformat()} and "
            f"{until.isoformat()}; upload windows (POST .../drift/windows) or send a current profile"
        )
    try:
        merged = merge_profiles([w.profile for w in windows])
    except ProfileError as exc:
        raise _invalid(exc, "windows") from None
    return _store(ctx, system, ref, merged, "windows", data.options, (windows[0].window_start, windows[-1].window_end))


def check_dataset(
    ctx: Ctx,
    key: str,
    content: bytes,
    *,
    filename: str | None,
    content_type: str | None,
    fmt: str | None = None,
    reference: str = "reference",
    release: str = "",
    options: DriftOptionsIn | None = None,
) -> CheckRead:
    """Check an uploaded current dataset against a reference (profiled on the server, rows not kept)."""
    ctx.require("metrics:write")
    system = get_system(ctx.session, key)
    ref = get_profile(ctx.session, system, reference, release)
    detected, columns = _parse_upload(content, filename, content_type, fmt)
    try:
        current = build_profile(columns, reference=ref.profile)
    except ProfileError as exc:
        raise _invalid(exc, "file") from None
    return _store(ctx, system, ref, current, detected, options or DriftOptionsIn())


def check_read(session: Session, check: DriftCheck, system_key: str, features: bool = False) -> CheckRead:
    feats = None
    if features:
        rows = session.execute(
            select(DriftFeatureResult).where(DriftFeatureResult.check_id == check.id).order_by(DriftFeatureResult.id)
        ).scalars()
        feats = [
            FeatureRead(
                column=f.column,
                column_type=f.column_type,
                method=f.method,
                value=f.value,
                threshold=f.threshold,
                drifted=f.drifted,
                stats=f.stats,
            )
            for f in rows
        ]
    return CheckRead(
        id=check.id,
        system=system_key,
        reference=check.profile_name,
        reference_version=check.profile_version,
        release=check.release,
        source=check.source,
        window_start=check.window_start,
        window_end=check.window_end,
        rows_reference=check.rows_reference,
        rows_current=check.rows_current,
        columns_total=check.columns_total,
        columns_drifted=check.columns_drifted,
        drift_share=check.drift_share,
        share_threshold=check.share_threshold,
        dataset_drift=check.dataset_drift,
        options=check.options,
        checked_at=check.checked_at,
        actor=check.actor,
        features=feats,
    )


def list_checks(ctx: Ctx, key: str, limit: int = 50) -> list[CheckRead]:
    ctx.require("metrics:read")
    system = get_system(ctx.session, key)
    rows = ctx.session.execute(
        select(DriftCheck).where(DriftCheck.system_id == system.id).order_by(DriftCheck.id.desc()).limit(limit)
    ).scalars()
    return [check_read(ctx.session, c, key) for c in rows]


def read_check(ctx: Ctx, key: str, check_id: int) -> CheckRead:
    ctx.require("metrics:read")
    system = get_system(ctx.session, key)
    check = ctx.session.get(DriftCheck, check_id)
    if check is None or check.system_id != system.id:
        raise NotFound(f"system '{key}' has no drift check {check_id}", entity="drift_check")
    return check_read(ctx.session, check, key, features=True)


def feature_history(ctx: Ctx, key: str, column: str, limit: int = 50) -> list[dict[str, Any]]:
    ctx.require("metrics:read")
    system = get_system(ctx.session, key)
    rows = ctx.session.execute(
        select(DriftFeatureResult, DriftCheck.checked_at, DriftCheck.profile_name)
        .join(DriftCheck, DriftCheck.id == DriftFeatureResult.check_id)
        .where(DriftFeatureResult.system_id == system.id, DriftFeatureResult.column == column)
        .order_by(DriftFeatureResult.id.desc())
        .limit(limit)
    )
    return [
        {
            "check_id": f.check_id,
            "checked_at": at,
            "reference": ref,
            "method": f.method,
            "value": f.value,
            "threshold": f.threshold,
            "drifted": f.drifted,
        }
        for f, at, ref in rows
    ]
