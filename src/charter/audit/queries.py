"""Reading the audit trail: entries, checkpoints, verification and the export (permission checked, no writes)."""

from __future__ import annotations

import tempfile
from datetime import datetime
from typing import IO, Any, TextIO

from sqlalchemy import func, select

from charter.audit.schemas import EntryRead
from charter.context import Ctx
from charter.kit.clock import isoformat
from charter.kit.db import read_only
from charter.kit.errors import NotFound
from charter.kit.pagination import Page
from charter.ledger.checks import Checkpoint, VerifyResult
from charter.ledger.export import ExportSummary, write_export
from charter.ledger.models import LedgerCheckpoint, LedgerEntry
from charter.ledger.rules import to_jsonable
from charter.ledger.signing import load_or_create_signer
from charter.ledger.verify import verify_database


def list_entries(
    ctx: Ctx,
    *,
    entity_type: str | None = None,
    entity_id: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    descending: bool = True,
    limit: int = 50,
    cursor: int | None = None,
) -> Page[EntryRead]:
    """Entries matching the filters, newest first unless ascending; keyset-paginated by sequence number."""
    ctx.require("audit:read")
    conditions: list[Any] = []
    if entity_type:
        conditions.append(LedgerEntry.entity_type == entity_type)
    if entity_id:
        conditions.append(LedgerEntry.entity_id == entity_id)
    if actor:
        conditions.append(LedgerEntry.actor.contains(actor))
    if action:
        conditions.append(LedgerEntry.action.startswith(action))
    if since:
        conditions.append(LedgerEntry.ts >= since)
    if until:
        conditions.append(LedgerEntry.ts < until)
    if cursor is not None:
        conditions.append(LedgerEntry.seq < cursor if descending else LedgerEntry.seq > cursor)
    stmt = select(LedgerEntry).where(*conditions)
    stmt = stmt.order_by(LedgerEntry.seq.desc() if descending else LedgerEntry.seq)
    rows = list(ctx.session.execute(stmt.limit(limit + 1)).scalars())
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = str(rows[-1].seq)
    return Page[EntryRead](items=[EntryRead.model_validate(r) for r in rows], next_cursor=next_cursor)


def read_entry(ctx: Ctx, seq: int) -> LedgerEntry:
    ctx.require("audit:read")
    entry = ctx.session.get(LedgerEntry, seq)
    if entry is None:
        raise NotFound(f"no ledger entry with sequence number {seq}")
    return entry


def latest_checkpoint(ctx: Ctx) -> LedgerCheckpoint:
    ctx.require("audit:read")
    cp = ctx.session.execute(
        select(LedgerCheckpoint).order_by(LedgerCheckpoint.size.desc(), LedgerCheckpoint.id.desc()).limit(1)
    ).scalar_one_or_none()
    if cp is None:
        raise NotFound("no checkpoint yet; create one with POST /api/v1/audit/checkpoints")
    return cp


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


def export_spool(ctx: Ctx) -> tuple[IO[str], str]:
    """The export read in one read-only transaction (one snapshot; no SQLite write lock) into a spool, and a
    file name for it: the transaction can end before a download starts, however slow the client."""
    spool = tempfile.SpooledTemporaryFile(  # noqa: SIM115 (the caller closes it once sent)
        max_size=8 * 1024 * 1024, mode="w+", encoding="utf-8", newline="\n"
    )
    read_only(ctx.session)
    try:
        export_ledger(ctx, spool)  # type: ignore[arg-type]
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return spool, f"charter-ledger-{isoformat(ctx.now())[:19].replace(':', '')}.jsonl"


def action_counts(ctx: Ctx, since: datetime, *, limit: int = 50) -> list[tuple[str, str, int]]:
    """[(action, entity type, how many)] of the entries since `since`, most frequent first (what changed
    since someone's last visit, grouped)."""
    ctx.require("audit:read")
    n = func.count().label("n")
    rows = ctx.session.execute(
        select(LedgerEntry.action, LedgerEntry.entity_type, n)
        .where(LedgerEntry.ts > since)
        .group_by(LedgerEntry.action, LedgerEntry.entity_type)
        .order_by(n.desc(), LedgerEntry.action)
        .limit(limit)
    )
    return [(a, t, int(c)) for a, t, c in rows]


def ledger_size(ctx: Ctx) -> int:
    ctx.require("audit:read")
    return int(ctx.session.execute(select(func.coalesce(func.max(LedgerEntry.seq), 0))).scalar_one())
