"""Feedback over HTTP: interactions, decisions, end-user feedback (feedback keys), settings, queues, reviews."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from charter.access.deps import CtxDep, current_principal, request_ctx
from charter.feedback import ingest, keys, queries, queues, service
from charter.feedback.agreement import agreement
from charter.feedback.schemas import (
    AgreementRead,
    DecisionRead,
    FeedbackIn,
    FeedbackRead,
    IngestResult,
    InteractionBatch,
    InteractionRead,
    ItemRead,
    KeyCreate,
    KeyRead,
    QueueCreate,
    QueueRead,
    QueueUpdate,
    ReviewIn,
    ReviewRead,
    SettingsIn,
    SettingsRead,
)
from charter.inventory.queries import get_system
from charter.kit.db import read_only
from charter.kit.routing import API, body_schema

router = APIRouter(prefix=API, tags=["feedback"])
S = "/systems/{key}"
MAX_WAIT = 30.0


# ----------------------------------------------------------------------------- interactions


@router.post(
    f"{S}/interactions",
    summary="Send a batch of AI interactions (idempotent by id); sampled ones enter review queues",
    response_model=IngestResult,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": body_schema(InteractionBatch)}},
        }
    },
)
def post_interactions(key: str, body: Annotated[Any, Body(include_in_schema=False)], ctx: CtxDep) -> Response:
    result = ingest.ingest(ctx, key, body)
    ctx.commit()
    return Response(result.model_dump_json(), media_type="application/json")


@router.get(f"{S}/interactions", summary="The system's latest interactions")
def list_interactions(key: str, ctx: CtxDep, limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[InteractionRead]:
    return queries.list_interactions(ctx, key, limit)


@router.get(f"{S}/interactions/{{interaction}}", summary="One interaction")
def show_interaction(key: str, interaction: str, ctx: CtxDep) -> InteractionRead:
    return queries.show_interaction(ctx, key, interaction)


@router.get(
    f"{S}/interactions/{{interaction}}/decision",
    summary="Blocking review: held | approved | edited (text) | rejected; wait=N long-polls up to N seconds",
)
def get_decision(
    key: str, interaction: str, ctx: CtxDep, wait: Annotated[float, Query(ge=0, le=MAX_WAIT)] = 0
) -> DecisionRead:
    deadline = time.monotonic() + wait
    while True:
        answer = queries.decision(ctx, key, interaction)
        if answer.decision != "held" or time.monotonic() >= deadline:
            return answer
        time.sleep(min(0.25, max(0.0, deadline - time.monotonic())))
        ctx.session.rollback()  # a new read-only transaction sees the review when it commits
        read_only(ctx.session)


# ----------------------------------------------------------------------------- end-user feedback


@router.post(f"{S}/feedback", status_code=201, summary="Post end-user feedback (a feedback key or a user token)")
async def post_feedback(key: str, body: FeedbackIn, request: Request) -> FeedbackRead:
    """Authenticated by a feedback key (`Authorization: Bearer chf_...`, write-only, this system only,
    rate-limited) or by any user or token with feedback:write."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    clear = credentials.strip()
    if scheme.lower() == "bearer" and clear.startswith(keys.KEY_PREFIX):
        return await run_in_threadpool(_post_with_key, request, key, body, clear)
    principal = await current_principal(request)
    return await run_in_threadpool(_post_as, request, key, body, principal, None)


def _post_with_key(request: Request, key: str, body: FeedbackIn, clear: str) -> FeedbackRead:
    state = request.app.state
    with state.session_factory() as session:
        read_only(session)
        kp = keys.resolve(session, clear)
        session.rollback()
    limiter = getattr(state, "feedback_limiter", None)
    if limiter is None:  # one per app (per server process)
        limiter = state.feedback_limiter = keys.RateLimiter()
    limiter.take(kp.key_id, kp.rate_per_minute, state.clock.now())
    return _post_as(request, key, body, kp.principal, kp)


def _post_as(
    request: Request, key: str, body: FeedbackIn, principal: Any, kp: keys.KeyPrincipal | None
) -> FeedbackRead:
    with request_ctx(request, principal) as ctx:
        fb = service.post_feedback(ctx, key, body, kp)
        ctx.commit()
        return queries.feedback_read(ctx, fb, get_system(ctx.session, key))


@router.get(f"{S}/feedback", summary="The feedback inbox of a system (flagged=true: flags only)")
def list_feedback(
    key: str, ctx: CtxDep, flagged: bool | None = None, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> list[FeedbackRead]:
    return queries.list_feedback(ctx, key, flagged, limit)


@router.get(f"{S}/feedback/{{feedback_id}}", summary="One feedback and the status of its flag (reporters: their own)")
def show_feedback(key: str, feedback_id: int, ctx: CtxDep) -> FeedbackRead:
    return queries.show_feedback(ctx, key, feedback_id)


@router.get(f"{S}/feedback-keys", summary="The system's feedback keys (never the keys themselves)")
def list_keys(key: str, ctx: CtxDep) -> list[KeyRead]:
    return keys.list_keys(ctx, key)


@router.post(f"{S}/feedback-keys", status_code=201, summary="Create a feedback key (shown once)")
def create_key(key: str, body: KeyCreate, ctx: CtxDep) -> KeyRead:
    created = keys.create_key(ctx, key, body)
    ctx.commit()
    return created


@router.post(f"{S}/feedback-keys/{{key_id}}/revoke", summary="Revoke a feedback key")
def revoke_key(key: str, key_id: int, ctx: CtxDep) -> KeyRead:
    revoked = keys.revoke_key(ctx, key, key_id)
    ctx.commit()
    return revoked


@router.get(f"{S}/feedback-settings", summary="PII guard, retention and spike threshold of a system")
def get_settings(key: str, ctx: CtxDep) -> SettingsRead:
    return service.get_settings(ctx, key)


@router.put(f"{S}/feedback-settings", summary="Change the feedback settings of a system")
def put_settings(key: str, body: SettingsIn, ctx: CtxDep) -> SettingsRead:
    result = service.put_settings(ctx, key, body)
    ctx.commit()
    return result


# ----------------------------------------------------------------------------- queues and reviews


@router.get("/review-queues", summary="Review queues with their counts")
def list_queues(ctx: CtxDep, system: str | None = None) -> list[QueueRead]:
    return queries.list_queues(ctx, system)


@router.post("/review-queues", status_code=201, summary="Create a review queue (rubric, sampling, lease, SLA)")
def create_queue(body: QueueCreate, ctx: CtxDep) -> QueueRead:
    queue = queues.create_queue(ctx, body)
    ctx.commit()
    return queries.queue_read(ctx.session, queue)


@router.get("/review-queues/{queue}", summary="One review queue")
def show_queue(queue: str, ctx: CtxDep) -> QueueRead:
    return queries.show_queue(ctx, queue)


@router.patch("/review-queues/{queue}", summary="Change a review queue (version required)")
def update_queue(queue: str, body: QueueUpdate, ctx: CtxDep) -> QueueRead:
    changed = queues.update_queue(ctx, queue, body)
    ctx.commit()
    return queries.queue_read(ctx.session, changed)


@router.get("/review-queues/{queue}/items", summary="Items of a queue (status: pending, leased, done)")
def list_items(
    queue: str,
    ctx: CtxDep,
    status: Annotated[str | None, Query(pattern="^(pending|leased|done)$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[ItemRead]:
    return queries.list_items(ctx, queue, status, limit)


@router.post(
    "/review-queues/{queue}/next",
    summary="Lease the next item to review (204: nothing to review)",
    responses={204: {"description": "the queue has nothing for you"}},
)
def take_next(queue: str, ctx: CtxDep) -> Response:
    item = queues.take_next(ctx, queue)
    ctx.commit()
    if item is None:
        return Response(status_code=204)
    return Response(queries.item_read(ctx.session, item).model_dump_json(), media_type="application/json")


@router.get("/review-queues/{queue}/agreement", summary="Agreement between reviewers, and with automated judges")
def read_agreement(queue: str, ctx: CtxDep) -> AgreementRead:
    return agreement(ctx, queue)


@router.get("/review-queues/{queue}/corrections", summary="Edited outputs as dataset rows {input, output, expected}")
def read_corrections(queue: str, ctx: CtxDep) -> list[dict[str, Any]]:
    return queries.corrections(ctx, queue)


@router.get("/queue-items/{item_id}", summary="One queue item with its interaction and rubric")
def show_item(item_id: int, ctx: CtxDep) -> ItemRead:
    return queries.show_item(ctx, item_id)


@router.post("/queue-items/{item_id}/review", status_code=201, summary="Approve, edit or reject a leased item")
def review_item(item_id: int, body: ReviewIn, ctx: CtxDep) -> ReviewRead:
    record = queues.review(ctx, item_id, body)
    ctx.commit()
    return queries.review_read(ctx.session, record)


@router.post("/queue-items/{item_id}/release", summary="Give a leased item back to the queue")
def release_item(item_id: int, ctx: CtxDep) -> ItemRead:
    item = queues.release(ctx, item_id)
    ctx.commit()
    return queries.item_read(ctx.session, item)
