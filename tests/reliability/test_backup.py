"""Finding 11: a clean shutdown leaves no WAL data behind, and `charter db backup` makes a restorable copy."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from charter.cli.main import app as cli
from charter.kit.db import make_engine
from charter.kit.sqlite import checkpoint_wal
from tests.conftest import is_postgres
from tests.reliability.servers import servers

pytestmark = pytest.mark.skipif(is_postgres(), reason="SQLite files; PostgreSQL backups are pg_dump's job")
PASSWORD = "a-long-test-admin-password"


def _create_systems(url: str, n: int) -> None:
    r = httpx.post(f"{url}/api/v1/auth/login", json={"username": "admin", "password": PASSWORD}, timeout=30)
    headers = {"Authorization": f"Bearer {r.json()['token']}"}
    for i in range(n):
        r = httpx.post(
            f"{url}/api/v1/systems",
            json={"key": f"kept-{i}", "name": f"Kept {i}", "deployment_type": "embedded", "owner": "admin"},
            headers=headers,
            timeout=30,
        )
        assert r.status_code == 201, r.text


def _system_keys(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return sorted(k for (k,) in conn.execute("SELECT key FROM ai_systems") if k.startswith("kept-"))


def test_a_clean_shutdown_folds_the_wal_into_the_database_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    db = data / "charter.db"
    with servers(f"sqlite:///{db}", data, 1) as (server,):
        _create_systems(server.url, 3)
    wal = Path(f"{db}-wal")
    assert not wal.exists() or wal.stat().st_size == 0
    only_the_file = tmp_path / "copy.db"  # what a backup copying just charter.db gets
    shutil.copy(db, only_the_file)
    assert _system_keys(only_the_file) == ["kept-0", "kept-1", "kept-2"]


def test_db_backup_copies_a_live_database_that_restores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    db = data / "charter.db"
    target = tmp_path / "backup" / "charter-backup.db"
    target.parent.mkdir()
    with servers(f"sqlite:///{db}", data, 1) as (server,):
        _create_systems(server.url, 2)
        for k in [k for k in os.environ if k.startswith("CHARTER_")]:
            monkeypatch.delenv(k)
        monkeypatch.setenv("CHARTER_DATABASE_URL", f"sqlite:///{db}")
        monkeypatch.setenv("CHARTER_DATA_DIR", str(data))
        result = CliRunner().invoke(cli, ["db", "backup", str(target)])
        assert result.exit_code == 0, result.output
        assert "backed up" in result.output
    assert _system_keys(target) == ["kept-0", "kept-1"]
    with sqlite3.connect(target) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    # Restore: a server started on the copy serves what was backed up.
    restored = tmp_path / "restored"
    restored.mkdir()
    shutil.copy(target, restored / "charter.db")
    shutil.copytree(data, restored, dirs_exist_ok=True, ignore=shutil.ignore_patterns("charter.db*"))
    with servers(f"sqlite:///{restored / 'charter.db'}", restored, 1) as (server,):
        r = httpx.post(f"{server.url}/api/v1/auth/login", json={"username": "admin", "password": PASSWORD})
        token = r.json()["token"]
        got = httpx.get(f"{server.url}/api/v1/systems/kept-1", headers={"Authorization": f"Bearer {token}"})
        assert got.status_code == 200, got.text


def test_a_shutdown_while_another_connection_holds_the_database_still_shuts_down(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "busy.db"
    engine = make_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        conn.exec_driver_sql("INSERT INTO t VALUES (1)")
    other = sqlite3.connect(db, timeout=0.1)
    other.execute("BEGIN EXCLUSIVE")  # a request or thread that has not finished
    try:
        checkpoint_wal(engine)  # no exception: the log waits for the next start
    finally:
        other.rollback()
        other.close()
    assert "not folded in at shutdown" in caplog.text
    with sqlite3.connect(db) as check:
        assert check.execute("SELECT x FROM t").fetchall() == [(1,)]  # nothing committed was lost
