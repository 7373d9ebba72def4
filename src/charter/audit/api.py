from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import IO, Annotated

from fastapi import APIRouter, Body, Query
from fastapi.responses import StreamingResponse

from charter.access.deps import CtxDep
from charter.audit import queries, service
from charter.audit.schemas import CheckpointRead, EntryRead, VerifyRead, VerifyRequest
from charter.kit.db import read_only
from charter.kit.pagination import Page
from charter.kit.routing import API, threaded

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
    return queries.list_entries(
        ctx,
        entity_type=entity_type,
        entity_id=entity_id,
        actor=actor,
        action=action,
        since=since,
        until=until,
        descending=sort.startswith("-"),
        limit=limit,
        cursor=cursor,
    )


@router.get("/entries/{seq}", summary="Read one ledger entry")
def read_entry(seq: int, ctx: CtxDep) -> EntryRead:
    return EntryRead.model_validate(queries.read_entry(ctx, seq))


@router.get("/checkpoints/latest", summary="The latest signed checkpoint")
def latest_checkpoint(ctx: CtxDep) -> CheckpointRead:
    return CheckpointRead.model_validate(queries.latest_checkpoint(ctx))


@router.post("/checkpoints", status_code=201, summary="Sign a checkpoint of the chain as it stands now")
def create_checkpoint(ctx: CtxDep) -> CheckpointRead:
    cp = service.create_checkpoint(ctx)
    ctx.commit()
    return CheckpointRead.model_validate(cp)


@router.post("/verify", summary="Re-walk the chain and its signatures; report the first broken entry")
def verify(ctx: CtxDep, body: Annotated[VerifyRequest | None, Body()] = None) -> VerifyRead:
    external = body.checkpoint.to_checkpoint() if body and body.checkpoint else None
    read_only(ctx.session)  # one consistent snapshot; on SQLite, writers are not held up while it walks
    return VerifyRead.of(queries.verify_ledger(ctx, external))


@router.get(
    "/export",
    summary="Export the ledger as JSON Lines (verifies offline: charter audit verify --file)",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}}}},
)
@threaded  # a long read: never on the event loop
def export(ctx: CtxDep) -> StreamingResponse:
    spool, name = queries.export_spool(ctx)
    return StreamingResponse(
        chunks(spool),
        media_type="application/x-ndjson",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def chunks(spool: IO[str]) -> Iterator[bytes]:
    try:
        while chunk := spool.read(64 * 1024):
            yield chunk.encode()
    finally:
        spool.close()
