"""Compliance console: frameworks and systems, a coverage dashboard per framework, the gap list, a requirement
page with its controls and evidence, and the evidence pack download."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from charter.compliance import packs, queries
from charter.compliance.rules import STATUSES
from charter.inventory.queries import SystemFilter, get_system, list_systems
from charter.kit.routing import threaded
from charter.web.deps import WebCtx, WebRoute
from charter.web.render import render

router = APIRouter(route_class=WebRoute, include_in_schema=False)


@router.get("/compliance")
def index(request: Request, ctx: WebCtx) -> Response:
    frameworks = queries.list_frameworks(ctx)
    systems, _ = list_systems(ctx, SystemFilter(), limit=500)
    return render(request, "compliance/index.html", frameworks=frameworks, systems=systems)


@router.get("/compliance/{system}/{framework}")
def dashboard(request: Request, ctx: WebCtx, system: str, framework: str, gaps: bool = False) -> Response:
    cov = queries.coverage(ctx, system, framework)
    rows = cov.gaps() if gaps else list(cov.requirements)
    return render(request, "compliance/coverage.html", cov=cov, rows=rows, gaps=gaps, statuses=STATUSES,
                  can_export=ctx.principal.can("compliance:export"))  # fmt: skip


@router.get("/compliance/{system}/{framework}/requirement")
def requirement(request: Request, ctx: WebCtx, system: str, framework: str, id: str) -> Response:
    detail = queries.show_requirement(ctx, f"{framework}:{id}")
    cov = queries.coverage(ctx, system, framework)
    row = next((r for r in cov.requirements if r.id == id), None)
    return render(request, "compliance/requirement.html", detail=detail, row=row, cov=cov,
                  system=get_system(ctx.session, system))  # fmt: skip


@router.get("/compliance/{system}/{framework}/pack")
@threaded  # reads the ledger's hashes and the evidence files
def pack(ctx: WebCtx, system: str, framework: str) -> Response:
    data = packs.build_pack(ctx, system, framework)
    name = f"{system}-{framework}-pack.zip"
    return Response(
        data, media_type="application/zip", headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )
