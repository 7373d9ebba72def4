"""Evidence use cases: add a file (type-checked, size-limited, stored once by SHA-256) or a link; read; download."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, BinaryIO

from sqlalchemy import select

from charter.evidence.models import Evidence
from charter.evidence.rules import HEAD_BYTES, check_allowed, detect_type, is_expired, safe_filename, too_large_message
from charter.evidence.schemas import EvidenceRead, LinkCreate
from charter.evidence.store import CHUNK, BlobTooLarge, store_for
from charter.kit.errors import NotFound, PayloadTooLarge, ValidationFailed
from charter.kit.pagination import paginate
from charter.ledger.chain import snapshot

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from charter.context import Ctx

SORTABLE = {"added_at": Evidence.added_at, "title": Evidence.title, "id": Evidence.id}


def _check_expiry(ctx: Ctx, expires_at: datetime | None) -> None:
    if expires_at is not None and is_expired(expires_at, ctx.now()):
        raise ValidationFailed(
            f"expires_at {expires_at.isoformat()} is not in the future; evidence must be valid when added",
            errors=[{"loc": ["expires_at"], "msg": "must be in the future"}],
        )


def _chunks(head: bytes, stream: BinaryIO) -> Iterator[bytes]:
    if head:
        yield head
    while chunk := stream.read(CHUNK):
        yield chunk


def add_file(
    ctx: Ctx,
    stream: BinaryIO,
    filename: str,
    *,
    title: str | None = None,
    description: str = "",
    expires_at: datetime | None = None,
) -> Evidence:
    """Check the type from the content, store the bytes once by SHA-256, record the evidence.

    A refused upload (type, size) raises before anything is stored or recorded.
    """
    ctx.require("evidence:write")
    if not (filename or "").strip():
        raise ValidationFailed("the file needs a name", errors=[{"loc": ["file"], "msg": "missing file name"}])
    name = safe_filename(filename)
    _check_expiry(ctx, expires_at)
    title = (title or "").strip() or name
    if len(title) > 300:
        raise ValidationFailed("title: at most 300 characters", errors=[{"loc": ["title"], "msg": "too long"}])
    head = stream.read(HEAD_BYTES)
    if not head:
        raise ValidationFailed(f"'{name}' is empty", errors=[{"loc": ["file"], "msg": "empty file"}])
    media_type = detect_type(head, name)
    check_allowed(media_type, name, ctx.settings.evidence_allowed_types)
    limit = ctx.settings.evidence_max_bytes
    try:
        blob = store_for(ctx.settings).put(_chunks(head, stream), limit)
    except BlobTooLarge:
        raise PayloadTooLarge(too_large_message(name, limit), limit=limit) from None
    evidence = Evidence(
        kind="file",
        title=title,
        description=description,
        sha256=blob.sha256,
        size_bytes=blob.size,
        media_type=media_type,
        filename=name,
        url=None,
        added_by_id=ctx.principal.user_id,
        added_by=ctx.principal.name,
        added_at=ctx.now(),
        expires_at=expires_at,
    )
    ctx.session.add(evidence)
    ctx.session.flush()
    ctx.record("evidence.added", "evidence", evidence.id, after=snapshot(evidence))
    return evidence


def add_link(ctx: Ctx, data: LinkCreate) -> Evidence:
    ctx.require("evidence:write")
    _check_expiry(ctx, data.expires_at)
    evidence = Evidence(
        kind="link",
        title=data.title,
        description=data.description,
        sha256=None,
        size_bytes=None,
        media_type=None,
        filename=None,
        url=str(data.url),
        added_by_id=ctx.principal.user_id,
        added_by=ctx.principal.name,
        added_at=ctx.now(),
        expires_at=data.expires_at,
    )
    ctx.session.add(evidence)
    ctx.session.flush()
    ctx.record("evidence.added", "evidence", evidence.id, after=snapshot(evidence))
    return evidence


def get_evidence(session: Session, evidence_id: int) -> Evidence:
    evidence = session.get(Evidence, evidence_id)
    if evidence is None:
        raise NotFound(f"no evidence with id {evidence_id}", entity="evidence")
    return evidence


def to_read(evidence: Evidence, now: datetime) -> EvidenceRead:
    return EvidenceRead(
        id=evidence.id,
        kind="link" if evidence.kind == "link" else "file",
        title=evidence.title,
        description=evidence.description,
        sha256=evidence.sha256,
        size_bytes=evidence.size_bytes,
        media_type=evidence.media_type,
        filename=evidence.filename,
        url=evidence.url,
        added_by=evidence.added_by,
        added_at=evidence.added_at,
        expires_at=evidence.expires_at,
        expired=is_expired(evidence.expires_at, now),
        download_path=f"/api/v1/evidence/{evidence.id}/content" if evidence.kind == "file" else None,
    )


def read_evidence(ctx: Ctx, evidence_id: int) -> EvidenceRead:
    ctx.require("evidence:read")
    return to_read(get_evidence(ctx.session, evidence_id), ctx.now())


def list_evidence(
    ctx: Ctx,
    *,
    sha256: str | None = None,
    expired: bool | None = None,
    sort: str = "-added_at",
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[EvidenceRead], str | None]:
    ctx.require("evidence:read")
    stmt = select(Evidence)
    if sha256:
        stmt = stmt.where(Evidence.sha256 == sha256.lower())
    now = ctx.now()
    if expired is True:
        stmt = stmt.where(Evidence.expires_at.is_not(None), Evidence.expires_at <= now)
    elif expired is False:
        stmt = stmt.where((Evidence.expires_at.is_(None)) | (Evidence.expires_at > now))
    rows, next_cursor = paginate(
        ctx.session, stmt, sort=sort, sortable=SORTABLE, id_col=Evidence.id, limit=limit, cursor=cursor
    )
    return [to_read(r, now) for r in rows], next_cursor


def open_content(ctx: Ctx, evidence_id: int) -> tuple[Evidence, Iterator[bytes]]:
    """The evidence row and its bytes. Links have no content: their url is the evidence."""
    ctx.require("evidence:read")
    evidence = get_evidence(ctx.session, evidence_id)
    if evidence.kind != "file" or evidence.sha256 is None:
        raise ValidationFailed(
            f"evidence {evidence_id} is a link, not a file; open its url: {evidence.url}",
            errors=[{"loc": ["evidence_id"], "msg": "a link has no content to download"}],
        )
    store = store_for(ctx.settings)
    if not store.exists(evidence.sha256):
        raise NotFound(
            f"the content of evidence {evidence_id} (sha256 {evidence.sha256}) is missing from the evidence store; "
            "restore the evidence directory from backup",
            entity="evidence-content",
        )
    return evidence, store.read(evidence.sha256)
