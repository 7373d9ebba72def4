"""Escalation driven by the periodic sweeper, on a database of its own with real commits:
timers survive a restart, two sweepers never escalate twice, and a real short timeout pages level 2
through a signed webhook to a local receiver."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.engine import make_url

from charter.access.schemas import TokenCreate
from charter.access.service import issue_token
from charter.bootstrap import migrate
from charter.context import Ctx
from charter.http.app import create_app
from charter.incidents import escalation, service
from charter.incidents.models import Incident, IncidentEscalation
from charter.incidents.schemas import IncidentCreate
from charter.kit.clock import FixedClock, SystemClock
from charter.kit.db import Base, make_engine, make_session_factory
from charter.kit.principal import SYSTEM
from charter.kit.roles import ROLES
from charter.kit.settings import Settings
from charter.notifications import service as notifications
from charter.notifications.models import Notification
from charter.notifications.rules import verify_signature
from charter.notifications.schemas import ChannelCreate, SubscriptionCreate
from charter.sweeps import run_all, start_sweeper, sweep_lock
from tests.conftest import PG_URL, Actors
from tests.incidents.conftest import SYSTEM as SYSTEM_KEY
from tests.incidents.conftest import TWO_LEVELS, make_system
from tests.notifications.receiver import Receiver


@pytest.fixture
def fresh_engine(tmp_path: Path) -> Iterator[Engine]:
    """A database of its own (SQLite file, or a new PostgreSQL database), migrated: real commits, real restarts."""
    if not PG_URL:
        url = f"sqlite:///{tmp_path / 'sweeper.db'}"
        eng = make_engine(url)
        migrate(eng, Settings(env="test", data_dir=tmp_path / "data"), FixedClock())
        Base.metadata.create_all(eng)
        yield eng
        eng.dispose()
        return
    base = make_url(PG_URL)
    name = f"charter_sweep_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    eng = make_engine(base.set(database=name).render_as_string(hide_password=False))
    try:
        migrate(eng, Settings(env="test", data_dir=tmp_path / "data"), FixedClock())
        Base.metadata.create_all(eng)
        yield eng
    finally:
        eng.dispose()
        with admin.connect() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :n AND pid <> pg_backend_pid()"
                ),
                {"n": name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def seed(engine: Engine, clock: Any, settings: Settings, policy: dict[str, Any] | None = None) -> None:
    """Users (one per role), a production system owned by the engineer, the two-level policy; committed."""
    with make_session_factory(engine)() as session:
        actors = Actors(session=session, clock=clock, settings=settings, users={})
        for role in ROLES:
            actors.add_user(role, role)
        make_system(actors)
        escalation.install_policy(actors.ctx("admin"), policy or TWO_LEVELS)
        session.commit()


def steps(engine: Engine) -> list[tuple[str, int, int, list[str]]]:
    with make_session_factory(engine)() as s:
        rows = s.execute(
            select(Incident.key, IncidentEscalation.round, IncidentEscalation.level, IncidentEscalation.recipients)
            .join(Incident, Incident.id == IncidentEscalation.incident_id)
            .order_by(Incident.key, IncidentEscalation.round, IncidentEscalation.level)
        ).all()
    return [(k, r, lv, list(names)) for k, r, lv, names in rows]


def test_escalation_survives_a_restart(fresh_engine: Engine, tmp_path: Path) -> None:
    settings = Settings(env="test", data_dir=tmp_path / "data", webhook_allow="127.0.0.1")
    clock = FixedClock()
    seed(fresh_engine, clock, settings)

    # server 1: an incident is opened over HTTP, then the server stops before anyone acknowledges
    first = create_app(settings, engine=fresh_engine, clock=clock)
    with make_session_factory(fresh_engine)() as s:
        actors = Actors(session=s, clock=clock, settings=settings, users={})
        from charter.access.models import User

        actors.users = {u.username: u for u in s.scalars(select(User))}
        _, token = issue_token(actors.ctx("admin"), TokenCreate(name="t", username="approver"), kind="personal")
        s.commit()
    r = TestClient(first).post(
        "/api/v1/incidents",
        json={"title": "Harmful content", "system": SYSTEM_KEY, "severity": "CRITICAL"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 201, r.text
    key = r.json()["key"]
    fresh_engine.dispose()
    del first

    # server 2, a new process as far as the database knows: a new engine, a new app, no memory of server 1
    clock.advance(minutes=16)
    second_engine = make_engine(fresh_engine.url.render_as_string(hide_password=False))
    try:
        second = create_app(settings, engine=second_engine, clock=clock)
        results = run_all(second.state.session_factory, clock, settings, only=["incidents.escalation"])
        assert results == {"incidents.escalation": {"escalated": [key], "exhausted": []}}
        assert steps(second_engine) == [(key, 1, 1, ["engineer"]), (key, 1, 2, ["governance"])]
    finally:
        second_engine.dispose()


def _due_incidents(engine: Engine, clock: FixedClock, settings: Settings, n: int) -> list[str]:
    keys = []
    with make_session_factory(engine)() as s:
        ctx = Ctx(session=s, principal=SYSTEM, clock=clock, settings=settings)
        for i in range(n):
            keys.append(
                service.open_incident(
                    ctx, IncidentCreate(title=f"incident {i}", system=SYSTEM_KEY, severity="CRITICAL")
                ).key
            )
        s.commit()
    clock.advance(minutes=15)
    return keys


def _race(engine: Engine, clock: FixedClock, settings: Settings, sweepers: int = 2) -> list[Any]:
    factory = make_session_factory(engine)
    barrier = threading.Barrier(sweepers)
    results: list[Any] = [None] * sweepers

    def run(i: int) -> None:
        with factory() as s:
            ctx = Ctx(session=s, principal=SYSTEM, clock=clock, settings=settings, request_id=f"sweeper-{i}")
            barrier.wait()
            try:
                results[i] = escalation.sweep(ctx)
                s.commit()
            except Exception as exc:  # pragma: no cover - reported below
                s.rollback()
                results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(sweepers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def _assert_each_paged_once(engine: Engine, keys: list[str]) -> None:
    got = steps(engine)
    for key in keys:
        assert [(r, lv) for k, r, lv, _ in got if k == key] == [(1, 1), (1, 2)]
    with make_session_factory(engine)() as s:
        from charter.access.models import User

        gov = s.scalar(select(User.id).where(User.username == "governance"))
        notes = s.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == gov, Notification.event_type == "incident.escalated")
        )
    assert notes == len(keys)


def test_two_sweepers_racing_never_double_escalate(fresh_engine: Engine, tmp_path: Path) -> None:
    settings = Settings(env="test", data_dir=tmp_path / "data", webhook_allow="127.0.0.1")
    clock = FixedClock()
    seed(fresh_engine, clock, settings)
    keys = _due_incidents(fresh_engine, clock, settings, 12)
    results = _race(fresh_engine, clock, settings, sweepers=2)
    assert not [r for r in results if isinstance(r, Exception)], results
    escalated = [k for r in results for k in r.get("escalated", [])]
    assert sorted(escalated) == sorted(keys)  # each incident escalated by exactly one sweeper
    _assert_each_paged_once(fresh_engine, keys)


def test_without_the_lock_row_locks_and_the_unique_step_still_prevent_double_escalation(
    fresh_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(env="test", data_dir=tmp_path / "data", webhook_allow="127.0.0.1")
    clock = FixedClock()
    seed(fresh_engine, clock, settings)
    keys = _due_incidents(fresh_engine, clock, settings, 12)
    monkeypatch.setattr(escalation, "sweep_lock", lambda session, name: True)
    results = _race(fresh_engine, clock, settings, sweepers=3)
    assert not [r for r in results if isinstance(r, Exception)], results
    _assert_each_paged_once(fresh_engine, keys)


@pytest.mark.skipif(
    not PG_URL, reason="advisory locks are PostgreSQL's; SQLite serialises writers with BEGIN IMMEDIATE"
)
def test_a_second_sweeper_skips_while_the_first_holds_the_advisory_lock(fresh_engine: Engine, tmp_path: Path) -> None:
    settings = Settings(env="test", data_dir=tmp_path / "data", webhook_allow="127.0.0.1")
    clock = FixedClock()
    seed(fresh_engine, clock, settings)
    keys = _due_incidents(fresh_engine, clock, settings, 1)
    factory = make_session_factory(fresh_engine)
    with factory() as holder, factory() as other:
        assert sweep_lock(holder, escalation.SWEEP_NAME) is True
        ctx = Ctx(session=other, principal=SYSTEM, clock=clock, settings=settings)
        assert escalation.sweep(ctx) == {"skipped": "another sweeper is escalating right now"}
        other.rollback()
        holder.rollback()  # releases the transaction-scoped lock
        assert escalation.sweep(ctx) == {"escalated": keys, "exhausted": []}
        other.commit()


def test_a_real_short_timeout_escalates_through_the_background_sweeper_to_a_webhook(
    fresh_engine: Engine, tmp_path: Path
) -> None:
    receiver = Receiver().start()
    settings = Settings(env="test", data_dir=tmp_path / "data", webhook_allow="127.0.0.1")
    clock = SystemClock()
    policy = {**TWO_LEVELS, "ack_timeouts": {"CRITICAL": "1s"}}
    seed(fresh_engine, clock, settings, policy)
    factory = make_session_factory(fresh_engine)
    secrets: dict[str, str] = {}
    with factory() as s:
        from charter.access.models import User
        from charter.kit.principal import Principal

        for name in ("engineer", "governance"):
            user = s.scalars(select(User).where(User.username == name)).one()
            ctx = Ctx(s, Principal(kind="user", user_id=user.id, name=name, role=user.role), clock, settings)
            channel = notifications.create_channel(
                ctx, ChannelCreate(name="pager", kind="webhook", target=f"{receiver.url}/{name}")
            )
            notifications.subscribe(ctx, SubscriptionCreate(event_type="incident.*", channel_id=channel.id))
            secrets[name] = str(channel.secret)
        ctx = Ctx(s, SYSTEM, clock, settings)
        key = service.open_incident(
            ctx, IncidentCreate(title="Real timeout", system=SYSTEM_KEY, severity="CRITICAL")
        ).key
        s.commit()

    app = create_app(settings, engine=fresh_engine, clock=clock)
    started = time.monotonic()
    sweeper = start_sweeper(app, interval=0.2)
    try:
        got = receiver.wait_for(lambda rs: any(r.path == "/governance" for r in rs), timeout=10)
    finally:
        sweeper.stop()
        receiver.stop()
    elapsed = time.monotonic() - started
    paths = [r.path for r in got]
    assert paths[0] == "/engineer" and "/governance" in paths
    level2 = next(r for r in got if r.path == "/governance")
    doc = level2.json()
    assert (doc["event"], doc["data"]["incident"], doc["data"]["level"]) == ("incident.escalated", key, 2)
    assert verify_signature(
        secrets["governance"],
        level2.headers["x-charter-timestamp"],
        level2.body,
        level2.headers["x-charter-signature"],
        int(time.time()),
    )
    assert elapsed < 10
    assert app.state.sweeper is sweeper and sweeper.runs >= 1
    assert steps(fresh_engine)[:2] == [(key, 1, 1, ["engineer"]), (key, 1, 2, ["governance"])]


def test_run_all_isolates_a_failing_sweep_and_registers_every_module(fresh_engine: Engine, tmp_path: Path) -> None:
    from charter import sweeps

    settings = Settings(env="test", data_dir=tmp_path / "data", webhook_allow="127.0.0.1")
    names = set(sweeps.registered())
    assert {"incidents.escalation", "incidents.regulatory", "incidents.action_items", "notifications.deliver"} <= names

    def broken(ctx: Ctx) -> None:
        raise RuntimeError("boom")

    sweeps.register_sweep("test.broken", broken)
    try:
        factory = make_session_factory(fresh_engine)
        out = run_all(factory, FixedClock(), settings, only=["test.broken", "notifications.deliver"])
    finally:
        sweeps._REGISTRY.pop("test.broken", None)
    assert out["test.broken"] == {"error": "RuntimeError: boom"}
    assert out["notifications.deliver"].attempted == 0
    assert sweeps.lock_key("incidents.escalation") == sweeps.lock_key("incidents.escalation")
    assert sweeps.lock_key("a") != sweeps.lock_key("b")
