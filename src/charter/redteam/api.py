"""Red teaming over HTTP (mounted under /api/v1): suites, imports, runs, findings, triage."""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Query, Request, Response, UploadFile

from charter.access.deps import CtxDep
from charter.kit.errors import ValidationFailed
from charter.kit.pagination import Page
from charter.kit.routing import API
from charter.redteam import queries, service
from charter.redteam.imports import FORMATS, ReportInvalid, import_bytes
from charter.redteam.runner import worker_for
from charter.redteam.schemas import FindingDetail, FindingRead, ImportRead, RunCreate, RunDetail, RunRead, TriageIn
from charter.redteam.suites import content_hash, shipped_suites

shipped_suites()  # validate the shipped probe suites at start-up

router = APIRouter(prefix=API, tags=["redteam"])


@router.get("/redteam/suites", summary="The probe suites Charter ships, with their probes and classification")
def list_suites(ctx: CtxDep) -> list[dict[str, Any]]:
    ctx.require("redteam:read")
    return [
        {
            "key": s.key,
            "version": s.version,
            "title": s.title,
            "content_hash": content_hash(s),
            "probes": [
                {
                    "id": p.id,
                    "title": p.title,
                    "impact": p.impact,
                    "owasp_2025": list(p.classification.owasp_2025),
                    "atlas": list(p.classification.atlas),
                    "cwe": list(p.classification.cwe),
                }
                for p in s.probes
            ],
        }
        for s in shipped_suites()
    ]


@router.post(
    "/systems/{key}/redteam/imports",
    status_code=201,
    responses={200: {"description": "nothing new: every attempt was imported before"}},
    summary="Import a scanner report (garak JSON Lines, PyRIT export, generic CSV) sent as the multipart `file`",
)
def import_report(
    key: str,
    ctx: CtxDep,
    response: Response,
    file: Annotated[UploadFile, File(description="the report file")],
    format: Annotated[str, Query(description="garak | pyrit | csv")],
    release: Annotated[int | None, Query(ge=1, description="the release version the report tested")] = None,
) -> ImportRead:
    if format not in FORMATS:
        raise ValidationFailed(
            f"format: unknown '{format}'; allowed: {', '.join(FORMATS)}",
            errors=[{"loc": ["query", "format"], "msg": f"allowed: {', '.join(FORMATS)}"}],
        )
    file_name = Path(file.filename or "report").name[:200] or "report"
    body = file.file.read()
    if not body.strip():
        raise ValidationFailed(f"{file_name}: the report is empty")
    # Parsed before the unit of work touches the database: no lock is held while a large report is read.
    try:
        parsed = import_bytes(format, body, file_name)
    except ReportInvalid as exc:
        raise ValidationFailed(str(exc), errors=[{"loc": ["body"], "msg": exc.msg, "line": exc.where}]) from None
    stored = service.import_report(ctx, key, parsed, file_sha256=hashlib.sha256(body).hexdigest(), release=release)
    ctx.commit()
    if stored.run is None:
        response.status_code = 200  # every attempt was imported before: nothing stored
    doc = parsed.as_json()
    return ImportRead(
        run=stored.run.id if stored.run else None,
        format=doc["format"],
        file=doc["file"],
        attempts=doc["attempts"],
        new_attempts=stored.new_attempts,
        duplicates_in_file=doc["duplicates_in_file"],
        results=doc["results"],
        unclassified_probes=doc["unclassified_probes"],
        warnings=doc["warnings"],
        findings_opened=stored.outcome.opened,
        findings_updated=stored.outcome.updated,
        findings_fixed=stored.outcome.fixed,
        risks_opened=stored.outcome.risks,
    )


def _submit(request: Request, run_id: int) -> None:
    """Hand a committed run to the server's red-team worker (tests may put their own `redteam_submit`)."""
    state = request.app.state
    submit = getattr(state, "redteam_submit", None) or worker_for(state).submit
    submit(run_id)


@router.post(
    "/systems/{key}/redteam/runs",
    status_code=202,
    summary="Run probe suites against a target; the run is queued and runs in the server (poll it)",
)
def create_run(key: str, body: RunCreate, ctx: CtxDep, request: Request) -> RunRead:
    run = service.create_run(ctx, key, body, seed=body.seed or secrets.token_hex(8))
    ctx.commit()
    _submit(request, run.id)
    return queries.run_read(ctx.session, run)


@router.post("/redteam/runs/{run_id}/resume", status_code=202, summary="Resume an interrupted run")
def resume_run(run_id: int, ctx: CtxDep, request: Request) -> RunRead:
    run = service.resume_run(ctx, run_id)
    _submit(request, run.id)
    return queries.run_read(ctx.session, run)


@router.get("/systems/{key}/redteam/runs", summary="A system's red-team runs and imports, newest first")
def list_runs(
    key: str,
    ctx: CtxDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> Page[RunRead]:
    items, next_cursor = queries.list_runs(ctx, key, limit=limit, cursor=cursor)
    return Page[RunRead](items=items, next_cursor=next_cursor)


@router.get("/redteam/runs/{run_id}", summary="One run: per probe x detector results and the findings it moved")
def read_run(run_id: int, ctx: CtxDep) -> RunDetail:
    return queries.run_detail(ctx, run_id)


@router.get("/redteam/runs/{run_id}/heatmap", summary="OWASP 2025 category x probe attack success rates")
def run_heatmap(run_id: int, ctx: CtxDep) -> dict[str, Any]:
    return queries.heatmap(ctx, run_id)


@router.get("/redteam/findings", summary="Red-team findings, filtered and paginated (the triage queue)")
def list_findings(
    ctx: CtxDep,
    system: str | None = None,
    status: str | None = None,
    severity: str | None = None,
    owasp: Annotated[str | None, Query(description="an OWASP 2025 id, e.g. LLM07:2025")] = None,
    live: Annotated[bool | None, Query(description="open or triaged")] = None,
    sort: str = "id",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> Page[FindingRead]:
    flt = queries.FindingFilter(system=system, status=status, severity=severity, owasp=owasp, live=live)
    items, next_cursor = queries.list_findings(ctx, flt, sort=sort, limit=limit, cursor=cursor)
    return Page[FindingRead](items=items, next_cursor=next_cursor)


@router.get("/redteam/findings/{finding_id}", summary="One finding with its hitting attempts")
def read_finding(finding_id: int, ctx: CtxDep) -> FindingDetail:
    return queries.finding_detail(ctx, finding_id)


@router.post("/redteam/findings/{finding_id}/triage", summary="Triage a finding (send the version you read)")
def triage_finding(finding_id: int, body: TriageIn, ctx: CtxDep) -> FindingRead:
    finding = service.triage(ctx, finding_id, body)
    ctx.commit()
    return queries.finding_read(ctx.session, finding)
