"""The demo scenario `charter serve --demo` seeds into an empty database.

The story spans about six weeks (a 14-day pilot must really pass before production), so it is seeded with
a backdated FixedClock that starts 45 days ago and moves forward step by step to now: ledger timestamps
stay in order, and the last day of metrics ends at the real now.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlalchemy import select

from charter.context import Ctx, install_shipped
from charter.demo.data import seed
from charter.inventory.models import AISystem
from charter.kit.clock import FixedClock

HISTORY = timedelta(days=45)


def seed_demo(ctx: Ctx) -> list[str]:
    if ctx.session.execute(select(AISystem.id).limit(1)).first():
        return ["demo: the database already has systems; nothing seeded"]
    clock = FixedClock(ctx.now() - HISTORY)
    story = replace(ctx, clock=clock)
    notes = install_shipped(story)  # at the story's start, so the ledger's timestamps stay in order
    return [*notes, *seed(story, clock, ctx.clock)]
