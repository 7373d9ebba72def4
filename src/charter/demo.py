"""The demo scenario `charter serve --demo` seeds into an empty database.

The story spans about six weeks (a 14-day pilot must really pass before production), so it is seeded with
a backdated FixedClock that starts 45 days ago and moves forward step by step to now: ledger timestamps
stay in order, and the last day of metrics ends at the real now.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from charter.clock import FixedClock
from charter.context import Ctx
from charter.inventory.models import AISystem

HISTORY = timedelta(days=45)


def seed_demo(ctx: Ctx) -> list[str]:
    if ctx.session.execute(select(AISystem.id).limit(1)).first():
        return ["demo: the database already has systems; nothing seeded"]
    from charter.demo_data import seed

    clock = FixedClock(ctx.now() - HISTORY)
    story = Ctx(
        session=ctx.session, principal=ctx.principal, clock=clock, settings=ctx.settings, request_id=ctx.request_id
    )
    return seed(story, clock, ctx.clock)
