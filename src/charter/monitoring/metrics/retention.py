"""Retention: raw points are kept `metrics_raw_retention_days`, per-minute roll-ups
`metrics_minute_retention_days`, per-hour roll-ups `metrics_hour_retention_days`. The sweep calls compact().

Roll-ups are written on ingest, so compaction only deletes, series by series (the points index starts with
the series; metric_series.first_ts says which series hold points older than the cutoff). Batch ids
(idempotency keys) are kept as long as raw points: a retry older than that is stored again. Resolved alerts
and drift results are history and stay.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select, update

from charter.monitoring.models import MetricBatch, MetricPoint, MetricRollup, MetricSeries

if TYPE_CHECKING:
    from charter.context import Ctx


def rowcount(result: Any) -> int:
    """Rows a DELETE / UPDATE touched (a CursorResult's rowcount)."""
    return int(getattr(result, "rowcount", 0) or 0)


def compact(ctx: Ctx) -> dict[str, Any]:
    now = ctx.now()
    s = ctx.settings
    raw_cutoff = now - timedelta(days=s.metrics_raw_retention_days)
    minute_cutoff = now - timedelta(days=s.metrics_minute_retention_days)
    hour_cutoff = now - timedelta(days=s.metrics_hour_retention_days)
    session = ctx.session
    points = 0
    old_series = session.execute(select(MetricSeries.id).where(MetricSeries.first_ts < raw_cutoff)).scalars().all()
    for sid in old_series:
        points += rowcount(
            session.execute(delete(MetricPoint).where(MetricPoint.series_id == sid, MetricPoint.ts < raw_cutoff))
        )
        session.execute(update(MetricSeries).where(MetricSeries.id == sid).values(first_ts=raw_cutoff))
    minutes = rowcount(
        session.execute(
            delete(MetricRollup).where(MetricRollup.resolution == "1m", MetricRollup.bucket < minute_cutoff)
        )
    )
    hours = rowcount(
        session.execute(delete(MetricRollup).where(MetricRollup.resolution == "1h", MetricRollup.bucket < hour_cutoff))
    )
    batches = rowcount(session.execute(delete(MetricBatch).where(MetricBatch.received_at < raw_cutoff)))
    return {"points": points, "minute_rollups": minutes, "hour_rollups": hours, "batches": batches}
