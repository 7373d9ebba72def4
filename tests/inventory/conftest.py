"""Helpers for the inventory tests: register systems through the service layer, read the ledger."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from charter.inventory import service
from charter.inventory.models import AISystem
from charter.inventory.schemas import SystemCreate
from charter.ledger.models import LedgerEntry


def system_body(key: str = "support-bot", **overrides: Any) -> dict[str, Any]:
    """A valid registration body (JSON)."""
    body: dict[str, Any] = {
        "key": key,
        "name": "Support bot",
        "deployment_type": "vendor_api",
        "vendor_name": "Acme LLM",
        "data_categories": ["personal"],
        "tags": ["genai"],
    }
    body.update(overrides)
    return body


@pytest.fixture
def register(actors):  # type: ignore[no-untyped-def]
    """register('key', role='admin', **fields) -> AISystem, through the service layer (not committed)."""

    def make(key: str = "support-bot", role: str = "admin", **overrides: Any) -> AISystem:
        system = service.create_system(actors.ctx(role), SystemCreate(**system_body(key, **overrides)))
        actors.session.flush()
        return system

    return make


def ledger_entries(session: Session, entity_id: str | None = None) -> list[LedgerEntry]:
    stmt = select(LedgerEntry).where(LedgerEntry.entity_type == "system").order_by(LedgerEntry.seq)
    if entity_id is not None:
        stmt = stmt.where(LedgerEntry.entity_id == entity_id)
    return list(session.execute(stmt).scalars())


def ledger_size(session: Session) -> int:
    return int(session.execute(select(func.count()).select_from(LedgerEntry)).scalar_one())


def stored(session: Session, key: str) -> AISystem:
    """The system as the database has it now (not a cached copy)."""
    session.expire_all()
    return session.execute(select(AISystem).where(AISystem.key == key)).scalar_one()
