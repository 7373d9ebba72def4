"""Risk register API: /risks, /risk-matrices, /risk-categories."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import PlainTextResponse, Response

from charter.access.deps import CtxDep
from charter.inventory.queries import get_system
from charter.kit.pagination import Page
from charter.kit.routing import API, add_routes, threaded
from charter.risk import csvio, mitigations, queries, service
from charter.risk.content import validate_shipped
from charter.risk.matrices import service as matrices
from charter.risk.rules import Status
from charter.risk.schemas import (
    Accept,
    Assess,
    CategoryCreate,
    CategoryRead,
    ImportResult,
    Level,
    MatrixInstall,
    MatrixRead,
    MitigationCreate,
    MitigationRead,
    MitigationUpdate,
    RiskCreate,
    RiskDetail,
    RiskRead,
    RiskUpdate,
    Transition,
)

# Shipped matrices and categories are validated when the app is built: a broken file stops start-up
# with file:line: field.
validate_shipped()

router = APIRouter(prefix=API)
risks = APIRouter(prefix=f"{API}/risks", tags=["risk"])
matrix_router = APIRouter(prefix=f"{API}/risk-matrices", tags=["risk"])
category_router = APIRouter(prefix=f"{API}/risk-categories", tags=["risk"])


def _filter(
    system: str | None = None,
    category: str | None = None,
    level: Level | None = None,
    status: Status | None = None,
    owner: str | None = None,
    overdue: bool | None = None,
    open: Annotated[
        bool | None, Query(description="open: identified, assessed, treating, or acceptance expired")
    ] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
) -> queries.RiskFilter:
    return queries.RiskFilter(
        system=system, category=category, level=level, status=status, owner=owner, overdue=overdue, open=open, q=q
    )


FilterDep = Annotated[queries.RiskFilter, Depends(_filter)]


async def _raw_body(request: Request) -> bytes:
    return await request.body()


@risks.get("", summary="The risk register, filtered and paginated")
def list_risks(
    ctx: CtxDep,
    flt: FilterDep,
    sort: str = "key",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> Page[RiskRead]:
    items, next_cursor = queries.list_risks(ctx, flt, sort=sort, limit=limit, cursor=cursor)
    return Page[RiskRead](items=items, next_cursor=next_cursor)


@risks.post("", status_code=201, summary="Identify a risk (optionally with its inherent assessment)")
def create_risk(body: RiskCreate, ctx: CtxDep) -> RiskRead:
    risk = service.create_risk(ctx, body)
    ctx.commit()
    return queries.read_one(ctx.session, risk, ctx.now())


@risks.get("/heatmap", summary="Counts per likelihood x impact cell, inherent vs residual")
def heatmap(ctx: CtxDep, system: str | None = None, include_closed: bool = False) -> dict[str, Any]:
    return queries.heatmap(ctx, system, include_closed)


@risks.get("/report", response_class=PlainTextResponse, summary="The seed 002 text report, by score")
def report(ctx: CtxDep, system: str | None = None, include_closed: bool = False) -> str:
    return queries.report(ctx, system, include_closed)


@risks.get("/export.csv", summary="The register as CSV (same filters as the list)")
@threaded  # a long read: never on the event loop
def export_csv(ctx: CtxDep, flt: FilterDep) -> Response:
    text = csvio.export_csv(ctx, flt)
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="risks.csv"'},
    )


@risks.post("/import", summary="Import risks from CSV: every row is validated; any problem imports nothing")
def import_csv(ctx: CtxDep, content: Annotated[bytes, Depends(_raw_body)], dry_run: bool = False) -> ImportResult:
    result = csvio.import_csv(ctx, content, dry_run=dry_run)
    if not dry_run:
        ctx.commit()
    return result


@risks.get("/facts", summary="The risk facts deployment gates evaluate for one system")
def facts(ctx: CtxDep, system: str) -> dict[str, Any]:
    ctx.require("risks:read")
    return queries.gate_facts(ctx.session, get_system(ctx.session, system).id, ctx.now())


@risks.post("/expire-acceptances", summary="Sweep: lapsed acceptances go back to 'assessed'")
def expire_acceptances(ctx: CtxDep) -> dict[str, list[str]]:
    keys = service.expire_acceptances(ctx)
    ctx.commit()
    return {"expired": keys}


@risks.get("/{key}", summary="One risk with its mitigations and assessment history")
def read_risk(key: str, ctx: CtxDep) -> RiskDetail:
    return queries.read_detail(ctx, key)


@risks.patch("/{key}", summary="Change a risk's title, description, category, owner or next review")
def update_risk(key: str, body: RiskUpdate, ctx: CtxDep) -> RiskRead:
    risk = service.update_risk(ctx, key, body)
    ctx.commit()
    return queries.read_one(ctx.session, risk, ctx.now())


@risks.post("/{key}/assess", summary="Score the inherent and/or residual risk")
def assess(key: str, body: Assess, ctx: CtxDep) -> RiskRead:
    risk = service.assess_risk(ctx, key, body)
    ctx.commit()
    return queries.read_one(ctx.session, risk, ctx.now())


@risks.post("/{key}/transitions", summary="Move a risk to another status (reopen: to 'assessed' with a reason)")
def transition(key: str, body: Transition, ctx: CtxDep) -> RiskRead:
    risk = service.transition_risk(ctx, key, body)
    ctx.commit()
    return queries.read_one(ctx.session, risk, ctx.now())


@risks.post("/{key}/accept", summary="Accept the residual risk (governance; not the risk owner)")
def accept(key: str, body: Accept, ctx: CtxDep) -> RiskRead:
    risk = service.accept_risk(ctx, key, body)
    ctx.commit()
    return queries.read_one(ctx.session, risk, ctx.now())


@risks.post("/{key}/mitigations", status_code=201, summary="Add a mitigation")
def add_mitigation(key: str, body: MitigationCreate, ctx: CtxDep) -> MitigationRead:
    m = mitigations.add_mitigation(ctx, key, body)
    ctx.commit()
    return _mitigation(ctx, key, m.number)


@risks.patch("/{key}/mitigations/{number}", summary="Change a mitigation (send the version you read)")
def update_mitigation(key: str, number: int, body: MitigationUpdate, ctx: CtxDep) -> MitigationRead:
    m = mitigations.update_mitigation(ctx, key, number, body)
    ctx.commit()
    return _mitigation(ctx, key, m.number)


def _mitigation(ctx: CtxDep, key: str, number: int) -> MitigationRead:
    detail = queries.read_detail(ctx, key)
    return next(m for m in detail.mitigations if m.number == number)


@matrix_router.get("", summary="Risk matrices: installed and shipped")
def list_matrices(ctx: CtxDep) -> list[MatrixRead]:
    return matrices.list_matrices(ctx)


@matrix_router.post("", status_code=201, summary="Install a risk matrix from YAML (errors name file, line, field)")
def install_matrix(body: MatrixInstall, ctx: CtxDep) -> MatrixRead:
    row = matrices.install_matrix(ctx, body)
    ctx.commit()
    return matrices.read_matrix(ctx, row.name, row.version)


@matrix_router.get("/{name}", summary="A risk matrix (newest version, or ?version=N)")
def read_matrix(name: str, ctx: CtxDep, version: Annotated[int | None, Query(ge=1)] = None) -> MatrixRead:
    return matrices.read_matrix(ctx, name, version)


@matrix_router.post("/{name}/{version}/activate", summary="Use this matrix for new assessments")
def activate_matrix(name: str, version: int, ctx: CtxDep) -> MatrixRead:
    matrices.activate_matrix(ctx, name, version)
    ctx.commit()
    return matrices.read_matrix(ctx, name, version)


@category_router.get("", summary="Risk categories: the seed's eight and the organisation's own")
def list_categories(ctx: CtxDep) -> list[CategoryRead]:
    return matrices.list_categories(ctx)


@category_router.post("", status_code=201, summary="Add a risk category")
def add_category(body: CategoryCreate, ctx: CtxDep) -> CategoryRead:
    cat = matrices.add_category(ctx, body)
    ctx.commit()
    return cat


add_routes(router, risks)
add_routes(router, matrix_router)
add_routes(router, category_router)
