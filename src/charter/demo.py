"""The demo scenario `charter serve --demo` seeds into an empty database."""

from __future__ import annotations

from sqlalchemy import select

from charter.context import Ctx
from charter.inventory.models import AISystem


def seed_demo(ctx: Ctx) -> list[str]:
    if ctx.session.execute(select(AISystem.id).limit(1)).first():
        return ["demo: the database already has systems; nothing seeded"]
    from charter.demo_data import seed

    return seed(ctx)
