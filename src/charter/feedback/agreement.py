"""Agreement per queue: between the two reviewers of double-reviewed items (percent agreement and Cohen's kappa
on the action, computed by charter.evaluation.agreement), and between reviewers and automated judges."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from charter.evaluation.agreement import cohen_kappa
from charter.evaluation.stats import StatisticsInputError
from charter.feedback.models import Interaction, Review
from charter.feedback.schemas import AgreementRead
from charter.feedback.store import get_queue

if TYPE_CHECKING:
    from charter.context import Ctx

JUDGE_PASS = 0.5


def agreement(ctx: Ctx, key: str) -> AgreementRead:
    ctx.require("feedback:read")
    queue = get_queue(ctx.session, key)
    rows = ctx.session.execute(
        select(Review.item_id, Review.action, Interaction.score)
        .join(Interaction, Interaction.id == Review.interaction_id)
        .where(Review.queue_id == queue.id)
        .order_by(Review.item_id, Review.id)
    ).all()
    by_item: dict[int, list[str]] = {}
    judged: list[tuple[bool, bool]] = []
    for item_id, action, score in rows:
        first = item_id not in by_item
        by_item.setdefault(item_id, []).append(action)
        if first and score is not None:
            judged.append((action == "approve", score >= JUDGE_PASS))
    pairs = [(a[0], a[1]) for a in by_item.values() if len(a) >= 2]
    first_r, second_r = [p[0] for p in pairs], [p[1] for p in pairs]
    kappa: float | None = None
    if pairs:
        try:
            kappa = cohen_kappa(first_r, second_r)
        except StatisticsInputError:
            kappa = None
    return AgreementRead(
        queue=queue.key,
        double_reviewed=len(pairs),
        action_agreement=sum(a == b for a, b in pairs) / len(pairs) if pairs else None,
        action_kappa=kappa,
        judge_items=len(judged),
        judge_agreement=sum(h == j for h, j in judged) / len(judged) if judged else None,
    )
