"""HTTP API of evidence: multipart upload, links, reading, downloading."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.responses import StreamingResponse

from charter.deps import CtxDep
from charter.errors import ValidationFailed
from charter.evidence import service
from charter.evidence.schemas import EvidenceRead, LinkCreate
from charter.pagination import Page
from charter.routing import API

router = APIRouter(prefix=f"{API}/evidence", tags=["evidence"])


def _attach(ctx: CtxDep, evidence_id: int, run_id: int | None, item_id: str | None) -> None:
    if run_id is None and item_id is None:
        return
    if run_id is None or not item_id:
        raise ValidationFailed(
            "give both run_id and item_id to attach the evidence to a run item",
            errors=[{"loc": ["run_id" if run_id is None else "item_id"], "msg": "required with the other"}],
        )
    from charter.procedures.service import link_evidence

    link_evidence(ctx, run_id, item_id, evidence_id)


@router.post(
    "", status_code=201, summary="Upload a file as evidence (multipart), optionally attaching it to a run item"
)
def upload(
    ctx: CtxDep,
    file: Annotated[UploadFile, File(description="the evidence file; its type is detected from its content")],
    title: Annotated[str | None, Form(max_length=300)] = None,
    description: Annotated[str, Form(max_length=5_000)] = "",
    expires_at: Annotated[datetime | None, Form()] = None,
    run_id: Annotated[int | None, Form()] = None,
    item_id: Annotated[str | None, Form(max_length=64)] = None,
) -> EvidenceRead:
    evidence = service.add_file(
        ctx, file.file, file.filename or "", title=title, description=description, expires_at=expires_at
    )
    _attach(ctx, evidence.id, run_id, item_id)
    ctx.commit()
    return service.to_read(evidence, ctx.now())


@router.post("/links", status_code=201, summary="Add a link (URL) as evidence, optionally attaching it to a run item")
def add_link(body: LinkCreate, ctx: CtxDep) -> EvidenceRead:
    evidence = service.add_link(ctx, body)
    _attach(ctx, evidence.id, body.run_id, body.item_id)
    ctx.commit()
    return service.to_read(evidence, ctx.now())


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
