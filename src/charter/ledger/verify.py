"""Verification: re-walk the chain from seq 1 and report the first broken entry.

The walk checks, entry by entry: the sequence number is the next one (`seq_gap`), the entry links to the
hash of the entry before it (`prev_hash_mismatch`), its content hashes to its stored hash
(`hash_mismatch`), and every signed checkpoint at that size is validly signed and equals the chain there
(`checkpoint_signature`, `checkpoint_mismatch`, and the `external_` pair for a checkpoint kept outside the
database). At the end, the head row must agree with the last entry (`head_mismatch`).

Speed: each entry's canonical text is assembled from what is stored (by PostgreSQL, or by Python from
SQLite's raw columns) and hashed; ledger/stream.py explains why that is sound. Any entry whose stored form
is not what append writes (written by another tool, or tampered with) is re-read through the ORM types and
hashed with `rules.entry_hash`, the definition `append` uses; only if that also fails is it reported.
"""

from __future__ import annotations

import hashlib
import time
from typing import TYPE_CHECKING, Any

from sqlalchemy import Text, cast, func, select, type_coerce

from charter.ledger.checks import (
    CHECKPOINT_FIELDS,
    EXTERNAL,
    Checkpoint,
    CheckpointBook,
    Problem,
    VerifyResult,
    beyond_problem,
    edit_problem,
    gap_problem,
    link_problem,
    signature_problem,
)
from charter.ledger.models import LedgerCheckpoint, LedgerEntry, LedgerHead
from charter.ledger.rules import FIELDS, GENESIS_HASH, entry_hash, to_jsonable
from charter.ledger.stream import Prefetch, entry_rows
from charter.ledger.strict_json import StrictJSONError, parse_canonical

if TYPE_CHECKING:
    from sqlalchemy import Connection
    from sqlalchemy.orm import Session

# ---- the database walk -------------------------------------------------------------------------------------

_T = LedgerEntry.__table__.c


def typed_values(conn: Connection, seq: int) -> dict[str, Any]:
    """The entry's fields as the application reads them (ORM column types), time as its hashed text."""
    row = conn.execute(select(*[_T[f] for f in FIELDS]).where(_T.seq == seq)).one()
    values = dict(row._mapping)
    values["ts"] = to_jsonable(values["ts"])
    return values


def readable_values(conn: Connection, seq: int) -> dict[str, Any]:
    """typed_values, or, where those cannot be read (a corrupted row), every field as its stored text."""
    try:
        return typed_values(conn, seq)
    except (TypeError, ValueError):
        raw = [type_coerce(_T[f], Text).label(f) for f in FIELDS if f != "seq"]
        row = conn.execute(select(_T.seq, *raw).where(_T.seq == seq)).one()._mapping
        return {k: v if v is None or isinstance(v, str | int) else repr(v) for k, v in row.items()}


def _typed_hash(conn: Connection, seq: int, prev: str) -> str:
    """The entry's hash exactly as append computes it."""
    try:
        return entry_hash(prev, typed_values(conn, seq))
    except (TypeError, ValueError):  # unreadable as the application's types: certainly not what was hashed
        return ""


def strict_problem(conn: Connection, seq: int) -> Problem | None:
    """The entry's stored before/after must be exactly canonical JSON (what was hashed), read strictly.

    Duplicate keys, NaN, or any other spelling of the same value is tampering: SQL and other readers may
    see something other than what the hash covers (issue 12, finding 5).
    """
    row = conn.execute(select(cast(_T.before, Text), cast(_T.after, Text)).where(_T.seq == seq)).one()
    for name, stored in zip(("before", "after"), row, strict=True):
        if stored is None:
            continue
        try:
            parse_canonical(stored, where=f"entry {seq} {name}")
        except StrictJSONError as exc:
            return Problem(seq, "hash_mismatch", f"{exc}: not the text that was hashed, the entry was edited")
    return None


def stored_checkpoints(conn: Connection) -> list[tuple[str, Checkpoint]]:
    c = LedgerCheckpoint.__table__.c
    rows = conn.execute(select(c.id, *[c[f] for f in CHECKPOINT_FIELDS]).order_by(c.size, c.id))
    out = []
    for row in rows:
        cp_id, size, head_hash, created_at, key_id, public_key, signature = row
        out.append(
            (
                f"stored checkpoint #{cp_id}",
                Checkpoint(size, head_hash, to_jsonable(created_at), key_id, public_key, signature),
            )
        )
    return out


def head_row(conn: Connection) -> tuple[int | None, str | None, int]:
    """(head seq, head hash, highest entry seq) read in one statement, so one snapshot."""
    h = LedgerHead.__table__.c
    max_seq = select(func.coalesce(func.max(_T.seq), 0)).scalar_subquery()
    row = conn.execute(select(h.seq, h.hash, max_seq).where(h.id == 1)).one_or_none()
    if row is None:
        return None, None, conn.execute(select(max_seq)).scalar_one()
    return row[0], row[1], row[2]


class _Walk:
    """Where the walk stands: the next sequence number expected and the hash it must link to."""

    def __init__(self, conn: Connection, book: CheckpointBook, batch: int) -> None:
        self.conn, self.book, self.batch = conn, book, batch
        self.expected = 1
        self.prev = GENESIS_HASH
        self.slow = 0

    @property
    def last(self) -> int:
        return self.expected - 1

    def walk(self, upto: int) -> Problem | None:
        """Check entries expected..upto; stop at the first problem."""
        conn, book, at = self.conn, self.book, self.book.at
        sha256 = hashlib.sha256
        prev, expected = self.prev, self.expected
        batches = Prefetch(
            entry_rows(conn, upto, self.batch, after=expected - 1), threaded=conn.dialect.name == "postgresql"
        )
        try:
            for rows in batches:
                for seq, prev_hash, digest, text in rows:
                    if seq != expected:
                        return gap_problem(expected, seq)
                    if prev_hash != prev:
                        return link_problem(seq)
                    if text is None or sha256((prev + text).encode()).hexdigest() != digest:
                        batches.settle()  # the connection is ours again
                        self.slow += 1  # stored in a form append never writes: the definition decides
                        if (problem := strict_problem(conn, seq)) is not None:
                            return problem
                        if _typed_hash(conn, seq, prev) != digest:
                            return edit_problem(seq)
                    prev = digest
                    if seq in at and (problem := book.check(seq, digest)) is not None:
                        expected += 1  # the entry itself is sound; the checkpoint over it is not
                        return problem
                    expected += 1
            return None
        finally:
            batches.close()
            self.prev, self.expected = prev, expected


def verify_database(session: Session, external: Checkpoint | None = None, *, batch: int = 5000) -> VerifyResult:
    """Re-walk the whole chain in this session's database and report the first problem.

    Works under any isolation level while others append: the head and the highest entry are read in one
    statement, the walk stops at that head, and a checkpoint beyond it counts as evidence of a truncated
    tail only if the head has still not reached it afterwards (otherwise the walk goes on to it).
    """
    started = time.perf_counter()
    conn = session.connection()
    head_seq, head_hash, max_seq = head_row(conn)
    book = CheckpointBook(stored_checkpoints(conn), external)
    state = _Walk(conn, book, batch)

    def result(problem: Problem | None) -> VerifyResult:
        return VerifyResult(
            ok=problem is None,
            source="database",
            size=head_seq or 0,
            head_hash=head_hash or GENESIS_HASH,
            entries_checked=state.last,
            checkpoints_checked=book.checked,
            seconds=time.perf_counter() - started,
            problem=problem,
            external_checkpoint=external,
            key_ids=book.key_ids,
            slow_entries=state.slow,
        )

    if external is not None and (problem := signature_problem(EXTERNAL, external)) is not None:
        return result(problem)
    if (problem := book.check(0, GENESIS_HASH)) is not None:
        return result(problem)
    while True:
        problem = state.walk(max_seq if head_seq is None else head_seq)
        problem = problem or _head_problem(head_seq, head_hash, max_seq, state.last, state.prev)
        pending = book.beyond(state.last)
        if problem is not None or not pending:
            return result(problem)
        now_seq, now_hash, now_max = head_row(conn)
        if all(cp.size > (now_seq or 0) for _, cp in pending):
            label, cp = pending[0]
            return result(beyond_problem(label, cp, state.last))
        head_seq, head_hash, max_seq = now_seq, now_hash, now_max  # appended meanwhile: walk on to the new head


def _head_problem(
    head_seq: int | None, head_hash: str | None, max_seq: int, last: int, last_hash: str
) -> Problem | None:
    if head_seq is None:
        if last == 0:
            return None
        return Problem(1, "head_mismatch", f"the chain head row is missing but there are {last} entries")
    if last < head_seq:
        missing = f"entry {head_seq}" if last + 1 == head_seq else f"entries {last + 1}..{head_seq}"
        return Problem(
            last + 1,
            "head_mismatch",
            f"the head records {head_seq} entries but the chain ends at entry {last}: {missing} deleted "
            "(truncated tail)",
        )
    if head_hash != last_hash:
        return Problem(
            last,
            "head_mismatch",
            f"the head's hash differs from entry {last}'s hash: the last entry was replaced, or the head edited",
        )
    if max_seq > head_seq:
        return Problem(
            head_seq + 1,
            "head_mismatch",
            f"entries {head_seq + 1}..{max_seq} lie beyond the chain head: added outside the ledger service",
        )
    return None
