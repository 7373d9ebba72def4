"""Appending to the ledger. Every state change of every module goes through record()."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import inspect, select

from charter.ledger.models import LedgerCheckpoint, LedgerEntry, LedgerHead
from charter.ledger.rules import GENESIS_HASH, checkpoint_message, entry_hash, to_jsonable
from charter.ledger.signing import load_or_create_signer

if TYPE_CHECKING:
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


def _lock_head(session: Session) -> LedgerHead:
    stmt = select(LedgerHead).where(LedgerHead.id == 1)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    head = session.execute(stmt).scalar_one_or_none()
    if head is None:  # a database created without the migration's genesis row
        head = LedgerHead(id=1, seq=0, hash=GENESIS_HASH)
        session.add(head)
        session.flush()
    return head


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
    head = _lock_head(session)
    # Expire so a locked re-read sees the committed head, never a stale identity-map copy.
    session.refresh(head)
    values: dict[str, Any] = {
        "seq": head.seq + 1,
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
    hashed = dict(values, ts=to_jsonable(values["ts"]))
    digest = entry_hash(head.hash, hashed)
    entry = LedgerEntry(**values, prev_hash=head.hash, hash=digest)
    session.add(entry)
    head.seq = entry.seq
    head.hash = digest
    session.flush()
    if entry.seq % ctx.settings.checkpoint_every == 0:
        make_checkpoint(ctx)
    return entry


def make_checkpoint(ctx: Ctx) -> LedgerCheckpoint:
    """Sign (size, head hash) of the chain as it stands in this transaction."""
    head = _lock_head(ctx.session)
    signer = load_or_create_signer(ctx.settings.ledger_key_path)
    cp = LedgerCheckpoint(
        size=head.seq,
        head_hash=head.hash,
        created_at=ctx.clock.now(),
        key_id=signer.key_id,
        public_key=signer.public_key,
        signature=signer.sign(checkpoint_message(head.seq, head.hash)),
    )
    ctx.session.add(cp)
    ctx.session.flush()
    return cp
