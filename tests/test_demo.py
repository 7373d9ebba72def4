"""`charter serve --demo` on an empty database: a true story through the real services and default gates."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from charter.access.models import User
from charter.bootstrap import prepare
from charter.context import Ctx
from charter.kit.clock import SystemClock
from charter.kit.principal import SYSTEM, Principal
from charter.kit.settings import Settings


@pytest.fixture
def fresh_url(db_url: str, tmp_path: Path) -> Iterator[str]:
    """An empty database of its own (prepare() migrates it, as `charter serve` does)."""
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'demo.db'}"
        return
    admin = create_engine(db_url, isolation_level="AUTOCOMMIT")
    name = f"{admin.url.database}_demo"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": name})
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def _as(session: Session, settings: Settings, username: str) -> Ctx:
    user = session.execute(select(User).where(User.username == username)).scalar_one()
    principal = Principal(kind="user", user_id=user.id, name=user.username, role=user.role)
    return Ctx(session=session, principal=principal, clock=SystemClock(), settings=settings)


def test_the_demo_tells_a_true_release_story_then_creates_the_first_admin(fresh_url: str, tmp_path: Path) -> None:
    from charter.incidents.models import Incident
    from charter.incidents.releases_link import rollback_from_incident
    from charter.incidents.schemas import RollbackIn
    from charter.inventory.models import AISystem
    from charter.ledger.models import LedgerEntry
    from charter.ledger.verify import verify_database
    from charter.monitoring.models import Alert
    from charter.releases.history import current_pointers, history
    from charter.releases.models import GateEvaluation, Release

    settings = Settings(env="dev", data_dir=tmp_path / "data", database_url=fresh_url)
    started = datetime.now(UTC)
    engine, notes = prepare(settings, demo=True)
    try:
        assert any(n.startswith("created the first administrator: username 'admin'") for n in notes), notes
        with Session(engine) as session:
            admin = session.execute(select(User).where(User.username == "admin")).scalar_one()
            assert admin.role == "admin" and not admin.disabled
            chatbot = session.execute(select(AISystem).where(AISystem.key == "support-chatbot")).scalar_one()
            assert chatbot.stage == "production"
            deployed = {p.stage: p.version for p in current_pointers(session, chatbot)}
            assert deployed == {"sandbox": 2, "pilot": 2, "production": 2}
            moves = history(_as(session, settings, "ada"), "support-chatbot", "production")
            assert [(m.from_version, m.to_version) for m in moves] == [(None, 1), (1, 2)]  # oldest first
            # Every promotion into production passed the shipped gate (14 days in pilot, two approvers...).
            evaluations = session.execute(
                select(GateEvaluation).where(
                    GateEvaluation.system_id == chatbot.id, GateEvaluation.stage == "production"
                )
            ).scalars()
            assert [e.passed for e in evaluations] == [True, True]
            waiting = session.execute(
                select(Release).where(Release.system_id == chatbot.id, Release.version == 3)
            ).scalar_one()
            incidents = list(session.execute(select(Incident).order_by(Incident.id)).scalars())
            # INC-2026-0001 is the demo's reported incident; the firing accuracy alert opened the second one.
            assert [i.key for i in incidents] == ["INC-2026-0001", "INC-2026-0002"]
            assert [i.source for i in incidents] == ["manual", "alert"]
            incident = incidents[0]
            release_2 = session.execute(
                select(Release.id).where(Release.system_id == chatbot.id, Release.version == 2)
            ).scalar_one()
            assert incident.release_id == release_2 and waiting.id != release_2
            # The ledger verifies, its timestamps run forward over ~45 days, and nothing is in the future.
            assert verify_database(session).ok
            stamps = list(session.execute(select(LedgerEntry.ts).order_by(LedgerEntry.seq)).scalars())
            assert stamps == sorted(stamps)
            assert stamps[0] < started - timedelta(days=40) and stamps[-1] <= datetime.now(UTC)
            firing = session.execute(select(Alert).where(Alert.system_id == chatbot.id, Alert.state == "firing"))
            assert firing.first() is not None
            # The README's incident rollback works: production goes back to release 1.
            rollback_from_incident(
                _as(session, settings, "ada"), incident.key, RollbackIn(reason="refund answers are wrong")
            )
            assert {p.stage: p.version for p in current_pointers(session, chatbot)}["production"] == 1
            session.rollback()
    finally:
        engine.dispose()


def test_a_second_start_creates_no_admin_while_an_enabled_admin_exists(fresh_url: str, tmp_path: Path) -> None:
    from charter.access.service import bootstrap_admin

    settings = Settings(env="dev", data_dir=tmp_path / "data", database_url=fresh_url)
    engine, notes = prepare(settings)
    try:
        assert any("created the first administrator" in n for n in notes)
        _engine, again = prepare(settings)
        _engine.dispose()
        assert not any("created the first administrator" in n for n in again)
        with Session(engine) as session:
            ctx = Ctx(session=session, principal=SYSTEM, clock=SystemClock(), settings=settings)
            assert bootstrap_admin(ctx, None) is None
    finally:
        engine.dispose()
