"""Appending to the ledger. Every state change of every module goes through record()."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TextIO, cast

from sqlalchemy import insert, inspect, select, update

from charter.ledger.checks import Checkpoint, VerifyResult
from charter.ledger.export import ExportSummary, write_export
from charter.ledger.models import LedgerCheckpoint, LedgerEntry, LedgerHead
from charter.ledger.rules import GENESIS_HASH, checkpoint_message, entry_hash, to_jsonable
from charter.ledger.signing import load_or_create_signer
from charter.ledger.verify import verify_database

if TYPE_CHECKING:
    from sqlalchemy import Table
    from sqlalchemy.orm import Session

    from charter.context import Ctx

SECRET_FIELDS = frozenset({"password_hash", "token_hash", "secret", "signing_secret"})


def snapshot(obj: Any, exclude: frozenset[str] = frozenset()) -> dict[str, Any]:
    """A JSON-safe dict of an ORM object's column values, secrets left out."""
    mapper = inspect(obj).mapper
    return {
        attr.key: to_jsonable(getattr(obj, attr.key))
        for attr in mapper.column_attrs
        if attr.key not in SECRET_FIELDS and attr.key not in exclude
    }


_HEAD = cast("Table", LedgerHead.__table__)


def _lock_head(session: Session) -> tuple[int, str]:
    """The head (seq, hash), locked for the rest of this transaction and read from the database.

    PostgreSQL: SELECT ... FOR UPDATE, so appenders from any number of processes queue on the head and each
    sees the head its predecessor committed. SQLite: every transaction starts with BEGIN IMMEDIATE
    (charter.db), which already serialises writers. Core statements: no ORM copy of the head can go stale.
    """
    stmt = select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == 1)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    head = session.execute(stmt).one_or_none()
    if head is None:  # a database created without the migration's genesis row
        session.execute(insert(_HEAD).values(id=1, seq=0, hash=GENESIS_HASH))
        return _lock_head(session)
    return head[0], head[1]


def append(
    ctx: Ctx,
    action: str,
    entity_type: str,
    entity_id: str | int,
    before: Any = None,
    after: Any = None,
    reason: str | None = None,
) -> LedgerEntry:
    """Append one entry in the caller's transaction; it commits with the change or not at all."""
    session = ctx.session
    head_seq, head_hash = _lock_head(session)
    values: dict[str, Any] = {
        "seq": head_seq + 1,
        "ts": ctx.clock.now(),
        "actor": ctx.principal.actor,
        "action": action,
        "entity_type": entity_type,
        "entity_id": str(entity_id),
        "before": to_jsonable(before),
        "after": to_jsonable(after),
        "request_id": ctx.request_id,
        "reason": reason,
    }
    digest = entry_hash(head_hash, dict(values, ts=to_jsonable(values["ts"])))
    entry = LedgerEntry(**values, prev_hash=head_hash, hash=digest)
    session.add(entry)
    session.flush()
    session.execute(update(_HEAD).where(_HEAD.c.id == 1).values(seq=entry.seq, hash=digest))
    if entry.seq % ctx.settings.checkpoint_every == 0:
        make_checkpoint(ctx)
    return entry


def make_checkpoint(ctx: Ctx) -> LedgerCheckpoint:
    """Sign (size, head hash) of the chain as it stands in this transaction."""
    size, head_hash = _lock_head(ctx.session)
    signer = load_or_create_signer(ctx.settings.ledger_key_path)
    cp = LedgerCheckpoint(
        size=size,
        head_hash=head_hash,
        created_at=ctx.clock.now(),
        key_id=signer.key_id,
        public_key=signer.public_key,
        signature=signer.sign(checkpoint_message(size, head_hash)),
    )
    ctx.session.add(cp)
    ctx.session.flush()
    return cp


def create_checkpoint(ctx: Ctx) -> LedgerCheckpoint:
    """Sign the chain as it stands now, on demand (`charter audit checkpoint`, POST /audit/checkpoints).

    Not itself a ledger entry: recording it would move the head past what it signs.
    """
    ctx.require("audit:checkpoint")
    return make_checkpoint(ctx)


def checkpoint_data(cp: LedgerCheckpoint) -> Checkpoint:
    """The JSON a user keeps outside the database."""
    return Checkpoint(cp.size, cp.head_hash, to_jsonable(cp.created_at), cp.key_id, cp.public_key, cp.signature)


def verify_ledger(ctx: Ctx, external: Checkpoint | None = None) -> VerifyResult:
    """Re-walk the chain and the signatures; against `external` too when given."""
    ctx.require("audit:verify")
    return verify_database(ctx.session, external)


def export_ledger(ctx: Ctx, out: TextIO) -> ExportSummary:
    """Write the JSON Lines export (header signed now, entries, checkpoints) to `out`."""
    ctx.require("audit:verify")
    signer = load_or_create_signer(ctx.settings.ledger_key_path)
    return write_export(ctx.session, signer, ctx.now(), out)
