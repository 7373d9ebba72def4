"""Two writers holding the same version: exactly one wins, the other gets 409 (never a lost update).

Runs on a database of its own (committed data; the ledger cannot be cleaned up on PostgreSQL).
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from charter.access.schemas import UserCreate
from charter.access.service import create_user
from charter.context import Ctx
from charter.inventory import service
from charter.inventory.models import AISystem
from charter.inventory.schemas import SystemCreate, SystemUpdate, Transition
from charter.kit.clock import FixedClock
from charter.kit.db import make_engine, make_session_factory
from charter.kit.errors import StaleVersion
from charter.kit.migrate import upgrade
from charter.kit.principal import SYSTEM, Principal
from charter.ledger.models import LedgerEntry


@pytest.fixture
def own_engine(db_url: str, tmp_path, settings) -> Iterator[Engine]:  # type: ignore[no-untyped-def]
    if db_url.startswith("sqlite"):
        engine = make_engine(f"sqlite:///{tmp_path / 'concurrency.db'}")
        name = None
    else:
        name = f"charter_conc_{uuid.uuid4().hex[:8]}"
        admin = create_engine(db_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        engine = make_engine(make_url(db_url).set(database=name).render_as_string(hide_password=False))
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        if name:
            admin = create_engine(db_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


def _race(engine: Engine, settings: Any, change: Any) -> list[str]:
    """Run change(ctx) in two threads that both read version 1, then both try to write."""
    factory = make_session_factory(engine)
    clock = FixedClock()
    with factory() as s:
        user = s.execute(select(AISystem.owner_id)).scalar_one()
    engineer = Principal(kind="user", user_id=user, name="eng", role="engineer")
    both_read = threading.Barrier(2)
    outcomes: list[str] = []

    def writer() -> None:
        with factory() as session:

            @event.listens_for(session, "before_flush")
            def _wait(*_: Any) -> None:
                # Hold the first writer until the second has read too, unless the second is blocked on the
                # first one's lock (the fix): then the barrier times out and the first goes ahead.
                with contextlib.suppress(threading.BrokenBarrierError):
                    both_read.wait(timeout=1.5)

            ctx = Ctx(session=session, principal=engineer, clock=clock, settings=settings)
            try:
                change(ctx)
                session.commit()
                outcomes.append("ok")
            except StaleVersion as exc:
                session.rollback()
                outcomes.append(f"409 current={exc.extra['current_version']}")

    threads = [threading.Thread(target=writer) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return sorted(outcomes)


def _seed(engine: Engine, settings: Any) -> None:
    with Session(engine) as session:
        ctx = Ctx(session=session, principal=SYSTEM, clock=FixedClock(), settings=settings)
        user = create_user(ctx, UserCreate(username="eng", role="engineer", password="engineer password"))
        owned = SystemCreate(key="support-bot", name="Support bot", deployment_type="embedded", owner=user.username)
        service.create_system(ctx, owned)
        session.commit()


def test_concurrent_updates_with_the_same_version_do_not_lose_one(own_engine, settings) -> None:
    _seed(own_engine, settings)
    names = iter(["Written by A", "Written by B"])
    lock = threading.Lock()

    def rename(ctx: Ctx) -> None:
        with lock:
            name = next(names)
        service.update_system(ctx, "support-bot", SystemUpdate(version=1, name=name))

    assert _race(own_engine, settings, rename) == ["409 current=2", "ok"]
    with Session(own_engine) as s:
        assert s.execute(select(AISystem.version)).scalar_one() == 2
        updates = s.execute(select(LedgerEntry).where(LedgerEntry.action == "system.updated")).scalars().all()
        assert len(updates) == 1


def test_concurrent_stage_moves_with_the_same_version_do_not_both_apply(own_engine, settings) -> None:
    _seed(own_engine, settings)
    outcomes = _race(
        own_engine,
        settings,
        lambda ctx: service.transition_system(ctx, "support-bot", Transition(to="sandbox", version=1)),
    )
    assert outcomes == ["409 current=2", "ok"]
    with Session(own_engine) as s:
        moves = s.execute(select(LedgerEntry).where(LedgerEntry.action == "system.stage.sandbox")).scalars().all()
        assert len(moves) == 1
