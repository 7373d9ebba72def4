"""Leasing under real concurrency: 50 reviewers on their own connections, committing for real."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from charter.access.models import User
from charter.context import Ctx
from charter.feedback import ingest, queues
from charter.feedback.models import QueueItem
from charter.feedback.schemas import QueueCreate
from charter.inventory import service as inventory
from charter.inventory.schemas import SystemCreate
from charter.kit.clock import FixedClock
from charter.kit.db import make_session_factory
from charter.kit.principal import SYSTEM, Principal
from charter.kit.settings import Settings
from tests.feedback.conftest import interactions

REVIEWERS = 50
ITEMS = 200


def test_fifty_concurrent_reviewers_never_get_the_same_item(own_database: Engine, tmp_path: Path) -> None:
    factory = make_session_factory(own_database)
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
    with Session(own_database) as session:
        owners = session.execute(select(QueueItem.id, QueueItem.lease_owner, QueueItem.leases)).all()
    assert all(leases == 1 for _, _, leases in owners)
    by_owner = {item_id: owner for item_id, owner, _ in owners}
    assert all(by_owner[i] == f"user:{who}" for who, ids in taken.items() for i in ids)
