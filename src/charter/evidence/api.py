"""HTTP API of evidence: reading, listing, downloading. (Adding evidence, optionally to a run item, is
charter.procedures.api: it attaches to procedure runs.)"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from charter.access.deps import CtxDep
from charter.evidence import service
from charter.evidence.schemas import EvidenceRead
from charter.kit.pagination import Page
from charter.kit.routing import API, threaded

router = APIRouter(prefix=f"{API}/evidence", tags=["evidence"])


@router.get("", summary="List evidence")
def list_evidence(
    ctx: CtxDep,
    sha256: Annotated[str | None, Query(max_length=64)] = None,
    expired: bool | None = None,
    sort: str = "-added_at",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> Page[EvidenceRead]:
    items, next_cursor = service.list_evidence(
        ctx, sha256=sha256, expired=expired, sort=sort, limit=limit, cursor=cursor
    )
    return Page[EvidenceRead](items=items, next_cursor=next_cursor)


@router.get("/{evidence_id}", summary="Read one piece of evidence")
def read_evidence(evidence_id: int, ctx: CtxDep) -> EvidenceRead:
    return service.read_evidence(ctx, evidence_id)


@router.get("/{evidence_id}/content", summary="Download an evidence file", response_class=StreamingResponse)
@threaded  # a long read: never on the event loop
def download(evidence_id: int, ctx: CtxDep) -> StreamingResponse:
    evidence, chunks = service.open_content(ctx, evidence_id)
    filename = evidence.filename or f"evidence-{evidence.id}"
    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_")
    return StreamingResponse(
        chunks,
        media_type=evidence.media_type or "application/octet-stream",
        headers={
            "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}",
            "Content-Length": str(evidence.size_bytes),
            "X-Content-Type-Options": "nosniff",
            "ETag": f'"{evidence.sha256}"',
            "X-Evidence-SHA256": evidence.sha256 or "",
        },
    )
