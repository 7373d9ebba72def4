from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import datetime
from typing import IO, Annotated, Any

from fastapi import APIRouter, Body, Query
from fastapi.responses import StreamingResponse
from sqlalchemy import select

from charter.clock import isoformat
from charter.db import read_only
from charter.deps import CtxDep
from charter.errors import NotFound
from charter.ledger import service
from charter.ledger.models import LedgerCheckpoint, LedgerEntry
from charter.ledger.schemas import CheckpointRead, EntryRead, VerifyRead, VerifyRequest
from charter.pagination import Page
from charter.routing import API

router = APIRouter(prefix=f"{API}/audit", tags=["audit"])


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


@router.post("/checkpoints", status_code=201, summary="Sign a checkpoint of the chain as it stands now")
def create_checkpoint(ctx: CtxDep) -> CheckpointRead:
    cp = service.create_checkpoint(ctx)
    ctx.commit()
    return CheckpointRead.model_validate(cp)


@router.post("/verify", summary="Re-walk the chain and its signatures; report the first broken entry")
def verify(ctx: CtxDep, body: Annotated[VerifyRequest | None, Body()] = None) -> VerifyRead:
    external = body.checkpoint.to_checkpoint() if body and body.checkpoint else None
    read_only(ctx.session)  # one consistent snapshot; on SQLite, writers are not held up while it walks
    return VerifyRead.of(service.verify_ledger(ctx, external))


@router.get(
    "/export",
    summary="Export the ledger as JSON Lines (verifies offline: charter audit verify --file)",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}}}},
)
def export(ctx: CtxDep) -> StreamingResponse:
    # Read in one read-only transaction (one snapshot; no SQLite write lock) into a spool, which is then sent:
    # the transaction ends before the download starts, however slow the client.
    spool = tempfile.SpooledTemporaryFile(  # noqa: SIM115 (closed by _chunks once sent)
        max_size=8 * 1024 * 1024, mode="w+", encoding="utf-8", newline="\n"
    )
    read_only(ctx.session)
    try:
        service.export_ledger(ctx, spool)  # type: ignore[arg-type]
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    name = f"charter-ledger-{isoformat(ctx.now())[:19].replace(':', '')}.jsonl"
    return StreamingResponse(
        _chunks(spool),
        media_type="application/x-ndjson",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _chunks(spool: IO[str]) -> Iterator[bytes]:
    try:
        while chunk := spool.read(64 * 1024):
            yield chunk.encode()
    finally:
        spool.close()
