from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import select

from charter.deps import CtxDep
from charter.errors import NotFound
from charter.ledger.models import LedgerCheckpoint, LedgerEntry
from charter.ledger.schemas import CheckpointRead, EntryRead
from charter.pagination import Page

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("/entries", summary="List ledger entries, newest first unless sort=seq")
def list_entries(
    ctx: CtxDep,
    entity_type: str | None = None,
    entity_id: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    sort: Annotated[str, Query(pattern=r"^-?seq$")] = "-seq",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[int | None, Query(description="the next_cursor of the previous page")] = None,
) -> Page[EntryRead]:
    ctx.require("audit:read")
    stmt = select(LedgerEntry)
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
    desc = sort.startswith("-")
    if cursor is not None:
        conditions.append(LedgerEntry.seq < cursor if desc else LedgerEntry.seq > cursor)
    stmt = stmt.where(*conditions).order_by(LedgerEntry.seq.desc() if desc else LedgerEntry.seq)
    rows = list(ctx.session.execute(stmt.limit(limit + 1)).scalars())
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = str(rows[-1].seq)
    return Page[EntryRead](items=[EntryRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/entries/{seq}", summary="Read one ledger entry")
def read_entry(seq: int, ctx: CtxDep) -> EntryRead:
    ctx.require("audit:read")
    entry = ctx.session.get(LedgerEntry, seq)
    if entry is None:
        raise NotFound(f"no ledger entry with sequence number {seq}")
    return EntryRead.model_validate(entry)


@router.get("/checkpoints/latest", summary="The latest signed checkpoint")
def latest_checkpoint(ctx: CtxDep) -> CheckpointRead:
    ctx.require("audit:read")
    cp = ctx.session.execute(
        select(LedgerCheckpoint).order_by(LedgerCheckpoint.size.desc(), LedgerCheckpoint.id.desc()).limit(1)
    ).scalar_one_or_none()
    if cp is None:
        raise NotFound("no checkpoint yet; create one with POST /api/v1/audit/checkpoints")
    return CheckpointRead.model_validate(cp)
