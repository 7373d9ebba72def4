"""Concurrent promotions to one stage leave exactly one deployed release (SQLite and PostgreSQL).

Runs on a fresh database of its own (committed data never leaks into the other tests' database).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from itertools import pairwise
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, select, text, update
from sqlalchemy.exc import IntegrityError

from charter.access.models import User
from charter.bootstrap import migrate
from charter.context import Ctx
from charter.inventory.schemas import SystemCreate
from charter.inventory.service import create_system
from charter.kit.clock import FixedClock
from charter.kit.db import Base, make_engine, make_session_factory
from charter.kit.errors import Conflict
from charter.kit.principal import Principal
from charter.kit.registry import load_models
from charter.kit.settings import Settings
from charter.releases import deploy
from charter.releases.models import Deployment, DeploymentPointer, ReleaseStage
from charter.releases.schemas import PromoteIn
from charter.releases.service import submit_release
from tests.releases.conftest import release_body

load_models()  # every table on Base.metadata

KEY = "race-system"


@pytest.fixture
def fresh(db_url: str, tmp_path: Any) -> Iterator[Engine]:
    name = None
    if db_url.startswith("sqlite"):
        engine = make_engine(f"sqlite:///{tmp_path / 'race.db'}")
    else:
        admin = create_engine(db_url, isolation_level="AUTOCOMMIT")
        name = f"{admin.url.database}_race"
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        engine = make_engine(admin.url.set(database=name).render_as_string(hide_password=False))
        admin.dispose()
    migrate(engine, Settings(env="test", data_dir=tmp_path / "data"), FixedClock())  # schema + shipped policies
    Base.metadata.create_all(engine)
    try:
        yield engine
    finally:
        engine.dispose()
        if name:
            admin = create_engine(db_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            admin.dispose()


def _seed(engine: Engine, releases: int, settings: Any, clock: FixedClock) -> Principal:
    factory = make_session_factory(engine)
    with factory() as session:
        now = clock.now()
        user = User(username="eng", display_name="eng", role="engineer", created_at=now, updated_at=now)
        session.add(user)
        session.flush()
        engineer = Principal(kind="user", user_id=user.id, name="eng", role="engineer")
        ctx = Ctx(session=session, principal=engineer, clock=clock, settings=settings)
        create_system(ctx, SystemCreate(key=KEY, name="Race", deployment_type="in_house_model"))
        for i in range(releases):
            submit_release(ctx, KEY, release_body(f"race-{i}"))
        session.commit()
    return engineer


@pytest.mark.parametrize("racers", [2, 4])
def test_concurrent_promotions_of_different_releases_leave_exactly_one_deployed(
    fresh: Engine, settings: Any, racers: int
) -> None:
    clock = FixedClock()
    engineer = _seed(fresh, racers, settings, clock)
    factory = make_session_factory(fresh)
    barrier = threading.Barrier(racers)
    outcomes: dict[int, str] = {}

    def promote(version: int) -> None:
        with factory() as session:
            ctx = Ctx(session=session, principal=engineer, clock=clock, settings=settings)
            barrier.wait()
            try:
                deploy.promote(ctx, KEY, version, PromoteIn(stage="sandbox", reason=f"racer {version}"))
                session.commit()
                outcomes[version] = "deployed"
            except Conflict as exc:  # acceptable: refused cleanly, nothing half-done
                session.rollback()
                outcomes[version] = f"refused: {exc.detail}"

    threads = [threading.Thread(target=promote, args=(v,)) for v in range(1, racers + 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(outcomes) == racers, outcomes

    with factory() as session:
        deployed = list(
            session.execute(
                select(ReleaseStage.release_id).where(
                    ReleaseStage.stage == "sandbox", ReleaseStage.status == "deployed"
                )
            ).scalars()
        )
        pointer = session.execute(select(DeploymentPointer).where(DeploymentPointer.stage == "sandbox")).scalar_one()
        moves = list(session.execute(select(Deployment).order_by(Deployment.id)).scalars())
        superseded = (
            session.execute(select(ReleaseStage.release_id).where(ReleaseStage.status == "superseded")).scalars().all()
        )
    assert len(deployed) == 1
    assert pointer.release_id == deployed[0]
    assert len(moves) == sum(1 for o in outcomes.values() if o == "deployed") == pointer.moves
    # the history is one unbroken chain: each move starts from where the previous one ended
    assert moves[0].from_release_id is None
    for before, after in pairwise(moves):
        assert after.from_release_id == before.to_release_id
    assert moves[-1].to_release_id == deployed[0]
    assert len(superseded) == len(moves) - 1


def test_the_database_itself_refuses_a_second_deployed_release_at_a_stage(fresh: Engine, settings: Any) -> None:
    clock = FixedClock()
    engineer = _seed(fresh, 2, settings, clock)
    factory = make_session_factory(fresh)
    with factory() as session:
        ctx = Ctx(session=session, principal=engineer, clock=clock, settings=settings)
        deploy.promote(ctx, KEY, 1, PromoteIn(stage="sandbox"))
        from charter.releases.service import get_release, new_stage_row

        system, second = get_release(session, KEY, 2)
        row = new_stage_row(ctx, system, second, "sandbox", None)
        session.commit()
        with pytest.raises(IntegrityError):
            session.execute(update(ReleaseStage).where(ReleaseStage.id == row.id).values(status="deployed"))
            session.flush()
        session.rollback()
