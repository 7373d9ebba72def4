"""Reviews (procedure runs): start a checklist, answer items with evidence upload, submit, sign off."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from starlette.datastructures import UploadFile

from charter.context import Ctx
from charter.evidence import service as evidence
from charter.procedures import service as procedures
from charter.procedures import templates, workflow
from charter.procedures.schemas import ItemUpdate
from charter.procedures.subjects import resolve
from charter.web.actions import run_and_redirect
from charter.web.deps import Form, WebCtx, WebRoute, field
from charter.web.forms import optional_int
from charter.web.render import render
from charter.web.views.system_page import system_page

if TYPE_CHECKING:
    from charter.procedures.models import ProcedureRun

router = APIRouter(route_class=WebRoute, include_in_schema=False)
ANSWERS = ("pass", "fail", "needs_review", "not_applicable")
RUN_STATUSES = ("in_progress", "submitted", "approved", "rejected", "cancelled")


@router.get("/reviews")
def list_page(request: Request, ctx: WebCtx) -> Response:
    status = request.query_params.get("status") or None
    runs, next_cursor = procedures.list_runs(
        ctx, status=status if status in RUN_STATUSES else None, limit=100, cursor=request.query_params.get("cursor")
    )
    return render(
        request, "reviews/list.html", runs=runs, current=status, statuses=RUN_STATUSES, next_cursor=next_cursor
    )


@router.get("/systems/{key}/reviews")
def system_tab(request: Request, ctx: WebCtx, key: str) -> Response:
    system_id, _label = resolve(ctx.session, "system", subject_key=key)
    runs, _ = procedures.list_runs(ctx, subject_type="system", subject_id=system_id, limit=100)
    return system_page(
        request,
        ctx,
        key,
        "reviews",
        "systems/reviews.html",
        runs=runs,
        templates=[t for t in templates.list_templates(ctx, applies_to="system") if t.kind != "runbook"],
    )


@router.post("/systems/{key}/reviews")
def start(request: Request, ctx: WebCtx, form: Form, key: str) -> Response:
    system_id, _label = resolve(ctx.session, "system", subject_key=key)

    def change() -> ProcedureRun:
        return procedures.start_run(ctx, field(form, "template"), "system", system_id)

    return run_and_redirect(
        request,
        ctx,
        change,
        back=f"/systems/{key}/reviews",
        to=lambda run: _run_url(run.id),
        ok=lambda run: f"Started '{run.title}'. Answer each item; attach evidence.",
    )


def _run_url(run_id: int) -> str:
    return f"/reviews/{run_id}"


@router.get("/reviews/{run_id}")
def detail(request: Request, ctx: WebCtx, run_id: int) -> Response:
    run = procedures.read_run(ctx, run_id)
    return render(request, "reviews/detail.html", run=run, answers=ANSWERS)


def _upload(ctx: Ctx, form: Any) -> list[int]:
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return []
    added = evidence.add_file(ctx, upload.file, upload.filename, title=field(form, "evidence_title") or upload.filename)
    return [added.id]


@router.post("/reviews/{run_id}/items/{item_id}")
def answer(request: Request, ctx: WebCtx, form: Form, run_id: int, item_id: str) -> Response:
    """Answer one item; an attached file becomes evidence (type and size checked by the evidence service)."""

    def change() -> None:
        evidence_ids = _upload(ctx, form)
        payload: dict[str, Any] = {"version": optional_int(field(form, "version")), "evidence_ids": evidence_ids}
        if field(form, "status"):
            payload |= {
                "status": field(form, "status"),
                "response": field(form, "response"),
                "justification": field(form, "justification"),
            }
        procedures.update_item(ctx, run_id, item_id, ItemUpdate.model_validate(payload))

    return run_and_redirect(
        request,
        ctx,
        change,
        back=f"{_run_url(run_id)}#item-{item_id}",
        ok=f"Saved the answer to {item_id}.",
        prefix=f"{item_id}: ",
    )


def _step(request: Request, ctx: Ctx, run_id: int, change: Callable[[], object], ok: str) -> Response:
    return run_and_redirect(request, ctx, change, back=_run_url(run_id), ok=ok)


@router.post("/reviews/{run_id}/submit")
def submit(request: Request, ctx: WebCtx, form: Form, run_id: int) -> Response:
    version = optional_int(field(form, "version"))

    def run() -> None:
        workflow.submit_run(ctx, run_id, version=version if isinstance(version, int) else -1)

    return _step(request, ctx, run_id, run, "Submitted for sign-off.")


@router.post("/reviews/{run_id}/signoff")
def signoff(request: Request, ctx: WebCtx, form: Form, run_id: int) -> Response:
    version, decision = optional_int(field(form, "version")), field(form, "decision")

    def run() -> None:
        workflow.signoff_run(
            ctx,
            run_id,
            decision,
            version=version if isinstance(version, int) else -1,
            reason=field(form, "reason") or None,
        )

    return _step(request, ctx, run_id, run, "Review approved." if decision == "approve" else "Review rejected.")


@router.post("/reviews/{run_id}/items/{item_id}/exception")
def exception(request: Request, ctx: WebCtx, form: Form, run_id: int, item_id: str) -> Response:
    version = optional_int(field(form, "version"))

    def run() -> None:
        workflow.approve_exception(
            ctx, run_id, item_id, field(form, "justification"), version=version if isinstance(version, int) else -1
        )

    return _step(request, ctx, run_id, run, f"Exception approved for {item_id}.")


@router.get("/evidence/{evidence_id}/download")
def download(ctx: WebCtx, evidence_id: int) -> Response:
    row, chunks = evidence.open_content(ctx, evidence_id)
    name = (row.filename or f"evidence-{evidence_id}").replace('"', "")
    return StreamingResponse(
        chunks,
        media_type=row.media_type or "application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
