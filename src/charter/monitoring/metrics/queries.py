"""Reading monitoring data: series and their points (raw or rolled up), alerts, a system's health."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import case, func, select

from charter.inventory.models import AISystem
from charter.inventory.queries import get_system
from charter.kit.errors import ValidationFailed
from charter.monitoring.alerts import rules as R
from charter.monitoring.alerts.evaluate import alert_read, firing_alerts
from charter.monitoring.metrics.catalog import unit_of
from charter.monitoring.models import Alert, DriftCheck, MetricPoint, MetricRollup, MetricSeries, MonitorState
from charter.monitoring.schemas import AlertRead, HealthRead, SeriesData, SeriesPoint, SeriesRead

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from charter.context import Ctx

RESOLUTIONS: Final = ("auto", "raw", "1m", "1h")
MAX_RAW_POINTS: Final = 10_000


def list_series(ctx: Ctx, key: str) -> list[SeriesRead]:
    ctx.require("metrics:read")
    system = get_system(ctx.session, key)
    rows = ctx.session.execute(
        select(MetricSeries).where(MetricSeries.system_id == system.id).order_by(MetricSeries.name, MetricSeries.labels)
    ).scalars()
    return [
        SeriesRead(
            name=r.name,
            unit=unit_of(r.name),
            labels=json.loads(r.labels),
            last_value=r.last_value,
            last_ts=r.last_ts,
            points=r.points,
        )
        for r in rows
    ]


def series_data(
    ctx: Ctx,
    key: str,
    name: str,
    *,
    labels: dict[str, str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    resolution: str = "auto",
) -> list[SeriesData]:
    """Points of every series of `name` whose labels include `labels`, between since and until."""
    ctx.require("metrics:read")
    system = get_system(ctx.session, key)
    if resolution not in RESOLUTIONS:
        raise ValidationFailed(f"resolution must be one of {', '.join(RESOLUTIONS)}")
    until = until or ctx.now()
    since = since or until - timedelta(hours=1)
    if since >= until:
        raise ValidationFailed("since must be before until")
    span = until - since
    if resolution == "auto":
        resolution = "raw" if span <= timedelta(hours=6) else "1m" if span <= timedelta(days=7) else "1h"
    raw_from = ctx.now() - timedelta(days=ctx.settings.metrics_raw_retention_days)
    if resolution == "raw" and since < raw_from:
        raise ValidationFailed(
            f"raw points are kept {ctx.settings.metrics_raw_retention_days} days; ask for resolution 1m or 1h "
            "for older data"
        )
    label_sets = ctx.session.execute(
        select(MetricSeries.labels).where(MetricSeries.system_id == system.id, MetricSeries.name == name)
    ).scalars()
    wanted = [ls for ls in sorted(label_sets) if R.labels_match(labels or {}, json.loads(ls))]
    return [_one_series(ctx.session, system.id, name, ls, since, until, resolution) for ls in wanted]


def _series_id(session: Session, system_id: int, name: str, labels: str) -> int:
    sid = session.execute(
        select(MetricSeries.id).where(
            MetricSeries.system_id == system_id, MetricSeries.name == name, MetricSeries.labels == labels
        )
    ).scalar_one()
    return int(sid)


def _one_series(
    session: Session, system_id: int, name: str, labels: str, since: datetime, until: datetime, resolution: str
) -> SeriesData:
    points: list[SeriesPoint] = []
    sid = _series_id(session, system_id, name, labels)
    if resolution == "raw":
        rows = session.execute(
            select(MetricPoint.ts, MetricPoint.value)
            .where(
                MetricPoint.series_id == sid,
                MetricPoint.ts >= since,
                MetricPoint.ts <= until,
            )
            .order_by(MetricPoint.ts, MetricPoint.id)
            .limit(MAX_RAW_POINTS + 1)
        )
        points = [SeriesPoint(ts=ts, value=v) for ts, v in rows]
        if len(points) > MAX_RAW_POINTS:
            raise ValidationFailed(
                f"more than {MAX_RAW_POINTS} raw points in that range; narrow it or ask for resolution 1m or 1h"
            )
    else:
        rows2 = session.execute(
            select(MetricRollup.bucket, MetricRollup.count, MetricRollup.sum, MetricRollup.min, MetricRollup.max)
            .where(
                MetricRollup.series_id == sid,
                MetricRollup.resolution == resolution,
                MetricRollup.bucket >= since,
                MetricRollup.bucket <= until,
            )
            .order_by(MetricRollup.bucket)
        )
        points = [
            SeriesPoint(ts=b, value=s / c if c else None, count=c, sum=s, min=lo, max=hi) for b, c, s, lo, hi in rows2
        ]
    return SeriesData(name=name, unit=unit_of(name), labels=json.loads(labels), resolution=resolution, points=points)


def list_alerts(ctx: Ctx, key: str | None = None, state: str | None = None, limit: int = 200) -> list[AlertRead]:
    ctx.require("metrics:read")
    stmt = select(Alert, AISystem.key).join(AISystem, AISystem.id == Alert.system_id)
    if key is not None:
        stmt = stmt.where(Alert.system_id == get_system(ctx.session, key).id)
    if state is not None:
        if state not in R.TRANSITIONS:
            raise ValidationFailed(f"state must be one of {', '.join(R.TRANSITIONS)}")
        stmt = stmt.where(Alert.state == state)
    rows = ctx.session.execute(stmt.order_by(Alert.id.desc()).limit(limit))
    return [alert_read(a, k) for a, k in rows]


def drift_status(session: Session, system_id: int) -> dict[str, Any] | None:
    check = session.execute(
        select(DriftCheck).where(DriftCheck.system_id == system_id).order_by(DriftCheck.id.desc()).limit(1)
    ).scalar_one_or_none()
    if check is None:
        return None
    return {
        "check_id": check.id,
        "reference": check.profile_name,
        "dataset_drift": check.dataset_drift,
        "drift_share": check.drift_share,
        "columns_drifted": check.columns_drifted,
        "columns_total": check.columns_total,
        "checked_at": check.checked_at,
    }


def health_of(session: Session, system: AISystem, now: datetime) -> HealthRead:
    firing = firing_alerts(session, system.id)
    state = session.get(MonitorState, system.id)
    last = state.last_data_at if state else None
    counts: dict[str, int] = {s: 0 for s in R.SEVERITIES}
    for a in firing:
        counts[a.severity] = counts.get(a.severity, 0) + 1
    return HealthRead(
        system=system.key,
        health=R.health([a.severity for a in firing], last is not None),
        firing=counts,
        alerts=[alert_read(a, system.key) for a in firing],
        last_data_at=last,
        minutes_since_last_data=round((now - last).total_seconds() / 60, 2) if last else None,
        drift=drift_status(session, system.id),
    )


def health(ctx: Ctx, key: str) -> HealthRead:
    ctx.require("metrics:read")
    return health_of(ctx.session, get_system(ctx.session, key), ctx.now())


@dataclass(frozen=True)
class FleetHealth:
    """The health of many systems at once, and the alerts firing across them (newest first)."""

    health: dict[str, str]  # {system key: critical | degraded | healthy | unknown}
    firing: list[AlertRead]


def fleet_health(ctx: Ctx, keys: list[str]) -> FleetHealth:
    """The health of the named systems from the firing alerts (the monitoring rule), in a fixed number of
    queries whatever the number of systems (the dashboard)."""
    ctx.require("metrics:read")
    firing = list_alerts(ctx, state="firing", limit=1000)
    with_data = set(
        ctx.session.execute(
            select(AISystem.key)
            .join(MonitorState, MonitorState.system_id == AISystem.id)
            .where(MonitorState.last_data_at.is_not(None))
        ).scalars()
    )
    by_system: dict[str, list[str]] = {}
    for alert in firing:
        by_system.setdefault(alert.system, []).append(alert.severity)
    return FleetHealth(
        health={k: R.health(by_system.get(k, []), k in with_data) for k in keys},
        firing=firing,
    )


def fired_since(ctx: Ctx, days: tuple[int, ...]) -> dict[int, int]:
    """{days: alerts that fired in the last that many days} (the governance home page's trend)."""
    ctx.require("metrics:read")
    now = ctx.now()
    cols = [func.sum(case((Alert.fired_at >= now - timedelta(days=d), 1), else_=0)) for d in days]
    row = ctx.session.execute(select(*cols)).one()
    return {d: int(row[i] or 0) for i, d in enumerate(days)}
