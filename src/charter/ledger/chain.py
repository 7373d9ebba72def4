"""Appending to the ledger: the one primitive every state change of every module goes through.

It takes the session, the actor, the time, the request id and the checkpoint settings — no Ctx: the
ledger sits below charter.context (which calls `append` from `Ctx.record`), so it never imports it.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, insert, inspect, select, update
from sqlalchemy.orm import Session

from charter.ledger.models import LedgerCheckpoint, LedgerEntry, LedgerHead
from charter.ledger.rules import GENESIS_HASH, checkpoint_message, entry_hash, to_jsonable
from charter.ledger.signing import load_or_create_signer

SECRET_FIELDS = frozenset({"password_hash", "token_hash", "secret", "signing_secret"})


def snapshot(obj: Any, exclude: frozenset[str] = frozenset()) -> dict[str, Any]:
    """A JSON-safe dict of an ORM object's column values, secrets left out."""
    mapper = inspect(obj).mapper
    return {
        attr.key: to_jsonable(getattr(obj, attr.key))
        for attr in mapper.column_attrs
        if attr.key not in SECRET_FIELDS and attr.key not in exclude
    }


_HEAD = cast(Table, LedgerHead.__table__)


def lock_head(session: Session) -> tuple[int, str]:
    """The head (seq, hash), locked for the rest of this transaction and read from the database.

    PostgreSQL: SELECT ... FOR UPDATE, so appenders from any number of processes queue on the head and each
    sees the head its predecessor committed. SQLite: every transaction starts with BEGIN IMMEDIATE
    (charter.kit.sqlite), which already serialises writers. Core statements: no ORM copy of the head can go
    stale.
    """
    stmt = select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == 1)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    head = session.execute(stmt).one_or_none()
    if head is None:  # a database created without the migration's genesis row
        session.execute(insert(_HEAD).values(id=1, seq=0, hash=GENESIS_HASH))
        return lock_head(session)
    return head[0], head[1]


def append(
    session: Session,
    *,
    actor: str,
    ts: datetime,
    action: str,
    entity_type: str,
    entity_id: str | int,
    before: Any = None,
    after: Any = None,
    reason: str | None = None,
    request_id: str | None = None,
    checkpoint_every: int = 0,
    key_path: Path | None = None,
) -> LedgerEntry:
    """Append one entry in the caller's transaction; it commits with the change or not at all. Every
    `checkpoint_every` entries a checkpoint is signed with the key at `key_path`."""
    head_seq, head_hash = lock_head(session)
    values: dict[str, Any] = {
        "seq": head_seq + 1,
        "ts": ts,
        "actor": actor,
        "action": action,
        "entity_type": entity_type,
        "entity_id": str(entity_id),
        "before": to_jsonable(before),
        "after": to_jsonable(after),
        "request_id": request_id,
        "reason": reason,
    }
    digest = entry_hash(head_hash, dict(values, ts=to_jsonable(values["ts"])))
    entry = LedgerEntry(**values, prev_hash=head_hash, hash=digest)
    session.add(entry)
    session.flush()
    session.execute(update(_HEAD).where(_HEAD.c.id == 1).values(seq=entry.seq, hash=digest))
    if checkpoint_every and key_path is not None and entry.seq % checkpoint_every == 0:
        sign_checkpoint(session, key_path, ts)
    return entry


def sign_checkpoint(session: Session, key_path: Path, now: datetime) -> LedgerCheckpoint:
    """Sign (size, head hash) of the chain as it stands in this transaction."""
    size, head_hash = lock_head(session)
    signer = load_or_create_signer(key_path)
    cp = LedgerCheckpoint(
        size=size,
        head_hash=head_hash,
        created_at=now,
        key_id=signer.key_id,
        public_key=signer.public_key,
        signature=signer.sign(checkpoint_message(size, head_hash)),
    )
    session.add(cp)
    session.flush()
    return cp
