"""Shared fixtures. The same suite runs on SQLite and, with CHARTER_TEST_DATABASE_URL, on PostgreSQL.

Each run gets a fresh database (PostgreSQL: a temporary database of its own), migrated with Alembic;
each test runs in a transaction that is rolled back, so no test sees another's data.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from charter.access.models import User
from charter.access.schemas import TokenCreate
from charter.access.service import issue_token
from charter.bootstrap import install_defaults, migrate
from charter.context import Ctx
from charter.http.app import create_app
from charter.kit.cache import clear_all
from charter.kit.clock import FixedClock
from charter.kit.db import Base, make_engine
from charter.kit.migrate import upgrade
from charter.kit.principal import Principal
from charter.kit.registry import load_models
from charter.kit.roles import ROLES
from charter.kit.settings import Settings

load_models()  # every table on Base.metadata

# Property tests assert invariants, not speed: no per-example deadline (a loaded CI machine made them flaky).
hypothesis_settings.register_profile("charter", deadline=None)
hypothesis_settings.load_profile("charter")

PG_URL = os.environ.get("CHARTER_TEST_DATABASE_URL")


def is_postgres() -> bool:
    return bool(PG_URL)


@pytest.fixture(scope="session")
def db_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not PG_URL:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'charter-test.db'}"
        return
    base = make_url(PG_URL)
    name = f"charter_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
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


@pytest.fixture(scope="session")
def engine(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    eng = make_engine(db_url)
    upgrade(eng)
    # Tables a module added before its migration was generated; tests/test_migrations.py fails on drift.
    Base.metadata.create_all(eng)
    # What `charter db upgrade` installs: the shipped policies and SOP templates (reads never install them).
    install_defaults(eng, Settings(env="test", data_dir=tmp_path_factory.mktemp("defaults")), FixedClock())
    yield eng
    eng.dispose()


@pytest.fixture
def own_database(tmp_path: Path) -> Iterator[Engine]:
    """A database of its own (a SQLite file, or a new PostgreSQL database), migrated with the shipped content
    installed: for tests that need real commits from several connections, processes or servers."""
    settings = Settings(env="test", data_dir=tmp_path / "own-data")
    if not PG_URL:
        eng = make_engine(f"sqlite:///{tmp_path / 'own.db'}")
        migrate(eng, settings, FixedClock())
        yield eng
        eng.dispose()
        return
    base = make_url(PG_URL)
    name = f"charter_own_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    eng = make_engine(base.set(database=name).render_as_string(hide_password=False))
    try:
        migrate(eng, settings, FixedClock())
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


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    """Every head-validated cache starts empty (each test rolls its database back)."""
    clear_all()
    yield
    clear_all()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    conn = engine.connect()
    trans = conn.begin()
    try:
        yield conn
    finally:
        trans.rollback()
        conn.close()


@pytest.fixture
def session_factory(connection: Connection) -> sessionmaker[Session]:
    return sessionmaker(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    s = session_factory()
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # The test receivers listen on 127.0.0.1: allowed here as an operator would (CHARTER_WEBHOOK_ALLOW).
    return Settings(env="test", data_dir=tmp_path / "data", checkpoint_every=1000, webhook_allow="127.0.0.1")


@dataclass
class Actors:
    """One user per role, with principals and contexts for the service layer."""

    session: Session
    clock: FixedClock
    settings: Settings
    users: dict[str, User]

    def principal(self, role: str) -> Principal:
        u = self.users[role]
        return Principal(kind="user", user_id=u.id, name=u.username, role=u.role)

    def ctx(self, role: str = "admin") -> Ctx:
        return Ctx(
            session=self.session,
            principal=self.principal(role),
            clock=self.clock,
            settings=self.settings,
            request_id="test",
        )

    def add_user(self, username: str, role: str) -> User:
        now = self.clock.now()
        user = User(
            username=username,
            display_name=username,
            role=role,
            password_hash=None,
            disabled=False,
            created_at=now,
            updated_at=now,
        )
        self.session.add(user)
        self.session.flush()
        self.users[username] = user
        return user


@pytest.fixture
def actors(session: Session, clock: FixedClock, settings: Settings) -> Actors:
    a = Actors(session=session, clock=clock, settings=settings, users={})
    for role in ROLES:
        user = a.add_user(role, role)  # username = role name: 'admin', 'engineer', ...
        a.users[role] = user
    return a


@pytest.fixture
def ctx(actors: Actors) -> Ctx:
    return actors.ctx("admin")


@pytest.fixture
def app(settings: Settings, session_factory: sessionmaker[Session], clock: FixedClock):  # type: ignore[no-untyped-def]
    return create_app(settings, session_factory=session_factory, clock=clock)


ClientFor = Callable[..., TestClient]


@pytest.fixture
def client_for(app, actors: Actors, session: Session) -> ClientFor:  # type: ignore[no-untyped-def]
    """client_for('engineer') is an HTTP client authenticated as that role's user (personal token);
    client_for('engineer', scopes=['gate:check']) a machine token with those scopes; client_for(None) anonymous."""

    def make(role: str | None, scopes: list[str] | None = None, username: str | None = None) -> TestClient:
        c = TestClient(app, raise_server_exceptions=True)
        if role is None:
            return c
        who = username or role
        ctx = actors.ctx("admin")
        kind = "personal" if scopes is None else "machine"
        _, clear = issue_token(ctx, TokenCreate(name=f"test-{who}", username=who, scopes=scopes), kind=kind)
        session.commit()
        c.headers["Authorization"] = f"Bearer {clear}"
        return c

    return make


class AppTransport(httpx.BaseTransport):
    """An httpx transport that runs each request through the app in-process (Starlette's TestClient), so
    charter.client (httpx) talks to the app without a server. A request runs whole — including the unit of
    work's teardown — before its answer returns, so requests never overlap on the test's connection.
    (TestClient's own transport speaks httpx2 when that is installed; this adapts between the two.)"""

    def __init__(self, app: Any) -> None:
        self.client = TestClient(app)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        answer = self.client.request(
            request.method, str(request.url), headers=list(request.headers.multi_items()), content=request.read()
        )
        return httpx.Response(answer.status_code, headers=list(answer.headers.multi_items()), content=answer.content)
