from __future__ import annotations

from typing import Any

import pytest

from charter.context import Ctx
from charter.inventory.models import AISystem
from charter.inventory.schemas import SystemCreate
from charter.inventory.service import create_system
from charter.procedures.models import RunItem
from charter.procedures.service import answer_item


@pytest.fixture
def system(actors: Any) -> AISystem:
    return create_system(
        actors.ctx("engineer"),
        SystemCreate(key="support-chatbot", name="Customer Support Chatbot", deployment_type="in_house_model"),
    )


def answer(ctx: Ctx, run_id: int, item_id: str, status: str, **kw: Any) -> RunItem:
    """Answer with the item's current version (what a client that just read it would send)."""
    from sqlalchemy import select

    version = ctx.session.execute(
        select(RunItem.version).where(RunItem.run_id == run_id, RunItem.item_id == item_id)
    ).scalar_one()
    if status in ("fail", "needs_review") and "response" not in kw:
        kw["response"] = f"{item_id}: not there yet"
    if status == "not_applicable" and "justification" not in kw:
        kw["justification"] = "the system makes no such decisions"
    return answer_item(ctx, run_id, item_id, status, version=version, **kw)
