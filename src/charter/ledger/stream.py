"""Streaming the chain for verification and export: batches of (seq, prev_hash, hash, canonical text).

The canonical text of an entry is what its hash is defined over (`rules.entry_hash`). It is assembled from
what is stored, without parsing and re-encoding JSON: before/after are stored as canonical JSON text already
(CanonicalJSON), the string fields are JSON-quoted with the encoder's own escaping, the time is formatted as
`clock.isoformat`. On PostgreSQL the server assembles it (`to_json` escapes exactly like Python's encoder,
checked character by character in the tests), so the client only hashes; on SQLite, whose SQL functions are
slower than Python here, Python assembles it from the raw columns.

That is sound — it trusts the database no more than reading the rows at all does. The text cannot be the
same for two different sets of stored fields: every string is quoted (so where it ends is fixed), and
before/after, the two raw JSON texts that meet, are valid JSON on PostgreSQL; on SQLite, which keeps JSON
unchecked, a row whose before/after hold the text that separates them gets no text. So a text that hashes
to the entry's hash means the stored fields are exactly the ones hashed. An entry stored any other way
(another tool, an older Charter, tampering) gets None, or a text that does not hash right; the caller then
re-reads it through the ORM types and hashes it with `rules.entry_hash`, which decides.

Rows come straight from the driver's cursor (plain tuples). On PostgreSQL that is a named (server-side)
binary cursor, and `Prefetch` has the server work on the next batch while the caller hashes this one.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from json.encoder import encode_basestring
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from sqlalchemy import Text, cast, func, select

from charter.ledger.models import LedgerEntry

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement, Connection

T = TypeVar("T")
E = LedgerEntry.__table__.c
Batch = list[tuple[Any, ...]]  # (seq, prev_hash, hash, canonical text or None)
ISO_FORMAT = 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'  # clock.isoformat, in PostgreSQL's to_char
BOUNDARY = ',"before":'
_quote = encode_basestring  # what the canonical encoder (ensure_ascii=False) uses for strings
_cursor_ids = itertools.count(1)


def postgres_text() -> ColumnElement[Any]:
    """The entry's canonical text, assembled by PostgreSQL (concat: one copy; every part is non-NULL)."""

    def q(col: Any) -> ColumnElement[Any]:
        return cast(func.to_json(col), Text)

    def json_or_null(col: Any) -> ColumnElement[Any]:
        return func.coalesce(cast(col, Text), "null")

    ts = func.to_char(func.timezone("UTC", E.ts), ISO_FORMAT)
    return func.concat(
        '{"action":', q(E.action), ',"actor":', q(E.actor),
        ',"after":', json_or_null(E.after), BOUNDARY, json_or_null(E.before),
        ',"entity_id":', q(E.entity_id), ',"entity_type":', q(E.entity_type),
        ',"reason":', func.coalesce(q(E.reason), "null"), ',"request_id":', func.coalesce(q(E.request_id), "null"),
        ',"seq":', cast(E.seq, Text), ',"ts":"', ts, '"}',  # digits and fixed punctuation: nothing to escape
    )  # fmt: skip


def sqlite_text(
    seq: Any,
    ts: Any,
    actor: Any,
    action: Any,
    entity_type: Any,
    entity_id: Any,
    before: Any,
    after: Any,
    request_id: Any,
    reason: Any,
) -> str | None:
    """The canonical text from SQLite's raw column values, or None if any is not stored as append stores it.

    ts is SQLAlchemy's "YYYY-MM-DD HH:MM:SS.ffffff" (UTC); before/after are text, a BLOB (a bare number, see
    CanonicalJSON) or NULL.
    """
    try:
        after = "null" if after is None else after.decode() if type(after) is bytes else after
        before = "null" if before is None else before.decode() if type(before) is bytes else before
        if BOUNDARY in after or BOUNDARY in before or len(ts) != 26 or ts[10] != " ":  # TypeError unless str
            return None
        return (
            f'{{"action":{_quote(action)},"actor":{_quote(actor)},"after":{after},"before":{before},'
            f'"entity_id":{_quote(entity_id)},"entity_type":{_quote(entity_type)},'
            f'"reason":{"null" if reason is None else _quote(reason)},'
            f'"request_id":{"null" if request_id is None else _quote(request_id)},'
            f'"seq":{int.__repr__(seq)},"ts":{_quote(f"{ts[:10]}T{ts[11:]}Z")}}}'
        )
    except (TypeError, UnicodeDecodeError):
        return None


def entry_rows(conn: Connection, upto: int, batch: int, after: int = 0) -> Iterator[Batch]:
    """Entries after+1..upto in order, in batches of (seq, prev_hash, hash, canonical text or None)."""
    postgres = conn.dialect.name == "postgresql"
    if postgres:
        stmt = select(E.seq, E.prev_hash, E.hash, postgres_text())
    else:
        stmt = select(E.seq, E.prev_hash, E.hash, E.ts, E.actor, E.action, E.entity_type, E.entity_id)
        stmt = stmt.add_columns(E.before, E.after, E.request_id, E.reason)
    stmt = stmt.where(E.seq > after, E.seq <= upto).order_by(E.seq)
    # Compiled by SQLAlchemy Core, run on the driver's cursor: plain tuples, no per-row result objects.
    sql = str(stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))  # binds: two integers
    driver = conn.connection.driver_connection
    assert driver is not None
    cursor = (
        driver.cursor(name=f"charter_ledger_walk_{next(_cursor_ids)}", binary=True) if postgres else driver.cursor()
    )
    try:
        cursor.execute(sql)
        while rows := cursor.fetchmany(batch):
            yield rows if postgres else [(r[0], r[1], r[2], sqlite_text(r[0], *r[3:])) for r in rows]
    finally:
        cursor.close()


class Prefetch(Generic[T]):
    """Batches from `source`, the next one fetched in a background thread while the caller works on this one.

    psycopg lets go of the GIL while it waits for PostgreSQL, so the server's work overlaps the hashing.
    The connection is only ever used by one thread at a time: `settle()` waits for the fetch in flight
    before the caller uses the connection itself. With threaded=False it is a plain iterator.
    """

    def __init__(self, source: Iterator[T], *, threaded: bool = True) -> None:
        self._source = source
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger-prefetch") if threaded else None
        self._next: Future[T | None] | None = self._pool.submit(next, source, None) if self._pool else None

    def __iter__(self) -> Iterator[T]:
        if self._pool is None or self._next is None:
            yield from self._source
            return
        while (batch := self._next.result()) is not None:
            self._next = self._pool.submit(next, self._source, None)
            yield batch

    def settle(self) -> None:
        if self._next is not None:
            wait([self._next])

    def close(self) -> None:
        self.settle()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        close = getattr(self._source, "close", None)
        if close is not None:
            close()
