"""Risk register: list and heat map (inherent vs residual), identify a risk with the 5x5 picker."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request, Response

from charter.context import Ctx
from charter.inventory import queries as inventory
from charter.kit.routing import add_routes
from charter.risk import queries
from charter.risk import service as risk_service
from charter.risk.matrices import service as matrices
from charter.risk.rules import STATUSES
from charter.risk.schemas import RiskCreate
from charter.web.actions import run_or_rerender
from charter.web.deps import Form, WebCtx, WebRoute, field
from charter.web.forms import values
from charter.web.render import fragment, is_htmx, render
from charter.web.views.risk_common import active_spec, parse_cell
from charter.web.views.risk_detail import router as detail_router
from charter.web.views.system_page import system_page

if TYPE_CHECKING:
    from charter.risk.models import Risk

router = APIRouter(route_class=WebRoute, include_in_schema=False)
LEVELS = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "UNASSESSED")
SORTS = {"-score": "Highest score", "key": "Key", "next_review_at": "Next review", "-updated_at": "Recently changed"}


def heatmap_context(ctx: Ctx, system: str | None, view: str) -> dict[str, Any]:
    data = queries.heatmap(ctx, system)
    return {"heat": data, "view": "residual" if view == "residual" else "inherent", "heat_system": system}


def _flag(text: str | None) -> bool | None:
    return {"yes": True, "no": False}.get(text or "")


@router.get("/risks")
def register(request: Request, ctx: WebCtx) -> Response:
    q = request.query_params
    flt = queries.RiskFilter(
        system=q.get("system") or None,
        level=q.get("level") or None,
        status=q.get("status") or None,
        owner=q.get("owner") or None,
        overdue=_flag(q.get("overdue")),
        open=_flag(q.get("open")),
        q=q.get("q") or None,
    )
    sort = q.get("sort") if q.get("sort") in SORTS else "-score"
    items, next_cursor = queries.list_risks(ctx, flt, sort=sort or "-score", limit=50, cursor=q.get("cursor") or None)
    context: dict[str, Any] = {
        "risks": items,
        "next_cursor": next_cursor,
        "filters": q,
        "filtered": any(v for k, v in q.items() if k not in ("sort", "cursor", "view")),
        "query": {k: v for k, v in q.items() if k != "cursor" and v},
        "statuses": STATUSES,
        "levels": LEVELS,
        "sorts": SORTS,
        "sort": sort,
        "systems": inventory.list_systems(ctx, inventory.SystemFilter(), limit=500)[0],
    }
    if is_htmx(request) and request.headers.get("hx-target") == "risks-table":
        return fragment(request, "risks/_table.html", **context)
    context |= heatmap_context(ctx, flt.system, q.get("view", "inherent"))
    return render(request, "risks/list.html", **context)


@router.get("/risks/heatmap")
def heatmap(request: Request, ctx: WebCtx) -> Response:
    """The heat map alone (htmx swaps it when the inherent / residual toggle is used)."""
    q = request.query_params
    context = heatmap_context(ctx, q.get("system") or None, q.get("view", "inherent"))
    if is_htmx(request):
        return fragment(request, "risks/_heatmap.html", **context)
    return render(request, "risks/heatmap.html", **context)


def _new_page(request: Request, ctx: Ctx, status: int = 200, **context: Any) -> Response:
    context.setdefault("form", {"system": request.query_params.get("system", ""), "owner": ctx.principal.name})
    context.setdefault("errors", {})
    return render(
        request,
        "risks/new.html",
        status=status,
        spec=active_spec(ctx),
        categories=matrices.list_categories(ctx),
        systems=inventory.list_systems(ctx, inventory.SystemFilter(), limit=500)[0],
        **context,
    )


@router.get("/risks/new")
def new_form(request: Request, ctx: WebCtx) -> Response:
    ctx.require("risks:write")
    return _new_page(request, ctx)


@router.post("/risks")
def create(request: Request, ctx: WebCtx, form: Form) -> Response:
    submitted = values(form)

    def change() -> Risk:
        cell = parse_cell(field(form, "inherent"), "inherent")
        payload: dict[str, Any] = {
            "system": field(form, "system"),
            "title": field(form, "title"),
            "description": field(form, "description"),
            "category": field(form, "category"),
            "owner": field(form, "owner") or None,
            "rationale": field(form, "rationale"),
        }
        if cell:
            payload |= {"likelihood": cell[0], "impact": cell[1]}
        return risk_service.create_risk(ctx, RiskCreate.model_validate(payload))

    return run_or_rerender(
        request,
        ctx,
        change,
        form_page=lambda status, errors: _new_page(request, ctx, status, form=submitted, errors=errors),
        to=lambda risk: f"/risks/{risk.key}",
        ok=_identified,
        forbidden="show",
    )


def _identified(risk: Risk) -> str:
    scored = f" and assessed {risk.level} (score {risk.score})" if risk.level else ""
    return f"Risk {risk.key} identified{scored}."


@router.get("/systems/{key}/risks")
def system_tab(request: Request, ctx: WebCtx, key: str) -> Response:
    items, next_cursor = queries.list_risks(ctx, queries.RiskFilter(system=key), sort="-score", limit=200)
    return system_page(
        request,
        ctx,
        key,
        "risks",
        "systems/risks.html",
        risks=items,
        next_cursor=next_cursor,
        **heatmap_context(ctx, key, request.query_params.get("view", "inherent")),
    )


add_routes(router, detail_router)  # after the fixed paths above (/risks/new, /risks/heatmap before /risks/{key})
