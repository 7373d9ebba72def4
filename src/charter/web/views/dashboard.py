"""The dashboard: the state of every system, what is on fire, and what waits for me."""

from __future__ import annotations

from collections import Counter
from typing import Any

from fastapi import APIRouter, Request, Response

from charter.context import Ctx
from charter.inventory import queries as inventory
from charter.inventory.rules import LIFECYCLE_STAGES, RISK_TIERS
from charter.inventory.schemas import SystemRead
from charter.web import home, panels
from charter.web.deps import WebCtx, WebRoute
from charter.web.panels import visible
from charter.web.render import render
from charter.web.views.risks import heatmap_context

router = APIRouter(route_class=WebRoute, include_in_schema=False)


def all_systems(ctx: Ctx) -> list[SystemRead]:
    systems: list[SystemRead] = []
    cursor = None
    while True:
        page, cursor = inventory.list_systems(ctx, inventory.SystemFilter(), sort="key", limit=500, cursor=cursor)
        systems.extend(page)
        if cursor is None:
            return systems


def stage_tier_matrix(systems: list[SystemRead]) -> dict[str, Any]:
    counts: dict[tuple[str, str], int] = {(s, t): 0 for s in LIFECYCLE_STAGES for t in RISK_TIERS}
    for system in systems:
        counts[(system.stage, system.risk_tier)] = counts.get((system.stage, system.risk_tier), 0) + 1
    by_stage = {s: sum(counts[(s, t)] for t in RISK_TIERS) for s in LIFECYCLE_STAGES}
    by_tier = {t: sum(counts[(s, t)] for s in LIFECYCLE_STAGES) for t in RISK_TIERS}
    return {"counts": counts, "by_stage": by_stage, "by_tier": by_tier, "stages": LIFECYCLE_STAGES, "tiers": RISK_TIERS}


def dashboard_context(request: Request, ctx: Ctx) -> dict[str, Any]:
    """Everything the dashboard shows for this person (also what benchmarks/console.py times)."""
    context: dict[str, Any] = {
        "systems": [],
        "matrix": None,
        "health": None,
        "incidents": None,
        "heat": None,
        "view": "inherent",
        "heat_system": None,
    }
    if ctx.principal.can("systems:read"):
        systems = all_systems(ctx)
        context["systems"] = systems
        context["matrix"] = stage_tier_matrix(systems)
        if visible(request, ctx, "monitoring", "metrics:read"):
            context["health"] = panels.health_by_system(ctx, [s.key for s in systems if s.stage != "retired"])
    if visible(request, ctx, "incidents", "incidents:read"):
        incidents = panels.open_incidents(ctx)
        context["incidents"] = incidents
        context["incidents_by_severity"] = Counter(i.severity for i in incidents)
    if visible(request, ctx, "risks", "risks:read"):
        context |= heatmap_context(ctx, None, request.query_params.get("view", "inherent"))
    context["waiting"] = panels.waiting_for(request, ctx, context["incidents"])
    context["overdue"] = panels.overdue(request, ctx)
    context["home"] = home.build(request, ctx, context["systems"], context)
    return context


@router.get("/")
def dashboard(request: Request, ctx: WebCtx) -> Response:
    return render(request, "dashboard.html", **dashboard_context(request, ctx))
