"""Telemetry use cases: store the GenAI spans of an OTLP export (content under the PII policy), and roll closed
time buckets up into monitoring's metrics, where the usual alert rules see them.

Spans are data like metric points: no ledger entry per span (the export is recorded in telemetry_requests).
The roll-up runs as a sweep (charter.sweeps): percentiles cannot be merged across exports, so a bucket is
summarized once it has closed (its end plus CHARTER_TELEMETRY_GRACE_SECONDS), from the stored spans, and its
points go through `monitoring.metrics.service.ingest` under a batch id made of the spans' ids (a retried sweep
stores nothing twice). A span arriving after its bucket was rolled up makes a second point for that bucket.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, tuple_, update

from charter.data.pii import EgressPolicy, Guard, default_detector
from charter.inventory.models import AISystem
from charter.monitoring.metrics.service import ingest as ingest_metrics
from charter.telemetry.ingest import IngestResult
from charter.telemetry.model import Evaluation, GenAISpan, Message
from charter.telemetry.models import TelemetryRequest, TelemetrySpan
from charter.telemetry.rollup import Rollup

if TYPE_CHECKING:
    from charter.context import Ctx

BUCKET = timedelta(minutes=1)
MAX_POINTS_PER_BATCH = 5_000
ROLLUP_LIMIT = 200_000  # spans per sweep round
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
UNKNOWN_SYSTEM = "no AI system with this key is registered in Charter (charter system register KEY ...)"


@dataclass(frozen=True)
class Accepted:
    stored: int
    duplicates: int
    systems: list[str]


@cache
def _guard() -> Guard:
    return Guard(default_detector())


@cache
def _policy(mode: str) -> EgressPolicy:
    return EgressPolicy.from_dict({"vendor": "charter-telemetry-store", "default": mode})


def guarded_content(mode: str, span: GenAISpan) -> tuple[dict[str, Any] | None, str, dict[str, int]]:
    """The content to store under the policy (keep | redact | mask | drop), the policy applied, PII counts found.
    The PII detectors run on every message that was sent, whatever the policy, so the counts are always known."""
    if not span.has_content:
        return None, "none", {}
    counts: dict[str, int] = {}
    kept: dict[str, list[Message]] = {}
    for side, messages in (("input", span.input_messages or []), ("output", span.output_messages or [])):
        out: list[Message] = []
        for m in messages:
            result = _guard().apply(m["content"], _policy("redact" if mode in ("keep", "drop") else mode))
            for entity, per in result.counts.items():
                counts[entity] = counts.get(entity, 0) + sum(per.values())
            if mode == "keep":
                out.append(m)
            elif result.text is not None:
                out.append({"role": m["role"], "content": result.text})
        kept[side] = out
    if mode == "drop":
        return None, "drop", counts
    return {**kept, "truncated": span.content_truncated}, mode, counts


def _row(span: GenAISpan, system_id: int, mode: str, now: datetime) -> dict[str, Any]:
    content, applied, counts = guarded_content(mode, span)
    return {
        "system_id": system_id,
        "trace_id": span.trace_id,
        "span_id": span.span_id,
        "parent_span_id": span.parent_span_id,
        "name": span.name[:300],
        "dialect": span.dialect,
        "operation": span.operation[:100],
        "provider": (span.provider or None) and span.provider[:100],
        "model": (span.model or None) and span.model[:200],
        "prompt": (span.prompt or None) and span.prompt[:200],
        "start_at": span.start,
        "end_at": span.end,
        "latency_ms": span.latency_ms,
        "ttft_ms": span.ttft_ms,
        "input_tokens": span.input_tokens,
        "output_tokens": span.output_tokens,
        "is_error": span.is_error,
        "error_type": (span.error_type or None) and span.error_type[:200],
        "finish_reasons": list(span.finish_reasons),
        "evaluations": [
            {"name": e.name, "score_value": e.score_value, "score_label": e.score_label} for e in span.evaluations
        ],
        "content": content,
        "content_policy": applied,
        "pii_counts": counts,
        "rolled_up": False,
        "received_at": now,
    }


def accept(ctx: Ctx, result: IngestResult) -> Accepted:
    """Store the accepted spans of one export; spans naming an unknown system are rejected (partial success)."""
    ctx.require("telemetry:write")
    session = ctx.session
    keys = sorted({s.system for s in result.spans})
    ids = dict(session.execute(select(AISystem.key, AISystem.id).where(AISystem.key.in_(keys))).all()) if keys else {}
    result.reject_where(lambda s: s.system not in ids, UNKNOWN_SYSTEM)
    known: set[tuple[int, str, str]] = set()
    triples = [(ids[s.system], s.trace_id, s.span_id) for s in result.spans]
    for i in range(0, len(triples), 500):
        chunk = triples[i : i + 500]
        known.update(
            session.execute(
                select(TelemetrySpan.system_id, TelemetrySpan.trace_id, TelemetrySpan.span_id).where(
                    tuple_(TelemetrySpan.system_id, TelemetrySpan.trace_id, TelemetrySpan.span_id).in_(chunk)
                )
            ).all()
        )
    now = ctx.now()
    mode = ctx.settings.telemetry_content
    rows: list[dict[str, Any]] = []
    seen: set[tuple[int, str, str]] = set()
    for span, triple in zip(result.spans, triples, strict=True):
        if triple in known or triple in seen:
            continue
        seen.add(triple)
        rows.append(_row(span, ids[span.system], mode, now))
    if rows:
        session.execute(insert(TelemetrySpan), rows)
    partial = result.partial_success()
    session.add(
        TelemetryRequest(
            actor=ctx.principal.actor,
            systems=sorted({s.system for s in result.spans}),
            received=result.received,
            stored=len(rows),
            duplicates=len(result.spans) - len(rows),
            skipped=result.skipped,
            rejected=len(result.rejected),
            message=partial.error_message if partial else "",
            received_at=now,
        )
    )
    session.flush()
    return Accepted(len(rows), len(result.spans) - len(rows), sorted({s.system for s in result.spans}))


# ----------------------------------------------------------------------------- the roll-up sweep


def _as_span(row: TelemetrySpan, key: str) -> GenAISpan:
    return GenAISpan(
        system=key,
        trace_id=row.trace_id,
        span_id=row.span_id,
        parent_span_id=row.parent_span_id,
        name=row.name,
        dialect=row.dialect,
        operation=row.operation,
        provider=row.provider,
        request_model=row.model,
        response_model=None,
        start=row.start_at,
        end=row.end_at,
        latency_ms=row.latency_ms,
        ttft_ms=row.ttft_ms,
        input_tokens=row.input_tokens,
        output_tokens=row.output_tokens,
        is_error=row.is_error,
        prompt=row.prompt,
        evaluations=[Evaluation(e["name"], e.get("score_value"), e.get("score_label")) for e in row.evaluations],
    )


def closed_before(now: datetime, grace: timedelta) -> datetime:
    """Spans ending before this instant are in buckets that closed (bucket end + grace) by `now`."""
    seconds = int(BUCKET.total_seconds())
    cutoff = int((now - grace - _EPOCH).total_seconds())
    return _EPOCH + timedelta(seconds=cutoff - cutoff % seconds)


def roll_up(ctx: Ctx) -> dict[str, Any]:
    """Summarize every closed bucket of stored spans into metric points per system, model, operation and prompt;
    push them through monitoring's ingest (alert rules run there); mark the spans rolled up."""
    session = ctx.session
    boundary = closed_before(ctx.now(), timedelta(seconds=ctx.settings.telemetry_grace_seconds))
    rows = (
        session.execute(
            select(TelemetrySpan)
            .where(TelemetrySpan.rolled_up.is_(False), TelemetrySpan.end_at < boundary)
            .order_by(TelemetrySpan.id)
            .limit(ROLLUP_LIMIT)
        )
        .scalars()
        .all()
    )
    if not rows:
        return {"spans": 0, "points": 0}
    keys = dict(session.execute(select(AISystem.id, AISystem.key)).all())
    by_system: dict[str, list[TelemetrySpan]] = defaultdict(list)
    for row in rows:
        by_system[keys[row.system_id]].append(row)
    points_total = 0
    for key, mine in sorted(by_system.items()):
        summary = Rollup(BUCKET)
        summary.add(_as_span(row, key) for row in mine)
        points = [p.as_json() for p in summary.points().get(key, [])]
        for n, i in enumerate(range(0, len(points), MAX_POINTS_PER_BATCH)):
            batch_id = f"telemetry-{mine[0].id}-{mine[-1].id}-{n}"
            ingest_metrics(ctx, key, {"batch_id": batch_id, "points": points[i : i + MAX_POINTS_PER_BATCH]})
        points_total += len(points)
    session.execute(
        update(TelemetrySpan).where(TelemetrySpan.id.in_([row.id for row in rows])).values(rolled_up=True),
        execution_options={"synchronize_session": False},
    )
    return {"spans": len(rows), "points": points_total}
