"""Helpers for ledger tests: build a chain through the service layer, and tamper with it.

Tampering writes the rows directly. On PostgreSQL the append-only trigger refuses that, so `tamper()`
first sets session_replication_role = replica for the test's transaction (which is rolled back).
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.orm import Session

from charter.context import Ctx
from charter.ledger.models import LedgerCheckpoint, LedgerEntry, LedgerHead
from charter.ledger.rules import GENESIS_HASH, entry_hash, to_jsonable
from tests.conftest import Actors

E = LedgerEntry.__table__


def snapshot_of(i: int) -> dict[str, Any]:
    return {
        "key": f"system-{i}",
        "name": f"Système n°{i}",
        "stage": "pilot",
        "tags": ["credit", "ml"],
        "users_affected": 1000 + i,
        "score": 0.5 + i / 8,
        "owner": None,
    }


def build_chain(ctx: Ctx, n: int, first: int = 1) -> None:
    """n entries through ctx.record, each a different change with before/after, some with a reason."""
    for i in range(first, first + n):
        before = snapshot_of(i)
        after = dict(before, stage="production", version=i)
        ctx.record(
            "system.stage.production",
            "system",
            f"system-{i}",
            before=before if i % 3 else None,
            after=after,
            reason="approved" if i % 2 else None,
        )
        ctx.clock.advance(seconds=7, microseconds=1234)  # type: ignore[attr-defined]
    ctx.session.flush()


def tamper(session: Session) -> None:
    """Allow direct writes to ledger_entries for the rest of this (rolled-back) test transaction."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL session_replication_role = replica"))


def edit(session: Session, seq: int, **values: Any) -> None:
    tamper(session)
    session.execute(update(E).where(E.c.seq == seq).values(**values))


def remove(session: Session, *seqs: int) -> None:
    tamper(session)
    session.execute(delete(E).where(E.c.seq.in_(seqs)))


def renumber(session: Session, from_seq: int, by: int) -> None:
    """Shift entries from_seq.. by `by` (through negative numbers, so the primary key never collides)."""
    tamper(session)
    session.execute(update(E).where(E.c.seq >= from_seq).values(seq=-E.c.seq))
    session.execute(update(E).where(E.c.seq < 0).values(seq=-E.c.seq + by))


def swap(session: Session, a: int, b: int) -> None:
    """Reorder: entries a and b change places (each keeps its content and hashes)."""
    tamper(session)
    session.execute(update(E).where(E.c.seq == a).values(seq=-a))
    session.execute(update(E).where(E.c.seq == b).values(seq=a))
    session.execute(update(E).where(E.c.seq == -a).values(seq=b))


def row(session: Session, seq: int) -> dict[str, Any]:
    return dict(session.execute(E.select().where(E.c.seq == seq)).one()._mapping)


def rehash_from(session: Session, first: int, **changes: object) -> None:
    """What an attacker without the signing key does: change entries from `first` and re-hash to the end."""
    prev = row(session, first - 1)["hash"] if first > 1 else GENESIS_HASH
    last = session.execute(select(LedgerHead.seq)).scalar_one()
    for seq in range(first, last + 1):
        r = dict(row(session, seq), **changes, prev_hash=prev)
        r["hash"] = entry_hash(prev, dict(r, ts=to_jsonable(r["ts"])))
        edit(session, seq, **{k: v for k, v in r.items() if k != "seq"})
        prev = r["hash"]
    set_head(session, last, prev)


def set_head(session: Session, seq: int, hash_: str) -> None:
    session.execute(update(LedgerHead).where(LedgerHead.id == 1).values(seq=seq, hash=hash_))


def drop_checkpoints(session: Session) -> None:
    session.execute(delete(LedgerCheckpoint))


@pytest.fixture(autouse=True)
def empty_ledger(session: Session) -> None:
    """Ledger tests start from an empty chain: the entries the shipped content's installation recorded (at
    `charter db upgrade`, before the tests) are removed inside the test's rolled-back transaction."""
    tamper(session)
    session.execute(delete(E))
    drop_checkpoints(session)
    set_head(session, 0, GENESIS_HASH)
    session.flush()
    if session.get_bind().dialect.name == "postgresql":  # the append-only trigger guards the test again
        session.execute(text("SET LOCAL session_replication_role = origin"))


@pytest.fixture
def chain(actors: Actors) -> Ctx:
    """A context with a 12-entry chain already appended."""
    ctx = actors.ctx("admin")
    build_chain(ctx, 12)
    return ctx
