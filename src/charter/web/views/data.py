"""Data governance: the dataset register, a dataset's page, the lineage graph, PII audit results."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from charter.data import queries
from charter.data.rules import CLASSIFICATIONS, DATASET_STATUSES
from charter.kit.errors import NotFound
from charter.web.deps import WebCtx, WebRoute
from charter.web.lineage_svg import lineage_svg
from charter.web.render import render

router = APIRouter(route_class=WebRoute, include_in_schema=False)


@router.get("/data")
def register_page(request: Request, ctx: WebCtx) -> Response:
    q = request.query_params
    flt = queries.DatasetFilter(
        classification=q.get("classification") or None, status=q.get("status") or None, q=q.get("q") or None
    )
    items, next_cursor = queries.list_datasets(ctx, flt, sort="name", limit=100, cursor=q.get("cursor") or None)
    return render(
        request,
        "data/list.html",
        datasets=items,
        next_cursor=next_cursor,
        filters=q,
        query={k: v for k, v in q.items() if k != "cursor" and v},
        classifications=CLASSIFICATIONS,
        statuses=DATASET_STATUSES,
    )


@router.get("/data/datasets/{dataset_id}")
def dataset_page(request: Request, ctx: WebCtx, dataset_id: int) -> Response:
    dataset = queries.read_dataset(ctx, dataset_id)
    lineage: dict[str, Any] = {}
    for direction in ("upstream", "downstream"):
        try:
            lineage[direction] = queries.dataset_lineage(ctx, dataset.namespace, dataset.name, direction)
        except NotFound:
            lineage[direction] = None  # no lineage event has mentioned it
    return render(
        request,
        "data/dataset.html",
        dataset=dataset,
        lineage=lineage,
        systems=queries.systems_for(ctx, dataset.namespace, dataset.name),
        deletions=queries.deletions(ctx, dataset_id),
        audits=queries.audits(ctx, dataset_id),
    )


@router.get("/data/lineage")
def lineage_page(request: Request, ctx: WebCtx) -> Response:
    q = request.query_params
    focus = (q["namespace"], q["name"]) if q.get("namespace") and q.get("name") else None
    graph = queries.graph(ctx)
    upstream = downstream = None
    if focus is not None:
        upstream = queries.dataset_lineage(ctx, focus[0], focus[1], "upstream")
        downstream = queries.dataset_lineage(ctx, focus[0], focus[1], "downstream")
    return render(
        request,
        "data/lineage.html",
        graph=graph,
        svg=lineage_svg(graph, focus),
        focus=focus,
        upstream=upstream,
        downstream=downstream,
    )


@router.get("/data/audits")
def audits_page(request: Request, ctx: WebCtx) -> Response:
    return render(request, "data/audits.html", audits=queries.audits(ctx, None, 200))


@router.get("/data/audits/{audit_id}")
def audit_page(request: Request, ctx: WebCtx, audit_id: int) -> Response:
    return render(request, "data/audit.html", audit=queries.read_audit(ctx, audit_id))
