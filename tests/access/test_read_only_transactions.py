"""SQLite: read-only transactions (token authentication, gate evaluation) take no write lock."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text

from charter.kit.db import make_engine, make_session_factory, read_only


@pytest.fixture
def file_engine(tmp_path, db_url):  # type: ignore[no-untyped-def]
    if not db_url.startswith("sqlite"):
        pytest.skip("SQLite locking")
    engine = make_engine(f"sqlite:///{tmp_path / 'locks.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    yield engine
    engine.dispose()


def test_a_read_only_transaction_reads_while_another_holds_the_write_lock(file_engine) -> None:
    factory = make_session_factory(file_engine)
    with factory() as writer, factory() as reader:
        writer.execute(text("INSERT INTO t VALUES (1)"))  # BEGIN IMMEDIATE: holds the write lock
        started = time.monotonic()
        read_only(reader)
        assert reader.execute(text("SELECT count(*) FROM t")).scalar_one() == 0  # not the uncommitted row
        assert time.monotonic() - started < 1
        writer.commit()


def test_a_writer_does_not_wait_for_an_open_read_only_transaction(file_engine) -> None:
    factory = make_session_factory(file_engine)
    with factory() as reader, factory() as writer:
        read_only(reader)
        reader.execute(text("SELECT count(*) FROM t")).scalar_one()
        started = time.monotonic()
        writer.execute(text("INSERT INTO t VALUES (1)"))
        writer.commit()
        assert time.monotonic() - started < 1
        reader.rollback()


def test_writers_of_one_process_take_turns_and_none_is_lost(file_engine) -> None:
    factory = make_session_factory(file_engine)

    def write() -> None:
        for _ in range(20):
            with factory() as s:
                n = s.execute(text("SELECT count(*) FROM t")).scalar_one()
                s.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})
                s.commit()

    threads = [threading.Thread(target=write) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    with factory() as s:
        assert s.execute(text("SELECT count(*), count(DISTINCT x) FROM t")).one() == (120, 120)
