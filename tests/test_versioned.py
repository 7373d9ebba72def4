"""Optimistic concurrency at the mapper level: a concurrent writer's change is never silently overwritten."""

from __future__ import annotations

import pytest
from fastapi import APIRouter
from sqlalchemy import update
from sqlalchemy.orm.exc import StaleDataError

from charter.access.deps import CtxDep
from charter.inventory import service
from charter.inventory.models import AISystem
from charter.inventory.schemas import SystemCreate


def _system(ctx):  # type: ignore[no-untyped-def]
    return service.create_system(ctx, SystemCreate(key="chatbot", name="Chatbot", deployment_type="in_house_model"))


def test_write_based_on_a_version_another_writer_replaced_is_refused(ctx, session) -> None:  # type: ignore[no-untyped-def]
    system = _system(ctx)
    read_version = system.version
    # Another writer commits a change between our read and our write.
    session.connection().execute(
        update(AISystem.__table__).where(AISystem.id == system.id).values(name="Theirs", version=read_version + 1)
    )
    system.name = "Ours"
    system.version = read_version + 1
    with pytest.raises(StaleDataError):
        session.flush()


race_router = APIRouter()


@race_router.post("/race")
def race(c: CtxDep) -> dict[str, str]:
    """Reads the system, then another writer bumps its version before this change is flushed."""
    mine = service.get_system(c.session, "chatbot")
    c.session.connection().execute(
        update(AISystem.__table__).where(AISystem.id == mine.id).values(version=mine.version + 1)
    )
    mine.name = "Ours"
    c.session.flush()
    return {}


def test_concurrent_write_is_answered_409_problem_json(client_for, ctx, session, app) -> None:  # type: ignore[no-untyped-def]
    _system(ctx)
    session.commit()
    app.include_router(race_router)
    r = client_for("admin").post("/race")
    assert r.status_code == 409
    assert r.headers["content-type"] == "application/problem+json"
    assert "changed by someone else" in r.json()["detail"]
