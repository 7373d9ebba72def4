"""The ledger head as a validity token for caches of governance state.

Every change of governance state (systems, releases, approvals, risks, procedure runs, policies, users,
tokens, ...) appends to the ledger in the same transaction, so the head (seq and hash) changes with each
one. A value computed from that state stays correct while the head is unchanged: `HeadCache` keeps such
values, and `read_head` reads the head in a few tens of microseconds (one indexed row on a pooled DBAPI
connection, no ORM session) so a hot path can check it on every request. See docs/decisions.md (D8).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Engine, select
from sqlalchemy.orm import Session

from charter.ledger.models import LedgerHead

EMPTY = "empty"
_SQL = f"SELECT seq, hash FROM {LedgerHead.__tablename__} WHERE id = 1"  # noqa: S608  (a constant, no input)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def _state(row: Any) -> str:
    return f"{row[0]}:{row[1]}" if row is not None else EMPTY


def read_head(bind: Engine | Connection) -> str:
    """The current head, read on a pooled DBAPI connection outside any session (committed state).

    On SQLite the read takes no lock and never waits; on PostgreSQL it is one round trip. Given a
    Connection (a session factory bound to one, as the tests do), the head is read on it, so it sees that
    connection's own uncommitted changes like every session bound to it."""
    if isinstance(bind, Connection):
        return _state(bind.exec_driver_sql(_SQL).first())
    raw = bind.raw_connection()
    try:
        cursor = raw.cursor()
        try:
            cursor.execute(_SQL)
            row = cursor.fetchone()
        finally:
            cursor.close()
    finally:
        raw.close()  # back to the pool, which ends the (read) transaction on PostgreSQL
    return _state(row)


def session_head(session: Session) -> str:
    """The head as seen by the session's transaction (its snapshot, its own uncommitted appends)."""
    return _state(session.execute(select(LedgerHead.seq, LedgerHead.hash).where(LedgerHead.id == 1)).first())


class HeadCache(Generic[K, V]):
    """Values valid while the ledger head is unchanged: `get` answers only for the head they were
    computed under. Bounded (least recently used first out) and thread-safe."""

    def __init__(self, maxsize: int = 1_024) -> None:
        self._items: OrderedDict[K, tuple[str, V]] = OrderedDict()
        self._lock = threading.Lock()
        self._maxsize = maxsize

    def get(self, key: K, head: str) -> V | None:
        with self._lock:
            item = self._items.get(key)
            if item is None or item[0] != head:
                return None
            self._items.move_to_end(key)
            return item[1]

    def put(self, key: K, head: str, value: V) -> None:
        with self._lock:
            self._items[key] = (head, value)
            self._items.move_to_end(key)
            while len(self._items) > self._maxsize:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
