"""The ledger head as a validity token for caches of governance state (charter.kit.cache).

Every change of governance state (systems, releases, approvals, risks, procedure runs, policies, users,
tokens, ...) appends to the ledger in the same transaction, so the head (seq and hash) changes with each
one. `read_head` reads the head in a few tens of microseconds (one indexed row on a pooled DBAPI
connection, no ORM session) so a hot path can check it on every request. A head text names its database
too (`<scope>|<seq>:<hash>`), so caches never mix two databases. See docs/decisions.md (D8).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, select
from sqlalchemy.orm import Session

from charter.kit.cache import scope_of
from charter.ledger.models import LedgerHead

EMPTY = "empty"
_SQL = f"SELECT seq, hash FROM {LedgerHead.__tablename__} WHERE id = 1"  # noqa: S608  (a constant, no input)


def _state(engine: Any, row: Any) -> str:
    return f"{scope_of(engine)}|{row[0]}:{row[1]}" if row is not None else f"{scope_of(engine)}|{EMPTY}"


def read_head(bind: Engine | Connection) -> str:
    """The current head, read on a pooled DBAPI connection outside any session (committed state).

    On SQLite the read takes no lock and never waits; on PostgreSQL it is one round trip. Given a
    Connection (a session factory bound to one, as the tests do), the head is read on it, so it sees that
    connection's own uncommitted changes like every session bound to it."""
    if isinstance(bind, Connection):
        return _state(bind.engine, bind.exec_driver_sql(_SQL).first())
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
    return _state(bind, row)


def session_head(session: Session) -> str:
    """The head as seen by the session's transaction (its snapshot, its own uncommitted appends)."""
    row = session.execute(select(LedgerHead.seq, LedgerHead.hash).where(LedgerHead.id == 1)).first()
    return _state(session.get_bind().engine, row)
