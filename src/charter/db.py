"""Engine, session factory and declarative base. Built by the app factory or CLI, never at import."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, declared_attr, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator

from charter.clock import as_utc

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC; always returns timezone-aware UTC datetimes (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = as_utc(value)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime()}


class Versioned:
    """Optimistic concurrency: every mutable record carries a version, bumped on each change.

    Services compare the client's version with the stored one (a stale one is a 409 naming the current
    version) and bump it. As a second line, the mapper adds `WHERE version = <the version read>` to every
    UPDATE, so two writers that read the same version concurrently cannot both succeed: the later flush
    raises StaleDataError, answered as 409 (problems.py).
    """

    version: Mapped[int] = mapped_column(default=1, nullable=False)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.__table__.c.version, "version_id_generator": False}  # type: ignore[attr-defined]


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


class _WriterQueue:
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


def read_only(session: Session) -> None:
    """Begin the session's next transaction as a read-only one (no SQLite write lock). Call it before the
    first statement of the transaction; a write in it may fail with SQLITE_BUSY_SNAPSHOT under
    concurrency, so commit or roll it back before writing."""
    session.connection(execution_options=READ_ONLY)


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        if url.startswith("sqlite:///") and ":memory:" not in url:
            from pathlib import Path

            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        if ":memory:" not in url:
            # One connection per server thread (anyio's pool has 40) and two per request (authentication,
            # then the unit of work): with the default pool (5 + 10 overflow) the overflow connections were
            # closed and reopened (with their PRAGMAs) on nearly every request under load.
            kwargs.setdefault("pool_size", 40)
            kwargs.setdefault("max_overflow", 40)
        engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        if ":memory:" in url:
            event.listen(engine, "begin", _sqlite_begin)
        else:
            _WriterQueue().install(engine)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def make_session_factory(bind: Any) -> sessionmaker[Session]:
    return sessionmaker(bind=bind, expire_on_commit=False, autoflush=True)
