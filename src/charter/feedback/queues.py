"""Review queues: configure them, lease items to reviewers, record reviews.

Leasing is one conditional UPDATE: it picks the oldest item that is pending (or whose lease expired) and
that this reviewer has not reviewed, and marks it leased to them — on PostgreSQL the pick is
`FOR UPDATE SKIP LOCKED`, so concurrent reviewers skip each other's rows; SQLite runs the statement under
its single write lock. Either way no item is leased to two reviewers at once. A review is accepted only
from the holder of an unexpired lease (again one conditional UPDATE), so an expired lease cannot be used
after the item went to someone else.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, exists, or_, select, update

from charter.feedback import rules
from charter.feedback.models import Interaction, QueueItem, Review, ReviewQueue
from charter.feedback.schemas import MAX_TEXT, QueueCreate, QueueUpdate, ReviewIn
from charter.feedback.store import get_item, get_queue
from charter.inventory.queries import get_system
from charter.kit.errors import Conflict, PayloadTooLarge, StaleVersion, ValidationFailed
from charter.ledger.chain import snapshot

if TYPE_CHECKING:
    from datetime import datetime

    from charter.context import Ctx


def _rule_error(exc: rules.RuleError) -> ValidationFailed:
    return ValidationFailed(str(exc), errors=exc.errors)


def create_queue(ctx: Ctx, data: QueueCreate) -> ReviewQueue:
    ctx.require("feedback:manage")
    system = get_system(ctx.session, data.system)
    if ctx.session.execute(select(ReviewQueue.id).where(ReviewQueue.key == data.key)).first():
        raise Conflict(f"a review queue '{data.key}' already exists")
    try:
        rubric = rules.check_rubric(data.rubric if data.rubric is not None else rules.DEFAULT_RUBRIC)
        sampling = rules.check_sampling(data.sampling)
    except rules.RuleError as exc:
        raise _rule_error(exc) from None
    now = ctx.now()
    queue = ReviewQueue(
        key=data.key,
        name=data.name or data.key,
        system_id=system.id,
        rubric=rubric,
        sampling=sampling,
        blocking=data.blocking,
        lease_seconds=data.lease_seconds,
        sla_minutes=data.sla_minutes,
        double_review_rate=data.double_review_rate,
        created_at=now,
        updated_at=now,
        created_by=ctx.principal.actor,
        version=1,
    )
    ctx.session.add(queue)
    ctx.session.flush()
    ctx.record("review_queue.created", "review_queue", queue.key, after=snapshot(queue))
    return queue


def update_queue(ctx: Ctx, key: str, data: QueueUpdate) -> ReviewQueue:
    ctx.require("feedback:manage")
    queue = get_queue(ctx.session, key)
    if data.version != queue.version:
        raise StaleVersion(f"review queue '{key}'", data.version, queue.version)
    changes: dict[str, Any] = data.model_dump(exclude_unset=True, exclude={"version"})
    try:
        if changes.get("rubric") is not None:
            changes["rubric"] = rules.check_rubric(changes["rubric"])
        if changes.get("sampling") is not None:
            changes["sampling"] = rules.check_sampling(changes["sampling"])
    except rules.RuleError as exc:
        raise _rule_error(exc) from None
    before = snapshot(queue)
    for field, value in changes.items():
        if value is not None or field == "sla_minutes":
            setattr(queue, field, value)
    queue.version += 1
    queue.updated_at = ctx.now()
    ctx.session.flush()
    ctx.record("review_queue.updated", "review_queue", queue.key, before=before, after=snapshot(queue))
    return queue


# ----------------------------------------------------------------------------- leases


def _available(now: datetime) -> Any:
    return or_(
        QueueItem.status == "pending",
        and_(QueueItem.status == "leased", QueueItem.lease_expires_at < now),
    )


def take_next(ctx: Ctx, key: str) -> QueueItem | None:
    """Lease the next item of the queue to the caller (None: nothing to review); the item the caller already
    holds, if any. Commit right after."""
    ctx.require("queues:review")
    queue = get_queue(ctx.session, key)
    me = ctx.principal.actor
    now = ctx.now()
    held = ctx.session.execute(
        select(QueueItem)
        .where(
            QueueItem.queue_id == queue.id,
            QueueItem.status == "leased",
            QueueItem.lease_owner == me,
            QueueItem.lease_expires_at >= now,
        )
        .order_by(QueueItem.id)
        .limit(1)
    ).scalar_one_or_none()
    if held is not None:  # asking again (a reload, another tab) gives back the item one holds
        return held
    pick = (
        select(QueueItem.id)
        .where(
            QueueItem.queue_id == queue.id,
            _available(now),
            ~exists().where(Review.item_id == QueueItem.id, Review.reviewer == me),
        )
        .order_by(QueueItem.id)
        .limit(1)
    )
    if ctx.session.get_bind().dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    claimed = ctx.session.execute(
        update(QueueItem)
        .where(QueueItem.id == pick.scalar_subquery(), _available(now))
        .values(
            status="leased",
            lease_owner=me,
            lease_expires_at=now + timedelta(seconds=queue.lease_seconds),
            leases=QueueItem.leases + 1,
        )
        .returning(QueueItem.id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if claimed is None:
        return None
    item = ctx.session.get(QueueItem, claimed, populate_existing=True)
    assert item is not None
    ctx.record("queue_item.leased", "queue_item", item.id, after={"queue": queue.key, "until": item.lease_expires_at})
    return item


def release(ctx: Ctx, item_id: int) -> QueueItem:
    """Give a leased item back before its lease ends."""
    ctx.require("queues:review")
    item = get_item(ctx.session, item_id)
    done = ctx.session.execute(
        update(QueueItem)
        .where(QueueItem.id == item_id, QueueItem.status == "leased", QueueItem.lease_owner == ctx.principal.actor)
        .values(status="pending", lease_owner=None, lease_expires_at=None)
        .execution_options(synchronize_session=False)
    )
    if not getattr(done, "rowcount", 0):
        raise Conflict(f"queue item {item_id} is not leased to you (status: {item.status})")
    ctx.session.refresh(item)
    ctx.record("queue_item.released", "queue_item", item.id)
    return item


# ----------------------------------------------------------------------------- reviews


def review(ctx: Ctx, item_id: int, data: ReviewIn) -> Review:
    """Record the lease holder's verdict; the held output's decision follows the first verdict."""
    ctx.require("queues:review")
    item = get_item(ctx.session, item_id)
    queue = ctx.session.get(ReviewQueue, item.queue_id)
    assert queue is not None
    try:
        scores = rules.check_scores(queue.rubric, data.scores)
    except rules.RuleError as exc:
        raise _rule_error(exc) from None
    if data.action == "edit" and not data.correction:
        raise ValidationFailed("an edit needs the corrected output in 'correction'")
    if data.action != "edit" and data.correction:
        raise ValidationFailed("'correction' goes with action 'edit' only")
    if data.correction and len(data.correction) > MAX_TEXT:
        raise PayloadTooLarge(f"the correction has {len(data.correction)} characters; at most {MAX_TEXT}")
    me, now = ctx.principal.actor, ctx.now()
    finishing = item.reviews_done + 1 >= item.reviews_needed
    done = ctx.session.execute(
        update(QueueItem)
        .where(
            QueueItem.id == item_id,
            QueueItem.status == "leased",
            QueueItem.lease_owner == me,
            QueueItem.lease_expires_at >= now,
        )
        .values(
            status="done" if finishing else "pending",
            reviews_done=QueueItem.reviews_done + 1,
            lease_owner=None,
            lease_expires_at=None,
            completed_at=now if finishing else None,
        )
        .execution_options(synchronize_session=False)
    )
    if not getattr(done, "rowcount", 0):
        raise Conflict(_not_yours(item, me, now))
    record = Review(
        item_id=item.id,
        queue_id=queue.id,
        interaction_id=item.interaction_id,
        reviewer=me,
        reviewer_id=ctx.principal.user_id,
        action=data.action,
        scores=scores,
        correction=data.correction,
        comment=data.comment,
        created_at=now,
    )
    ctx.session.add(record)
    interaction = ctx.session.get(Interaction, item.interaction_id)
    assert interaction is not None
    if interaction.decision == "held":
        interaction.decision = rules.DECISION_OF[data.action]
        interaction.decision_text = (
            data.correction if data.action == "edit" else interaction.output if data.action == "approve" else None
        )
        interaction.decided_at = now
        interaction.decided_by = me
    ctx.session.flush()
    ctx.session.refresh(item)
    ctx.record(
        "queue_item.reviewed",
        "queue_item",
        item.id,
        after={"queue": queue.key, "interaction": interaction.external_id, "action": data.action, "scores": scores},
        reason=data.comment or None,
    )
    return record


def _not_yours(item: QueueItem, me: str, now: datetime) -> str:
    if item.status == "done":
        return f"queue item {item.id} is already reviewed"
    if item.lease_owner != me:
        return f"queue item {item.id} is not leased to you; take one with 'charter queue next QUEUE'"
    return (
        f"your lease on queue item {item.id} expired at {item.lease_expires_at}; the item went back to the queue — "
        "take the next one"
    )
