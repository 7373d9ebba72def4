"""Reading telemetry: a system's span counts, last span, content policy applied, and recent export problems."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from charter.inventory.queries import get_system
from charter.telemetry.models import TelemetryRequest, TelemetrySpan

PII_WINDOW = 10_000

if TYPE_CHECKING:
    from charter.context import Ctx


def status(ctx: Ctx, key: str) -> dict[str, Any]:
    ctx.require("metrics:read")
    system = get_system(ctx.session, key)
    now = ctx.now()
    s = ctx.session
    total, last, errors, pending = s.execute(
        select(
            func.count(),
            func.max(TelemetrySpan.end_at),
            func.coalesce(func.sum(func.cast(TelemetrySpan.is_error, type_=TelemetrySpan.input_tokens.type)), 0),
            func.coalesce(func.sum(func.cast(~TelemetrySpan.rolled_up, type_=TelemetrySpan.input_tokens.type)), 0),
        ).where(TelemetrySpan.system_id == system.id)
    ).one()
    hour = s.execute(
        select(func.count()).where(
            TelemetrySpan.system_id == system.id, TelemetrySpan.received_at >= now - timedelta(hours=1)
        )
    ).scalar_one()
    models = s.execute(
        select(TelemetrySpan.model, TelemetrySpan.prompt, func.count())
        .where(TelemetrySpan.system_id == system.id)
        .group_by(TelemetrySpan.model, TelemetrySpan.prompt)
        .order_by(func.count().desc())
        .limit(20)
    ).all()
    pii = s.execute(  # JSON has no equality on PostgreSQL: empty counts are skipped here, over the newest spans
        select(TelemetrySpan.pii_counts)
        .where(TelemetrySpan.system_id == system.id)
        .order_by(TelemetrySpan.id.desc())
        .limit(PII_WINDOW)
    ).scalars()
    found: dict[str, int] = {}
    for counts in pii:
        for entity, n in (counts or {}).items():
            found[entity] = found.get(entity, 0) + int(n)
    problems = s.execute(
        select(TelemetryRequest.received_at, TelemetryRequest.rejected, TelemetryRequest.message)
        .where(TelemetryRequest.message != "")
        .order_by(TelemetryRequest.id.desc())
        .limit(5)
    ).all()
    return {
        "system": system.key,
        "spans": int(total),
        "spans_last_hour": int(hour),
        "spans_per_minute_last_hour": round(int(hour) / 60, 2),
        "errors": int(errors),
        "last_span_at": last.isoformat() if last else None,
        "pending_rollup": int(pending),
        "content_policy": ctx.settings.telemetry_content,
        "pii_found": found,  # over the newest PII_WINDOW spans
        "by_model_and_prompt": [{"model": m, "prompt": p, "spans": int(n)} for m, p, n in models],
        "recent_problems": [{"at": at.isoformat(), "rejected": int(r), "message": msg} for at, r, msg in problems],
    }
