"""Red teaming: the findings queue, a finding with its attempts and triage, a run's OWASP x probe heat map."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from charter.inventory import queries as inventory
from charter.redteam import queries, service
from charter.redteam.rules import SEVERITIES, STATUSES
from charter.redteam.schemas import TriageIn
from charter.web.actions import run_and_redirect
from charter.web.deps import Form, WebCtx, WebRoute, field
from charter.web.forms import optional_int
from charter.web.render import fragment, is_htmx, render

router = APIRouter(route_class=WebRoute, include_in_schema=False)


def _live(text: str | None) -> bool | None:
    return {"yes": True, "no": False}.get(text or "")


@router.get("/redteam")
def findings_page(request: Request, ctx: WebCtx) -> Response:
    q = request.query_params
    flt = queries.FindingFilter(
        system=q.get("system") or None,
        status=q.get("status") or None,
        severity=q.get("severity") or None,
        live=_live(q.get("live")) if "live" in q else True,
    )
    items, next_cursor = queries.list_findings(ctx, flt, sort="-id", limit=50, cursor=q.get("cursor") or None)
    context: dict[str, Any] = {
        "findings": items,
        "next_cursor": next_cursor,
        "filters": q,
        "live": "yes" if flt.live else ("no" if flt.live is False else ""),
        "query": {k: v for k, v in q.items() if k != "cursor" and v},
        "statuses": STATUSES,
        "severities": SEVERITIES,
        "systems": inventory.list_systems(ctx, inventory.SystemFilter(), limit=500)[0],
    }
    if is_htmx(request) and request.headers.get("hx-target") == "findings-table":
        return fragment(request, "redteam/_table.html", **context)
    return render(request, "redteam/list.html", **context)


@router.get("/redteam/findings/{finding_id}")
def finding_page(request: Request, ctx: WebCtx, finding_id: int) -> Response:
    finding = queries.finding_detail(ctx, finding_id)
    return render(
        request,
        "redteam/finding.html",
        finding=finding,
        can_triage=ctx.principal.can("redteam:triage"),
        can_accept=ctx.principal.can("redteam:accept"),
    )


@router.post("/redteam/findings/{finding_id}/triage")
def triage(request: Request, ctx: WebCtx, form: Form, finding_id: int) -> Response:
    to = field(form, "to")

    def run() -> None:
        body = TriageIn.model_validate(
            {"to": to, "version": optional_int(field(form, "version")), "reason": field(form, "reason") or None}
        )
        service.triage(ctx, finding_id, body)

    back = f"/redteam/findings/{finding_id}"
    return run_and_redirect(request, ctx, run, back=back, ok=f"Finding {finding_id} is now {to.replace('_', ' ')}.")


@router.get("/redteam/runs/{run_id}")
def run_page(request: Request, ctx: WebCtx, run_id: int) -> Response:
    run = queries.run_detail(ctx, run_id)
    heat = queries.heatmap(ctx, run_id)
    cells = {(c["owasp"], c["probe"]): c for c in heat["cells"]}
    return render(request, "redteam/run.html", run=run, heat=heat, cells=cells)
