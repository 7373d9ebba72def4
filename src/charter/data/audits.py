"""PII audit of a dataset file (seed 003 phase 1): scan it, keep counts per column and entity type with masked
examples, store the report as evidence (Markdown) and, given a procedure run item, attach it there.

The file is scanned completely before anything is stored: a binary or mis-encoded file, an enormous line or invalid
CSV is refused with the line it failed at, and no audit, evidence or ledger entry is left behind."""

from __future__ import annotations

import io
from typing import IO, TYPE_CHECKING

from charter.data.models import PiiAudit
from charter.data.pii import PiiError, Scanner, audit, detect_format
from charter.data.pii_service import analyzer
from charter.data.queries import get_dataset
from charter.kit.errors import ValidationFailed
from charter.ledger.chain import snapshot
from charter.procedures.service import add_file_evidence

if TYPE_CHECKING:
    from charter.context import Ctx


def audit_file(
    ctx: Ctx,
    stream: IO[bytes],
    filename: str,
    *,
    fmt: str | None = None,
    field: str | None = None,
    dataset_id: int | None = None,
    run_id: int | None = None,
    item_id: str | None = None,
    max_line_bytes: int | None = None,
) -> PiiAudit:
    ctx.require("data:write")
    dataset = get_dataset(ctx.session, dataset_id) if dataset_id is not None else None
    found = analyzer()
    name = filename or "upload"
    fmt = fmt or detect_format(name)
    scanner = Scanner(found, max_line_bytes=max_line_bytes) if max_line_bytes else Scanner(found)
    try:
        report = audit(
            scanner.scan(stream, fmt=fmt, field=field, name=name),
            source=name, fmt=fmt, not_looked_for=found.not_looked_for, column=field,
        )  # fmt: skip
    except PiiError as exc:
        raise ValidationFailed(
            f"{exc}; nothing was stored", errors=[{"loc": ["body", "file"], "msg": str(exc)}]
        ) from exc
    markdown = report.to_markdown().encode()
    title = f"PII audit of {dataset.namespace}/{dataset.name}" if dataset else f"PII audit of {name}"
    evidence = add_file_evidence(
        ctx, io.BytesIO(markdown), f"pii-audit-{name.rsplit('/', 1)[-1]}.md", title=title,
        description=f"{report.records} records scanned, {report.records_with_pii} with PII", expires_at=None,
        run_id=run_id, item_id=item_id,
    )  # fmt: skip
    row = PiiAudit(
        dataset_id=dataset.id if dataset else None,
        source=name[:1000],
        format=fmt,
        records=report.records,
        records_with_pii=report.records_with_pii,
        entities=report.entities,
        report=report.to_dict(),
        evidence_id=evidence.id,
        run_id=run_id,
        item_id=item_id,
        created_at=ctx.now(),
        created_by=ctx.principal.actor,
    )
    ctx.session.add(row)
    ctx.session.flush()
    after = snapshot(row, exclude=frozenset({"id", "report"}))  # counts, never values; examples are in the evidence
    ctx.record("pii.audited", "pii_audit", row.id, after=after)
    return row
