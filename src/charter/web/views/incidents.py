"""Incidents: list, open, acknowledge, post updates, move status (resolve, close), change severity."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request, Response

from charter.context import Ctx
from charter.incidents import catalog, queries, timeline
from charter.incidents import service as incidents
from charter.incidents.schemas import IncidentCreate, SeverityIn, TransitionIn
from charter.incidents.store import get_incident
from charter.inventory import queries as inventory
from charter.kit.errors import ValidationFailed
from charter.kit.routing import add_routes
from charter.web.actions import run_and_redirect, run_or_rerender
from charter.web.deps import Form, WebCtx, WebRoute, field
from charter.web.forms import optional_int, values
from charter.web.render import fragment, is_htmx, render
from charter.web.views.postmortems import router as postmortems_router
from charter.web.views.system_page import system_page

if TYPE_CHECKING:
    from collections.abc import Callable

    from charter.incidents.models import Incident

router = APIRouter(route_class=WebRoute, include_in_schema=False)
CATEGORIES = ("open", "active", "mitigated", "resolved", "closed", "declined", "duplicate")


def severities() -> list[Any]:
    return sorted(catalog.load().severities.values(), key=lambda s: s.rank)


def _flag(text: str | None) -> bool | None:
    return True if text == "yes" else None


@router.get("/incidents")
def list_page(request: Request, ctx: WebCtx) -> Response:
    q = request.query_params
    flt = queries.IncidentFilter(
        category=q.get("category") or None,
        severity=q.get("severity") or None,
        system=q.get("system") or None,
        unacknowledged=_flag(q.get("unacknowledged")),
        q=q.get("q") or None,
    )
    items, next_cursor = queries.list_incidents(ctx, flt, sort="-key", limit=50, cursor=q.get("cursor") or None)
    context: dict[str, Any] = {
        "incidents": items,
        "next_cursor": next_cursor,
        "filters": q,
        "filtered": any(v for k, v in q.items() if k != "cursor"),
        "query": {k: v for k, v in q.items() if k != "cursor" and v},
        "categories": CATEGORIES,
        "severities": severities(),
        "systems": inventory.list_systems(ctx, inventory.SystemFilter(), limit=500)[0],
    }
    if is_htmx(request) and request.headers.get("hx-target") == "incidents-table":
        return fragment(request, "incidents/_table.html", **context)
    return render(request, "incidents/list.html", **context)


def _new_page(request: Request, ctx: Ctx, status: int = 200, **context: Any) -> Response:
    context.setdefault("form", {"system": request.query_params.get("system", "")})  # severity: no default (D32)
    context.setdefault("errors", {})
    systems = [s for s in inventory.list_systems(ctx, inventory.SystemFilter(), limit=500)[0] if s.stage != "retired"]
    return render(
        request,
        "incidents/new.html",
        status=status,
        systems=systems,
        severities=severities(),
        harms=catalog.load().harm_categories,
        **context,
    )


@router.get("/incidents/new")
def new_form(request: Request, ctx: WebCtx) -> Response:
    ctx.require("incidents:write")
    return _new_page(request, ctx)


@router.post("/incidents")
def open_incident(request: Request, ctx: WebCtx, form: Form) -> Response:
    def change() -> Incident:
        data = IncidentCreate.model_validate(
            {
                "system": field(form, "system"),
                "title": field(form, "title"),
                "description": field(form, "description"),
                "severity": field(form, "severity"),
                "harm_category": field(form, "harm_category") or None,
                "affected_users": optional_int(field(form, "affected_users")),
            }
        )
        return incidents.open_incident(ctx, data)

    return run_or_rerender(
        request,
        ctx,
        change,
        form_page=lambda status, errors: _new_page(request, ctx, status, form=values(form), errors=errors),
        to=lambda incident: f"/incidents/{incident.key}",
        ok=lambda incident: f"Incident {incident.key} opened; the on-call is paged.",
    )


@router.get("/incidents/{key}")
def detail(request: Request, ctx: WebCtx, key: str) -> Response:
    incident = queries.read_incident(ctx, key)
    life = catalog.load().lifecycle
    return render(
        request,
        "incidents/detail.html",
        incident=incident,
        timeline=list(reversed(queries.read_timeline(ctx, key))),
        severities=severities(),
        moves=[(to, life.statuses[to].label, life.is_reopen(incident.status, to)) for to in _ordered(incident, life)],
    )


def _ordered(incident: Any, life: Any) -> list[str]:
    """The lifecycle's own order (ordinary moves first, then reopen moves), not alphabetical."""
    current = life.statuses[incident.status]
    listed = [*current.next, *current.reopen]
    rest = sorted(set(incident.allowed_transitions) - set(listed))
    return [s for s in listed if s in incident.allowed_transitions] + rest


def _do(request: Request, ctx: Ctx, key: str, change: Callable[[], object], ok: str) -> Response:
    return run_and_redirect(request, ctx, change, back=f"/incidents/{key}", ok=ok)


@router.post("/incidents/{key}/ack")
def acknowledge(request: Request, ctx: WebCtx, key: str) -> Response:
    return _do(request, ctx, key, lambda: incidents.acknowledge(ctx, key, via="console"), f"You acknowledged {key}.")


@router.post("/incidents/{key}/updates")
def post_update(request: Request, ctx: WebCtx, form: Form, key: str) -> Response:
    body = field(form, "body")

    def run() -> None:
        if not body:
            raise ValidationFailed("write the update first (what is known, what is being done, next update when)")
        timeline.post_update(ctx, get_incident(ctx.session, key), body)

    return _do(request, ctx, key, run, "Update posted to the timeline.")


REASON_NEEDED = {"resolved": "resolve", "declined": "decline"}
"""In the console, resolving asks for a reason too (what was done), like declining and reopening (D32)."""


@router.post("/incidents/{key}/transition")
def move(request: Request, ctx: WebCtx, form: Form, key: str) -> Response:
    to = field(form, "to")

    def run() -> None:
        life = catalog.load().lifecycle
        what = REASON_NEEDED.get(life.category(to)) if to in life.statuses else None
        if what and not field(form, "reason"):
            raise ValidationFailed(f"Reason: say why you {what} {key} (kept in the ledger and the timeline).")
        data = TransitionIn.model_validate(
            {
                "to": to,
                "version": optional_int(field(form, "version")),
                "reason": field(form, "reason") or None,
                "duplicate_of": field(form, "duplicate_of") or None,
            }
        )
        incidents.transition(ctx, key, data)

    return _do(request, ctx, key, run, f"{key} is now {to}.")


@router.post("/incidents/{key}/severity")
def severity(request: Request, ctx: WebCtx, form: Form, key: str) -> Response:
    sev = field(form, "severity")

    def run() -> None:
        data = SeverityIn.model_validate(
            {"severity": sev, "version": optional_int(field(form, "version")), "reason": field(form, "reason") or None}
        )
        incidents.change_severity(ctx, key, data)

    return _do(request, ctx, key, run, f"Severity of {key} is now {sev}.")


@router.get("/systems/{key}/incidents")
def system_tab(request: Request, ctx: WebCtx, key: str) -> Response:
    items, _ = queries.list_incidents(ctx, queries.IncidentFilter(system=key), sort="-key", limit=200)
    return system_page(request, ctx, key, "incidents", "systems/incidents.html", incidents=items)


add_routes(router, postmortems_router)
