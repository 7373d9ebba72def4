"""Leasing under real concurrency: 50 reviewers on their own connections, committing for real."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

from sqlalchemy import Engine, create_engine, select
from sqlalchemy.orm import Session

from charter.access.models import User
from charter.context import Ctx
from charter.feedback import ingest, queues
from charter.feedback.models import QueueItem, Review
from charter.feedback.schemas import QueueCreate, ReviewIn
from charter.inventory import service as inventory
from charter.inventory.schemas import SystemCreate
from charter.kit.clock import FixedClock
from charter.kit.db import make_session_factory
from charter.kit.principal import SYSTEM, Principal
from charter.kit.settings import Settings
from tests.feedback.conftest import interactions

REVIEWERS = 50
ITEMS = 150
SCORES = {"accuracy": 5, "hallucination": False}


def test_fifty_concurrent_reviewers_never_get_the_same_item_and_each_is_reviewed_once(
    own_database: Engine, tmp_path: Path
) -> None:
    # 50 reviewer threads share a pool of 20 connections (a reviewer waits for one as for a database);
    # the default pool opened one per thread and psycopg's waits stalled with that many under load.
    engine = create_engine(own_database.url, pool_size=20, max_overflow=0, pool_timeout=120)
    factory = make_session_factory(engine)
    settings = Settings(env="test", data_dir=tmp_path / "data")
    clock = FixedClock()
    with factory() as session:
        ctx = Ctx(session=session, principal=SYSTEM, clock=clock, settings=settings)
        now = clock.now()
        for n in range(REVIEWERS):
            session.add(User(username=f"r{n}", display_name=f"r{n}", role="approver", created_at=now, updated_at=now))
        inventory.create_system(
            ctx,
            SystemCreate(
                key="bot",
                name="Bot",
                deployment_type="in_house_model",
                owner="r0",
                risk_tier="minimal",
                risk_tier_reason="FAQ bot",
            ),
        )
        queues.create_queue(ctx, QueueCreate(key="q", system="bot", sampling={"mode": "all"}, lease_seconds=3600))
        ingest.ingest(ctx, "bot", interactions(ITEMS))
        session.commit()

    taken: dict[str, list[int]] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(REVIEWERS)

    def reviewer(n: int) -> None:
        mine: list[int] = []
        try:
            start.wait()
            while True:
                with factory() as session:
                    who = Principal(kind="user", user_id=None, name=f"r{n}", role="approver")
                    ctx = Ctx(session=session, principal=who, clock=clock, settings=settings)
                    item = queues.take_next(ctx, "q")
                    session.commit()
                    if item is None:
                        break
                    mine.append(item.id)
                    queues.review(ctx, item.id, ReviewIn(action="approve", scores=SCORES))
                    session.commit()
        except BaseException as exc:  # reported below
            errors.append(exc)
        taken[f"r{n}"] = mine

    threads = [threading.Thread(target=reviewer, args=(n,)) for n in range(REVIEWERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors[:3]
    every = [i for ids in taken.values() for i in ids]
    assert len(every) == ITEMS  # every item handed out
    assert Counter(every).most_common(1)[0][1] == 1  # and none twice
    assert sum(1 for ids in taken.values() if ids) > 1  # really concurrent: several reviewers got items
    engine.dispose()
    with Session(own_database) as session:
        items = session.execute(select(QueueItem.status, QueueItem.leases)).all()
        reviews = session.execute(select(Review.item_id, Review.reviewer)).all()
    assert all(status == "done" and leases == 1 for status, leases in items)  # each handed out once, reviewed
    assert sorted(i for i, _ in reviews) == sorted(every)
    assert {(i, f"user:{who}") for who, ids in taken.items() for i in ids} == {tuple(r) for r in reviews}
