"""HTTP API of procedure templates (/sops) and runs (/runs)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Response, UploadFile

from charter.access.deps import CtxDep
from charter.evidence import service as evidence_service
from charter.evidence.schemas import EvidenceRead, LinkCreate
from charter.kit.errors import ValidationFailed
from charter.kit.pagination import Page
from charter.kit.routing import API
from charter.procedures import queries, service, templates, workflow
from charter.procedures.loader import shipped_templates
from charter.procedures.rules import RunStatus
from charter.procedures.schemas import (
    EvidenceLink,
    ExceptionCreate,
    ItemUpdate,
    OpenItem,
    RunCreate,
    RunRead,
    RunSummary,
    RunTransition,
    Signoff,
    TemplateInstall,
    TemplateRead,
    TemplateSummary,
    ValidationReport,
)
from charter.procedures.subjects import resolve
from charter.procedures.template_schema import SubjectType

# Start-up validation: a broken shipped template stops the app from being built, naming file and line.
shipped_templates()

router = APIRouter(prefix=API, tags=["procedures"])


@router.get("/sops", summary="List procedure templates (latest version of each)")
def list_sops(
    ctx: CtxDep,
    kind: str | None = None,
    applies_to: SubjectType | None = None,
    severity: str | None = None,
    tag: str | None = None,
) -> list[TemplateSummary]:
    return templates.list_templates(ctx, kind=kind, applies_to=applies_to, severity=severity, tag=tag)


@router.post("/sops/validate", summary="Check a template without installing it")
def validate_sop(body: TemplateInstall, ctx: CtxDep) -> ValidationReport:
    return templates.validate_template(ctx, body.content, body.filename)


@router.post("/sops", status_code=201, summary="Install a template version (YAML)")
def install_sop(body: TemplateInstall, ctx: CtxDep, response: Response) -> TemplateRead:
    row, created = templates.install_template(ctx, body.content, body.filename)
    ctx.commit()
    if not created:
        response.status_code = 200
    return templates.read_template(ctx, row.key, row.version)


@router.get("/sops/{key}", summary="Read a template (default: its latest version)")
def read_sop(key: str, ctx: CtxDep, version: Annotated[int | None, Query(ge=1)] = None) -> TemplateRead:
    return templates.read_template(ctx, key, version)


@router.get("/runs", summary="List procedure runs")
def list_runs(
    ctx: CtxDep,
    subject_type: SubjectType | None = None,
    subject_id: int | None = None,
    subject_key: Annotated[str | None, Query(max_length=64, description="a system's or incident's key")] = None,
    template: str | None = None,
    status: RunStatus | None = None,
    sort: str = "-id",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> Page[RunSummary]:
    if subject_key is not None:
        if subject_type is None:
            raise ValidationFailed(
                "subject_key needs subject_type", errors=[{"loc": ["subject_type"], "msg": "required"}]
            )
        subject_id, _ = resolve(ctx.session, subject_type, None, subject_key)
    items, next_cursor = service.list_runs(
        ctx,
        subject_type=subject_type,
        subject_id=subject_id,
        template=template,
        status=status,
        sort=sort,
        limit=limit,
        cursor=cursor,
    )
    return Page[RunSummary](items=items, next_cursor=next_cursor)


@router.get("/runs/facts", summary="Procedure facts of a subject, as deployment gates see them")
def run_facts(
    ctx: CtxDep, subject_type: SubjectType, subject_id: int | None = None, subject_key: str | None = None
) -> dict[str, Any]:
    ctx.require("sops:read")
    sid, _ = resolve(ctx.session, subject_type, subject_id, subject_key)
    return queries.gate_facts(ctx.session, subject_type, sid, now=ctx.now())


@router.post("/runs", status_code=201, summary="Start a procedure run for a system, release or incident")
def start_run(body: RunCreate, ctx: CtxDep) -> RunRead:
    subject_id, _ = resolve(ctx.session, body.subject_type, body.subject_id, body.subject_key)
    assignee_id = service.user_id(ctx.session, body.assignee, "assignee") if body.assignee else None
    run = service.start_run(
        ctx,
        body.template,
        body.subject_type,
        subject_id,
        version=body.version,
        title=body.title,
        assignee_id=assignee_id,
    )
    ctx.commit()
    return service.read_run(ctx, run.id)


@router.get("/runs/{run_id}", summary="Read a run: sections, items, completion, approval state")
def read_run(run_id: int, ctx: CtxDep) -> RunRead:
    return service.read_run(ctx, run_id)


@router.get("/runs/{run_id}/open-items", summary="Items not passing (unanswered, fail, needs_review, flagged)")
def run_open_items(run_id: int, ctx: CtxDep) -> list[OpenItem]:
    ctx.require("sops:read")
    return queries.open_items(queries.load(ctx.session, queries.get_run(ctx.session, run_id), ctx.now()))


@router.patch("/runs/{run_id}/items/{item_id}", summary="Answer and/or assign an item (send its version)")
def update_item(run_id: int, item_id: str, body: ItemUpdate, ctx: CtxDep) -> RunRead:
    service.update_item(ctx, run_id, item_id, body)
    ctx.commit()
    return service.read_run(ctx, run_id)


@router.post("/runs/{run_id}/items/{item_id}/evidence", summary="Attach existing evidence to an item")
def link_evidence(run_id: int, item_id: str, body: EvidenceLink, ctx: CtxDep) -> RunRead:
    service.link_evidence(ctx, run_id, item_id, body.evidence_id)
    ctx.commit()
    return service.read_run(ctx, run_id)


@router.post("/runs/{run_id}/exceptions", summary="Approve an exception for a failed required item (governance)")
def approve_exception(run_id: int, body: ExceptionCreate, ctx: CtxDep) -> RunRead:
    workflow.approve_exception(ctx, run_id, body.item_id, body.justification, version=body.version)
    ctx.commit()
    return service.read_run(ctx, run_id)


@router.post("/runs/{run_id}/submit", summary="Submit a run for sign-off")
def submit_run(run_id: int, body: RunTransition, ctx: CtxDep) -> RunRead:
    workflow.submit_run(ctx, run_id, version=body.version, reason=body.reason)
    ctx.commit()
    return service.read_run(ctx, run_id)


@router.post("/runs/{run_id}/signoff", summary="Approve or reject a submitted run")
def signoff_run(run_id: int, body: Signoff, ctx: CtxDep) -> RunRead:
    workflow.signoff_run(ctx, run_id, body.decision, version=body.version, reason=body.reason)
    ctx.commit()
    return service.read_run(ctx, run_id)


@router.post("/runs/{run_id}/reopen", summary="Back to in_progress (from submitted or rejected)")
def reopen_run(run_id: int, body: RunTransition, ctx: CtxDep) -> RunRead:
    workflow.reopen_run(ctx, run_id, version=body.version, reason=body.reason)
    ctx.commit()
    return service.read_run(ctx, run_id)


@router.post("/runs/{run_id}/cancel", summary="Cancel a run (with a reason)")
def cancel_run(run_id: int, body: RunTransition, ctx: CtxDep) -> RunRead:
    workflow.cancel_run(ctx, run_id, version=body.version, reason=body.reason)
    ctx.commit()
    return service.read_run(ctx, run_id)


# Adding evidence lives here (under /evidence) because it may attach to a procedure run item.
evidence_router = APIRouter(prefix=f"{API}/evidence", tags=["evidence"])
routers = (router, evidence_router)


@evidence_router.post(
    "", status_code=201, summary="Upload a file as evidence (multipart), optionally attaching it to a run item"
)
def upload_evidence(
    ctx: CtxDep,
    file: Annotated[UploadFile, File(description="the evidence file; its type is detected from its content")],
    title: Annotated[str | None, Form(max_length=300)] = None,
    description: Annotated[str, Form(max_length=5_000)] = "",
    expires_at: Annotated[datetime | None, Form()] = None,
    run_id: Annotated[int | None, Form()] = None,
    item_id: Annotated[str | None, Form(max_length=64)] = None,
) -> EvidenceRead:
    evidence = service.add_file_evidence(
        ctx,
        file.file,
        file.filename or "",
        title=title,
        description=description,
        expires_at=expires_at,
        run_id=run_id,
        item_id=item_id,
    )
    ctx.commit()
    return evidence_service.to_read(evidence, ctx.now())


@evidence_router.post(
    "/links", status_code=201, summary="Add a link (URL) as evidence, optionally attaching it to a run item"
)
def add_link_evidence(body: LinkCreate, ctx: CtxDep) -> EvidenceRead:
    evidence = service.add_link_evidence(ctx, body)
    ctx.commit()
    return evidence_service.to_read(evidence, ctx.now())
