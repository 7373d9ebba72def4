"""Interaction ingest: validate a batch, guard PII, store it in bulk, sample it into review queues.

Fast path, like metric ingest (charter.monitoring.metrics.service): the batch is validated by one Pydantic
adapter, the rows go in with one multi-row INSERT ... ON CONFLICT DO NOTHING RETURNING, queue items with
another, and one ledger entry records the batch — no ORM object or ledger entry per interaction.
Idempotent by id: a resent interaction with the same content is a duplicate (not stored again); with
different content the whole batch is refused (409) and nothing is stored.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import select

from charter.feedback import pii, rules
from charter.feedback.models import Interaction, ReviewQueue
from charter.feedback.schemas import MAX_BATCH, MAX_META_BYTES, MAX_TEXT, IngestResult, InteractionIn
from charter.feedback.store import db_time, queues_of, settings_of, sql
from charter.inventory.queries import get_system
from charter.kit.errors import Conflict, PayloadTooLarge, ValidationFailed

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy.orm import Session

    from charter.context import Ctx

_BATCH = TypeAdapter(list[InteractionIn])
_COLUMNS = (
    "system_id, external_id, input, output, model, prompt_ref, user_ref, meta, score, pii, digest, "
    "occurred_at, received_at, decision"
)


def parse(payload: Any) -> list[InteractionIn]:
    """{interactions: [...]} → validated items, or a clear 422 / 413 naming the item and field."""
    if not isinstance(payload, dict) or not isinstance(payload.get("interactions"), list):
        raise ValidationFailed('send {"interactions": [ {id, input, output, ...}, ... ]}')
    extra = sorted(set(payload) - {"interactions"})
    if extra:
        raise ValidationFailed(f'unknown field(s) {", ".join(extra)}; a batch is {{"interactions": [...]}}')
    raw = payload["interactions"]
    if not raw:
        raise ValidationFailed("the batch is empty; send 1 to 1000 interactions")
    if len(raw) > MAX_BATCH:
        raise PayloadTooLarge(f"{len(raw)} interactions in one batch; at most {MAX_BATCH}, split the batch")
    try:
        items = _BATCH.validate_python(raw)
    except ValidationError as exc:
        errors = [{"loc": ["interactions", *e["loc"]], "msg": e["msg"]} for e in exc.errors()[:20]]
        first = errors[0]
        raise ValidationFailed(f"invalid interaction at {first['loc']}: {first['msg']}", errors=errors) from None
    seen: set[str] = set()
    for i, item in enumerate(items):
        for field in ("input", "output"):
            if len(getattr(item, field)) > MAX_TEXT:
                raise PayloadTooLarge(
                    f"interactions[{i}].{field} has {len(getattr(item, field))} characters; at most {MAX_TEXT}"
                )
        if item.metadata is not None and len(json.dumps(item.metadata)) > MAX_META_BYTES:
            raise PayloadTooLarge(f"interactions[{i}].metadata is over {MAX_META_BYTES} bytes as JSON")
        if item.id in seen:
            raise ValidationFailed(f"interactions[{i}]: id '{item.id}' appears twice in the batch")
        seen.add(item.id)
    return items


def digest(item: InteractionIn) -> str:
    body = item.model_dump(mode="json")
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def ingest(ctx: Ctx, key: str, payload: Any) -> IngestResult:
    ctx.require("interactions:write")
    system = get_system(ctx.session, key)
    items = parse(payload)
    session = ctx.session
    now = ctx.now()
    conf = settings_of(session, system.id)
    guard_mode = conf.pii_guard if conf is not None else "off"
    queues = queues_of(session, system.id)
    blocking = any(q.blocking for q in queues)
    digests = [digest(i) for i in items]
    rows: list[Any] = []
    pii_found: dict[str, bool] = {}
    for item, dig in zip(items, digests, strict=True):
        text_in, text_out, found = pii.guard(guard_mode, item.input, item.output)
        pii_found[item.id] = bool(found)
        rows.extend(
            (
                system.id,
                item.id,
                text_in,
                text_out,
                item.model,
                item.prompt,
                item.user,
                None if item.metadata is None else json.dumps(item.metadata),
                item.score,
                json.dumps(found) if found else None,
                dig,
                db_time(session, item.at or now),
                db_time(session, now),
                "held" if blocking else None,
            )
        )
    values = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(items))
    stmt = (
        f"INSERT INTO interactions ({_COLUMNS}) VALUES {values} "  # noqa: S608 (placeholders; values are parameters)
        "ON CONFLICT (system_id, external_id) DO NOTHING RETURNING id, external_id"
    )
    created = {ext: iid for iid, ext in session.connection().exec_driver_sql(sql(session, stmt), tuple(rows)).all()}
    _check_duplicates(session, system.id, items, digests, created)
    fresh = [i for i in items if i.id in created]
    queued = _sample(ctx, queues, system.risk_tier, fresh, created, pii_found, now)
    result = IngestResult(
        accepted=len(fresh),
        duplicates=len(items) - len(fresh),
        queued=queued,
        held=[i.id for i in fresh] if blocking else [],
    )
    if fresh:
        ctx.record(
            "interactions.ingested",
            "system",
            system.key,
            after={"accepted": result.accepted, "queued": queued, "first": fresh[0].id, "last": fresh[-1].id},
        )
    return result


def _check_duplicates(
    session: Session, system_id: int, items: list[InteractionIn], digests: list[str], created: dict[str, int]
) -> None:
    resent = {i.id: d for i, d in zip(items, digests, strict=True) if i.id not in created}
    if not resent:
        return
    stored = dict(
        session.execute(
            select(Interaction.external_id, Interaction.digest).where(
                Interaction.system_id == system_id, Interaction.external_id.in_(list(resent))
            )
        ).all()
    )
    changed = sorted(k for k, d in resent.items() if stored.get(k) != d)
    if changed:
        raise Conflict(
            f"interaction(s) {', '.join(changed[:5])} were already received with different content; an id is "
            "sent once (a retry resends the same content) — nothing of this batch was stored",
            ids=changed[:50],
        )


def _sample(
    ctx: Ctx,
    queues: list[ReviewQueue],
    tier: str,
    fresh: list[InteractionIn],
    created: dict[str, int],
    pii_found: dict[str, bool],
    now: datetime,
) -> int:
    rows: list[Any] = []
    for queue in queues:
        policy = queue.sampling
        due = db_time(ctx.session, now + timedelta(minutes=queue.sla_minutes)) if queue.sla_minutes else None
        for item in fresh:
            if queue.blocking:
                reason: str | None = "blocking"
            else:
                cand = rules.Candidate(item.id, item.input, item.output, item.score, pii_found[item.id])
                reason = rules.sample_reason(policy, tier, cand, salt=queue.key)
            if reason is None:
                continue
            needed = rules.reviews_needed(queue.double_review_rate, f"{queue.key}:{item.id}")
            rows.append((queue.id, created[item.id], reason, needed, db_time(ctx.session, now), due))
    return enqueue_rows(ctx.session, rows)


def enqueue_rows(session: Session, rows: list[Any]) -> int:
    """Insert queue items (queue_id, interaction_id, reason, reviews_needed, enqueued_at, due_at); an interaction
    already in a queue stays there once."""
    if not rows:
        return 0
    values = ", ".join(["(?, ?, ?, 'pending', ?, 0, 0, ?, ?)"] * len(rows))
    stmt = (
        "INSERT INTO queue_items (queue_id, interaction_id, reason, status, reviews_needed, reviews_done, leases, "  # noqa: S608
        f"enqueued_at, due_at) VALUES {values} ON CONFLICT (queue_id, interaction_id) DO NOTHING RETURNING id"
    )
    flat = tuple(v for r in rows for v in r)
    return len(session.connection().exec_driver_sql(sql(session, stmt), flat).all())
