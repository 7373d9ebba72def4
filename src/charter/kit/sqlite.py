"""SQLite's transaction discipline, in one place.

- Pragmas on every connection: WAL, foreign keys, busy_timeout 30 s, synchronous NORMAL; SQLAlchemy owns
  transactions (pysqlite's own BEGIN handling breaks SAVEPOINT).
- Every transaction begins IMMEDIATE (takes the write lock up front; docs/decisions.md D3), unless it asks
  for a read-only one (`READ_ONLY` / `read_only(session)`: DEFERRED, no write lock).
- Within one process, writers queue on an in-process lock before BEGIN IMMEDIATE (`WriterQueue`), so the
  next writer starts as soon as the lock is free instead of sleeping in SQLite's busy handler.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy own transactions (pysqlite's own BEGIN handling breaks SAVEPOINT).
    dbapi_connection.isolation_level = None
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


#: Execution options for a transaction that only reads (see `read_only`): on SQLite it begins DEFERRED
#: and takes no write lock; elsewhere it changes nothing.
READ_ONLY: dict[str, Any] = {"sqlite_begin": "DEFERRED"}
_BEGIN_MODES = frozenset({"IMMEDIATE", "DEFERRED", "EXCLUSIVE"})


def _begin_mode(conn: Any) -> str:
    mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
    if mode not in _BEGIN_MODES:
        raise ValueError(f"sqlite_begin must be one of {sorted(_BEGIN_MODES)}, not {mode!r}")
    return str(mode)


def _sqlite_begin(conn: Any) -> None:
    # IMMEDIATE (the default) takes the write lock up front: concurrent writers queue on busy_timeout
    # instead of failing late with SQLITE_BUSY_SNAPSHOT, and the ledger chain never forks. A transaction
    # that only reads asks for DEFERRED (execution option sqlite_begin, see READ_ONLY) and takes no lock.
    conn.exec_driver_sql(f"BEGIN {_begin_mode(conn)}")


class WriterQueue:
    """In-process queue for SQLite's write lock (one per engine on a database file).

    SQLite's busy handler makes a waiting writer sleep and retry (1, 2, 5, 10 ... 100 ms): under load,
    with many server threads, a waiter sleeps through most releases and write transactions queue for
    hundreds of milliseconds. The threads of one process therefore queue on this lock first (taken just
    before BEGIN IMMEDIATE, released right after the COMMIT or ROLLBACK), so the next writer starts as soon
    as the lock is free; other processes still meet SQLite's busy handler. Waiting is bounded like
    busy_timeout (then SQLite decides).
    """

    def __init__(self, timeout: float = 30.0) -> None:
        self._lock = threading.Lock()
        self._owner: Any = None  # the DBAPI connection holding it
        self._timeout = timeout

    def begin(self, conn: Any) -> None:
        mode = _begin_mode(conn)
        raw = conn.connection.dbapi_connection
        queued = mode != "DEFERRED" and self._owner is not raw and self._lock.acquire(timeout=self._timeout)
        if queued:
            self._owner = raw
        try:
            conn.exec_driver_sql(f"BEGIN {mode}")
        except BaseException:
            self.release(raw)
            raise

    def release(self, dbapi_connection: Any) -> None:
        raw = getattr(dbapi_connection, "dbapi_connection", dbapi_connection)  # pool fairy or raw
        if raw is not None and self._owner is raw:
            self._owner = None
            self._lock.release()

    def install(self, engine: Engine) -> None:
        dialect: Any = engine.dialect
        commit, rollback, close = dialect.do_commit, dialect.do_rollback, dialect.do_close

        def do_commit(dbapi_connection: Any) -> None:
            try:
                commit(dbapi_connection)
            finally:
                self.release(dbapi_connection)

        def do_rollback(dbapi_connection: Any) -> None:
            try:
                rollback(dbapi_connection)
            finally:
                self.release(dbapi_connection)

        def do_close(dbapi_connection: Any) -> None:
            try:
                close(dbapi_connection)
            finally:
                self.release(dbapi_connection)

        dialect.do_commit, dialect.do_rollback, dialect.do_close = do_commit, do_rollback, do_close
        event.listen(engine, "begin", self.begin)


class ReadWrote(RuntimeError):
    """Something tried to write in a read-only transaction: a read that writes is a bug (GUIDE: reads never
    write)."""


def read_only(session: Session) -> None:
    """Begin the session's transaction as a read-only one: on SQLite DEFERRED, taking no write lock; on every
    database, a flush of changes in it raises ReadWrote. Call it before the first statement of the
    transaction; it ends with the transaction (commit or rollback). Idempotent."""
    if session.info.get("read_only"):
        return
    session.connection(execution_options=READ_ONLY)
    session.info["read_only"] = True


@event.listens_for(Session, "before_flush")
def _refuse_writes(session: Session, _flush_context: Any, _instances: Any) -> None:
    if session.info.get("read_only") and (session.new or session.dirty or session.deleted):
        changed = [type(o).__name__ for o in [*session.new, *session.dirty, *session.deleted]][:5]
        raise ReadWrote(f"a read-only transaction tried to write ({', '.join(changed)}): reads never write")


@event.listens_for(Session, "after_transaction_end")
def _end_read_only(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        session.info.pop("read_only", None)


def configure(engine: Engine, *, shared_memory: bool = False) -> None:
    """Install the pragmas and the transaction discipline on a SQLite engine. An in-memory database
    (one connection shared by the tests) begins IMMEDIATE without the writer queue."""
    event.listen(engine, "connect", _sqlite_pragmas)
    if shared_memory:
        event.listen(engine, "begin", _sqlite_begin)
    else:
        WriterQueue().install(engine)


def checkpoint_wal(engine: Engine) -> None:
    """Fold the write-ahead log into the database file and empty it (a clean shutdown: issue 12, finding 11).

    After this, the database file alone holds every committed write; a copy of just `charter.db` loses nothing.
    Best effort: when another connection still holds a lock (a request or a thread that has not finished), the
    log is left for SQLite to fold in later — nothing committed is lost either way — and the shutdown goes on.
    """
    if engine.dialect.name != "sqlite":
        return
    engine.dispose()  # idle pooled connections would keep readers on the log
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    except OperationalError as exc:
        log.warning("the write-ahead log was not folded in at shutdown (%s); it will be on the next start", exc)
    engine.dispose()  # the last connection closing removes the -wal file


def backup(engine: Engine, target: Path) -> int:
    """A consistent copy of a live SQLite database into `target` (SQLite's online backup API: writers may go
    on meanwhile). Returns the number of pages copied. The copy is written to a temporary file beside the
    target and moved into place, so a failed backup never leaves a half-written file under the target's name."""
    if engine.dialect.name != "sqlite":
        raise ValueError("charter db backup copies SQLite databases; for PostgreSQL use pg_dump (see README)")
    target = target.resolve()
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    raw = engine.raw_connection()
    try:
        source = raw.driver_connection
        assert isinstance(source, sqlite3.Connection)
        dest = sqlite3.connect(partial)
        try:
            source.backup(dest)
            pages = int(dest.execute("PRAGMA page_count").fetchone()[0])
            dest.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        finally:
            dest.close()
    finally:
        raw.close()
    partial.replace(target)
    return pages
