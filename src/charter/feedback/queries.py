"""Reads of the feedback module (the API, the CLI and the console use these): permission checked, never write."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from charter.feedback.models import Feedback, Interaction, QueueItem, Review, ReviewQueue
from charter.feedback.schemas import (
    DecisionRead,
    FeedbackRead,
    InteractionRead,
    ItemRead,
    QueueRead,
    ReviewRead,
)
from charter.feedback.store import get_interaction, get_item, get_queue, live_spike
from charter.inventory.models import AISystem
from charter.inventory.queries import get_system
from charter.kit.errors import NotFound, PermissionDenied

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from charter.context import Ctx


def interaction_read(i: Interaction, system: str) -> InteractionRead:
    return InteractionRead(
        id=i.external_id,
        system=system,
        input=i.input,
        output=i.output,
        model=i.model,
        prompt=i.prompt_ref,
        user=i.user_ref,
        score=i.score,
        metadata=i.meta,
        pii=i.pii,
        occurred_at=i.occurred_at,
        received_at=i.received_at,
        decision=i.decision,
    )


def list_interactions(ctx: Ctx, system_key: str, limit: int = 50) -> list[InteractionRead]:
    ctx.require("feedback:read")
    system = get_system(ctx.session, system_key)
    rows = ctx.session.scalars(
        select(Interaction).where(Interaction.system_id == system.id).order_by(Interaction.id.desc()).limit(limit)
    )
    return [interaction_read(i, system.key) for i in rows]


def show_interaction(ctx: Ctx, system_key: str, external_id: str) -> InteractionRead:
    ctx.require("feedback:read")
    system = get_system(ctx.session, system_key)
    return interaction_read(get_interaction(ctx.session, system.id, external_id), system.key)


def decision(ctx: Ctx, system_key: str, external_id: str) -> DecisionRead:
    """What the serving application may release: held | approved | edited (text) | rejected | not_held."""
    if not (ctx.principal.can("interactions:write") or ctx.principal.can("feedback:read")):
        ctx.require("feedback:read")
    system = get_system(ctx.session, system_key)
    i = get_interaction(ctx.session, system.id, external_id)
    if i.decision is None:
        return DecisionRead(id=i.external_id, decision="not_held", text=i.output, decided_at=None, decided_by=None)
    return DecisionRead(
        id=i.external_id,
        decision=i.decision,
        text=i.decision_text if i.decision in ("approved", "edited") else None,
        decided_at=i.decided_at,
        decided_by=i.decided_by,
    )


# ----------------------------------------------------------------------------- feedback


def _flag_status(session: Session, fb: Feedback) -> str:
    if not fb.flagged or fb.interaction_id is None:
        return "received"
    items = session.execute(
        select(QueueItem.id, QueueItem.status).where(QueueItem.interaction_id == fb.interaction_id)
    ).all()
    if not items:
        return "received"
    if all(s == "done" for _, s in items):
        last = session.execute(
            select(Review.action).where(Review.item_id.in_([i for i, _ in items])).order_by(Review.id.desc()).limit(1)
        ).scalar()
        return f"reviewed ({last})"
    return "in_review" if any(s == "leased" for _, s in items) else "queued"


def feedback_read(ctx: Ctx, fb: Feedback, system: AISystem) -> FeedbackRead:
    external = (
        ctx.session.execute(select(Interaction.external_id).where(Interaction.id == fb.interaction_id)).scalar()
        if fb.interaction_id
        else None
    )
    spike = live_spike(ctx.session, system) if fb.flagged else None
    return FeedbackRead(
        id=fb.id,
        system=system.key,
        interaction=external,
        rating=fb.rating,
        category=fb.category,
        comment=fb.comment,
        flagged=fb.flagged,
        reporter=fb.reporter,
        created_at=fb.created_at,
        status=_flag_status(ctx.session, fb),
        incident=spike.key if spike else None,
    )


def list_feedback(ctx: Ctx, system_key: str, flagged: bool | None = None, limit: int = 50) -> list[FeedbackRead]:
    ctx.require("feedback:read")
    system = get_system(ctx.session, system_key)
    stmt = select(Feedback).where(Feedback.system_id == system.id)
    if flagged is not None:
        stmt = stmt.where(Feedback.flagged.is_(flagged))
    rows = ctx.session.scalars(stmt.order_by(Feedback.id.desc()).limit(limit))
    return [feedback_read(ctx, fb, system) for fb in rows]


def show_feedback(ctx: Ctx, system_key: str, feedback_id: int) -> FeedbackRead:
    """The reporter of a flag may see its status (feedback:write suffices for one's own); others need read."""
    system = get_system(ctx.session, system_key)
    fb = ctx.session.get(Feedback, feedback_id)
    own = fb is not None and ctx.principal.user_id is not None and fb.reporter_id == ctx.principal.user_id
    if not own and not ctx.principal.can("feedback:read"):
        raise PermissionDenied("you may see the status of your own feedback only", required="feedback:read")
    if fb is None or fb.system_id != system.id:
        raise NotFound(f"no feedback {feedback_id} for system '{system.key}'")
    return feedback_read(ctx, fb, system)


# ----------------------------------------------------------------------------- queues


def queue_read(session: Session, q: ReviewQueue) -> QueueRead:
    counts = dict(
        session.execute(
            select(QueueItem.status, func.count()).where(QueueItem.queue_id == q.id).group_by(QueueItem.status)
        ).all()
    )
    system = session.execute(select(AISystem.key).where(AISystem.id == q.system_id)).scalar_one()
    return QueueRead(
        key=q.key,
        name=q.name,
        system=system,
        rubric=q.rubric,
        sampling=q.sampling,
        blocking=q.blocking,
        lease_seconds=q.lease_seconds,
        sla_minutes=q.sla_minutes,
        double_review_rate=q.double_review_rate,
        version=q.version,
        pending=int(counts.get("pending", 0)),
        leased=int(counts.get("leased", 0)),
        done=int(counts.get("done", 0)),
    )


def list_queues(ctx: Ctx, system_key: str | None = None) -> list[QueueRead]:
    ctx.require("feedback:read")
    stmt = select(ReviewQueue).order_by(ReviewQueue.key)
    if system_key:
        stmt = stmt.where(ReviewQueue.system_id == get_system(ctx.session, system_key).id)
    return [queue_read(ctx.session, q) for q in ctx.session.scalars(stmt)]


def show_queue(ctx: Ctx, key: str) -> QueueRead:
    ctx.require("feedback:read")
    return queue_read(ctx.session, get_queue(ctx.session, key))


def item_read(session: Session, item: QueueItem) -> ItemRead:
    queue = session.get(ReviewQueue, item.queue_id)
    interaction = session.get(Interaction, item.interaction_id)
    assert queue is not None and interaction is not None
    system = session.execute(select(AISystem.key).where(AISystem.id == interaction.system_id)).scalar_one()
    return ItemRead(
        id=item.id,
        queue=queue.key,
        reason=item.reason,
        status=item.status,
        reviews_needed=item.reviews_needed,
        reviews_done=item.reviews_done,
        lease_owner=item.lease_owner,
        lease_expires_at=item.lease_expires_at,
        enqueued_at=item.enqueued_at,
        due_at=item.due_at,
        interaction=interaction_read(interaction, system),
        rubric=queue.rubric,
    )


def show_item(ctx: Ctx, item_id: int) -> ItemRead:
    ctx.require("feedback:read")
    return item_read(ctx.session, get_item(ctx.session, item_id))


def list_items(ctx: Ctx, key: str, status: str | None = None, limit: int = 50) -> list[ItemRead]:
    ctx.require("feedback:read")
    queue = get_queue(ctx.session, key)
    stmt = select(QueueItem).where(QueueItem.queue_id == queue.id)
    if status:
        stmt = stmt.where(QueueItem.status == status)
    return [item_read(ctx.session, i) for i in ctx.session.scalars(stmt.order_by(QueueItem.id).limit(limit))]


def review_read(session: Session, r: Review) -> ReviewRead:
    queue = session.execute(select(ReviewQueue.key).where(ReviewQueue.id == r.queue_id)).scalar_one()
    ext = session.execute(select(Interaction.external_id).where(Interaction.id == r.interaction_id)).scalar_one()
    return ReviewRead(
        id=r.id,
        item=r.item_id,
        queue=queue,
        interaction=ext,
        reviewer=r.reviewer,
        action=r.action,
        scores=r.scores,
        correction=r.correction,
        comment=r.comment,
        created_at=r.created_at,
    )


def corrections(ctx: Ctx, key: str) -> list[dict[str, Any]]:
    """Edited outputs of a queue as {input, output, expected, interaction}: the rows an evaluation dataset takes
    (the seam to the evaluation module's datasets)."""
    ctx.require("feedback:read")
    queue = get_queue(ctx.session, key)
    rows = ctx.session.execute(
        select(Interaction.external_id, Interaction.input, Interaction.output, Review.correction)
        .join(Review, Review.interaction_id == Interaction.id)
        .where(Review.queue_id == queue.id, Review.action == "edit")
        .order_by(Review.id)
    ).all()
    return [{"interaction": e, "input": i, "output": o, "expected": c} for e, i, o, c in rows]
