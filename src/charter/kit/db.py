"""Engine, session factory and declarative base. Built by the app factory or CLI, never at import.

SQLite's transaction discipline (pragmas, BEGIN IMMEDIATE, read-only transactions, the in-process writer
queue) is in charter.kit.sqlite.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Engine, MetaData, create_engine
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, declared_attr, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator

from charter.kit import sqlite
from charter.kit.clock import as_utc
from charter.kit.sqlite import READ_ONLY, read_only

__all__ = ["READ_ONLY", "Base", "UTCDateTime", "Versioned", "make_engine", "make_session_factory", "read_only"]

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


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        if url.startswith("sqlite:///") and ":memory:" not in url:
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        if ":memory:" not in url:
            # One connection per server thread (anyio's pool has 40) and two per request (authentication,
            # then the unit of work): with the default pool (5 + 10 overflow) the overflow connections were
            # closed and reopened (with their PRAGMAs) on nearly every request under load.
            kwargs.setdefault("pool_size", 40)
            kwargs.setdefault("max_overflow", 40)
        engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)
        sqlite.configure(engine, shared_memory=":memory:" in url)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def make_session_factory(bind: Any) -> sessionmaker[Session]:
    return sessionmaker(bind=bind, expire_on_commit=False, autoflush=True)
