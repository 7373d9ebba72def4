"""Incidents over HTTP (mounted under /api/v1). Postmortem routes are in postmortems/api.py."""

from __future__ import annotations

import html
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from charter.access.deps import CtxDep
from charter.access.models import User
from charter.access.service import principal_of
from charter.context import Ctx
from charter.incidents import alerts as _alert_hook  # noqa: F401  (registers the monitoring alert hook)
from charter.incidents import (
    catalog,
    escalation,
    metrics,
    queries,
    regulatory,
    releases_link,
    roles,
    service,
)
from charter.incidents import timeline as timeline_service
from charter.incidents.postmortems import api as postmortems_api
from charter.incidents.schemas import (
    AckResult,
    IncidentCreate,
    IncidentDetail,
    IncidentRead,
    IncidentUpdate,
    MetricsRead,
    PolicyInstall,
    ReportedIn,
    RoleIn,
    RollbackIn,
    SeriousIn,
    SeverityIn,
    TimelineRead,
    TransitionIn,
    UpdateEdit,
    UpdateIn,
)
from charter.incidents.store import get_incident
from charter.kit.errors import PermissionDenied
from charter.kit.pagination import Page
from charter.kit.routing import API, add_routes

catalog.load()  # validate the shipped incident content at start-up

router = APIRouter(prefix=f"{API}/incidents", tags=["incidents"])


def _detail(ctx: CtxDep, key: str) -> IncidentDetail:
    return queries.detail(ctx.session, get_incident(ctx.session, key), ctx.now())


# ----------------------------------------------------------------------------- signed acknowledgement links
# No bearer token: the link's HMAC signature (settings.secret) names the person and expires.


@router.get("/ack-link/{token}", response_class=HTMLResponse, summary="Confirm page of a signed ack link")
def ack_link_page(token: str, request: Request) -> HTMLResponse:
    key, _uid = escalation.verify_ack_token(request.app.state.settings, token, request.app.state.clock.now())
    safe = html.escape(key)
    # A GET must not change state (chat and mail clients prefetch links): the button POSTs.
    return HTMLResponse(
        "<!doctype html><meta charset=utf-8><title>Acknowledge " + safe + "</title>"
        "<body style='font-family:sans-serif;max-width:40em;margin:3em auto'>"
        f"<h1>Acknowledge incident {safe}?</h1>"
        "<p>Acknowledging stops the escalation to the next level.</p>"
        f"<form method=post><button type=submit style='font-size:1.2em'>Acknowledge {safe}</button></form>"
    )


@router.post("/ack-link/{token}", summary="Acknowledge through a signed link from a notification")
def ack_link(token: str, request: Request) -> Response:
    state = request.app.state
    key, uid = escalation.verify_ack_token(state.settings, token, state.clock.now())
    with state.session_factory() as session:
        user = session.get(User, uid)
        if user is None or user.disabled:
            raise PermissionDenied("the person this link was sent to can no longer sign in")
        principal = principal_of(user)
        ctx = Ctx(
            session=session,
            principal=principal,
            clock=state.clock,
            settings=state.settings,
            request_id=getattr(request.state, "request_id", None),
        )
        result = service.acknowledge(ctx, key, via="signed link")
        ctx.commit()
    if "text/html" in request.headers.get("accept", ""):
        who = html.escape(result.acknowledged_by or "?")
        when = html.escape(result.acknowledged_at.isoformat())
        verb = "was already acknowledged" if result.already else "is acknowledged"
        return HTMLResponse(f"<!doctype html><meta charset=utf-8><p>{html.escape(key)} {verb} by {who} at {when}.</p>")
    return JSONResponse(result.model_dump(mode="json"))


# ----------------------------------------------------------------------------- collection-level routes


@router.get("/catalog", summary="Severities, statuses (with categories and moves), roles, harm categories")
def read_catalog(ctx: CtxDep) -> dict[str, Any]:
    ctx.require("incidents:read")
    cat = catalog.load()
    return {
        "severities": [
            {
                "key": s.key,
                "label": s.label,
                "rank": s.rank,
                "colour": s.colour,
                "description": s.description,
                "playbook": s.playbook,
                "postmortem_required": s.postmortem_required,
            }
            for s in sorted(cat.severities.values(), key=lambda s: s.rank)
        ],
        "statuses": [
            {"key": s.key, "label": s.label, "category": s.category, "next": list(s.next), "reopen": list(s.reopen)}
            for s in cat.lifecycle.statuses.values()
        ],
        "initial_status": cat.lifecycle.initial,
        "roles": cat.roles,
        "harm_categories": cat.harm_categories,
        "serious_incident_cases": {
            c.key: {"label": c.label, "article": c.article, "days": c.days} for c in cat.regulatory.cases.values()
        },
    }


@router.get("/metrics", summary="MTTA, MTTR, incidents per system and severity, overdue action items")
def read_metrics(
    ctx: CtxDep, since: datetime | None = None, until: datetime | None = None, system: str | None = None
) -> MetricsRead:
    return metrics.compute(ctx, since=since, until=until, system=system)


@router.get("/escalation-policies", summary="Escalation policies (shipped and installed)")
def list_policies(ctx: CtxDep) -> list[dict[str, Any]]:
    return escalation.list_policies(ctx)


@router.post("/escalation-policies", status_code=201, summary="Install or replace an escalation policy")
def install_policy(body: PolicyInstall, ctx: CtxDep) -> dict[str, Any]:
    out = escalation.install_policy(ctx, body.definition)
    ctx.commit()
    return out


@router.post("/sweep", summary="Run the incident and notification sweeps now (escalations, reminders, deliveries)")
def run_sweeps(ctx: CtxDep) -> dict[str, Any]:
    return service.sweep_now(ctx)


@router.get("", summary="List incidents")
def list_incidents(
    ctx: CtxDep,
    status: str | None = None,
    category: str | None = None,
    severity: str | None = None,
    system: str | None = None,
    source: str | None = None,
    serious: bool | None = None,
    unacknowledged: bool | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    sort: str = "-key",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> Page[IncidentRead]:
    flt = queries.IncidentFilter(
        status=status,
        category=category,
        severity=severity,
        system=system,
        source=source,
        serious=serious,
        unacknowledged=unacknowledged,
        q=q,
    )
    items, next_cursor = queries.list_incidents(ctx, flt, sort=sort, limit=limit, cursor=cursor)
    return Page[IncidentRead](items=items, next_cursor=next_cursor)


@router.post("", status_code=201, summary="Open an incident (pages escalation level 1, starts the playbook)")
def open_incident(body: IncidentCreate, ctx: CtxDep) -> IncidentDetail:
    incident = service.open_incident(ctx, body)
    ctx.commit()
    return _detail(ctx, incident.key)


add_routes(router, postmortems_api.router)


# ----------------------------------------------------------------------------- one incident


@router.get("/{key}", summary="Read one incident (escalation state, regulatory clock, links)")
def read_incident(key: str, ctx: CtxDep) -> IncidentDetail:
    return queries.read_incident(ctx, key)


@router.patch("/{key}", summary="Change an incident's fields (send the version you read)")
def update_incident(key: str, body: IncidentUpdate, ctx: CtxDep) -> IncidentDetail:
    incident = service.update_incident(ctx, key, body)
    ctx.commit()
    return _detail(ctx, incident.key)


@router.post("/{key}/transitions", summary="Move an incident to another status")
def transition(key: str, body: TransitionIn, ctx: CtxDep) -> IncidentDetail:
    incident = service.transition(ctx, key, body)
    ctx.commit()
    return _detail(ctx, incident.key)


@router.post("/{key}/severity", summary="Change the severity (re-times escalation, starts that severity's playbook)")
def change_severity(key: str, body: SeverityIn, ctx: CtxDep) -> IncidentDetail:
    incident = service.change_severity(ctx, key, body)
    ctx.commit()
    return _detail(ctx, incident.key)


@router.post("/{key}/ack", summary="Acknowledge (stops escalation)")
def acknowledge(key: str, ctx: CtxDep) -> AckResult:
    result = service.acknowledge(ctx, key, via="api")
    ctx.commit()
    return result


@router.post("/{key}/roles", summary="Give an incident role to someone (the previous holder renounces it)")
def assign_role(key: str, body: RoleIn, ctx: CtxDep) -> IncidentDetail:
    incident = roles.assign_role(ctx, key, body)
    ctx.commit()
    return _detail(ctx, incident.key)


@router.delete("/{key}/roles/{role}", summary="Renounce an incident role")
def renounce_role(key: str, role: str, ctx: CtxDep) -> IncidentDetail:
    incident = roles.renounce_role(ctx, key, role)
    ctx.commit()
    return _detail(ctx, incident.key)


@router.get("/{key}/timeline", summary="The timeline: automatic events and human updates")
def read_timeline(key: str, ctx: CtxDep) -> list[TimelineRead]:
    return queries.read_timeline(ctx, key)


@router.post("/{key}/timeline", status_code=201, summary="Post an update to the timeline")
def post_update(key: str, body: UpdateIn, ctx: CtxDep) -> TimelineRead:
    entry = timeline_service.post_update(ctx, get_incident(ctx.session, key), body.body)
    ctx.commit()
    return timeline_service.to_read(entry, {ctx.principal.user_id: ctx.principal.name} if ctx.principal.user_id else {})


@router.patch("/{key}/timeline/{entry_id}", summary="Edit your own update (the ledger keeps the previous text)")
def edit_update(key: str, entry_id: int, body: UpdateEdit, ctx: CtxDep) -> TimelineRead:
    entry = timeline_service.edit_update(ctx, get_incident(ctx.session, key), entry_id, body.body, body.version)
    ctx.commit()
    return timeline_service.to_read(entry, {ctx.principal.user_id: ctx.principal.name} if ctx.principal.user_id else {})


@router.post("/{key}/serious", summary="Flag as an EU AI Act serious incident (aware_at required)")
def flag_serious(key: str, body: SeriousIn, ctx: CtxDep) -> IncidentDetail:
    incident = regulatory.flag_serious(ctx, key, body)
    ctx.commit()
    return _detail(ctx, incident.key)


@router.post("/{key}/serious/report", summary="Record that the serious incident was reported to the authority")
def record_report(key: str, body: ReportedIn, ctx: CtxDep) -> IncidentDetail:
    incident = regulatory.record_report(ctx, key, body)
    ctx.commit()
    return _detail(ctx, incident.key)


@router.post("/{key}/rollback", summary="Roll back the system's deployed release from this incident")
def rollback(key: str, body: RollbackIn, ctx: CtxDep) -> IncidentDetail:
    incident = releases_link.rollback_from_incident(ctx, key, body)
    ctx.commit()
    return _detail(ctx, incident.key)
