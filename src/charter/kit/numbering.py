"""Numbered keys without collisions under concurrency (issue 12, finding 1).

A key numbered "highest + 1" (RISK-0042, mitigation 3 of a risk, a matrix version) is allocated inside a
lock on its scope, held until the transaction ends: `lock_scope(session, "risk")` first, then read the
highest number and insert the next. Two transactions allocating in the same scope queue on the lock, and
the second reads the first's number once it has committed (PostgreSQL READ COMMITTED: each statement sees
what committed before it began), so numbers are consecutive and never collide — no retry, no 409.

PostgreSQL: a transaction-scoped advisory lock on a 64-bit key derived from the scope name
(`pg_advisory_xact_lock`), released at commit or rollback. SQLite: one writer at a time already (the write
transaction starts before the read; see kit/sqlite.py), so nothing more is needed.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from sqlalchemy import func, select

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

NAMESPACE = "charter.numbering:"


def scope_lock_id(scope: str) -> int:
    """A stable signed 64-bit id for the scope (advisory locks are keyed by bigint)."""
    digest = hashlib.sha256((NAMESPACE + scope).encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def lock_scope(session: Session, scope: str) -> None:
    """Hold the scope's allocation lock until this transaction ends."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(scope_lock_id(scope))))
