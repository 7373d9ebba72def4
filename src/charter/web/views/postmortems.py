"""Postmortems: write (draft), submit for review, approve or send back; action items."""

from __future__ import annotations

from typing import Any, get_args

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError

from charter.context import Ctx
from charter.incidents import queries
from charter.incidents.postmortems import service as postmortem
from charter.incidents.rules import ACTION_TRANSITIONS
from charter.incidents.schemas import ActionCreate, ActionUpdate, LinkType, PostmortemWrite, ReviewIn
from charter.kit.errors import CharterError, NotFound
from charter.web.deps import Form, WebCtx, WebRoute, field
from charter.web.forms import GENERAL, field_errors, optional_int, summary, values
from charter.web.render import redirect, render

router = APIRouter(route_class=WebRoute, include_in_schema=False)
TEXT = ("summary", "impact_harm", "detection", "root_cause")
LISTS = ("five_whys", "contributing_factors", "went_well", "went_badly")


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _page(request: Request, ctx: Ctx, key: str, status: int = 200, **context: Any) -> Response:
    incident = queries.read_incident(ctx, key)
    try:
        pm = postmortem.read(ctx, key)
    except NotFound:
        pm = None
    form = context.pop("form", None)
    if form is None and pm is not None:
        form = {f: getattr(pm, f) or "" for f in TEXT} | {f: "\n".join(getattr(pm, f)) for f in LISTS}
        form |= {"impact_users": pm.impact_users or "", "impact_duration_minutes": pm.impact_duration_minutes or ""}
    return render(
        request,
        "incidents/postmortem.html",
        status=status,
        incident=incident,
        pm=pm,
        form=form or {},
        errors=context.pop("errors", {}),
        action_moves=ACTION_TRANSITIONS,
        link_types=get_args(LinkType),
        **context,
    )


@router.get("/incidents/{key}/postmortem")
def page(request: Request, ctx: WebCtx, key: str) -> Response:
    return _page(request, ctx, key)


@router.post("/incidents/{key}/postmortem")
def save(request: Request, ctx: WebCtx, form: Form, key: str) -> Response:
    """Save the draft; with action=submit, also submit it for review."""
    payload: dict[str, Any] = {f: field(form, f) for f in TEXT}
    payload |= {f: _lines(field(form, f)) for f in LISTS}
    payload |= {
        "version": optional_int(field(form, "version")),
        "impact_users": optional_int(field(form, "impact_users")),
        "impact_duration_minutes": optional_int(field(form, "impact_duration_minutes")),
    }
    try:
        pm = postmortem.write(ctx, key, PostmortemWrite.model_validate(payload))
        if field(form, "action") == "submit":
            ctx.session.flush()
            postmortem.submit(ctx, key, pm.version)
        ctx.commit()
    except ValidationError as exc:
        ctx.session.rollback()
        return _page(request, ctx, key, 422, form=values(form), errors=field_errors(exc))
    except CharterError as exc:
        ctx.session.rollback()
        if exc.status == 403:
            raise
        return _page(request, ctx, key, exc.status, form=values(form), errors={GENERAL: exc.detail})
    done = "submitted for review" if field(form, "action") == "submit" else "saved as a draft"
    return redirect(request, f"/incidents/{key}/postmortem", f"Postmortem {done}.")


@router.post("/incidents/{key}/postmortem/review")
def review(request: Request, ctx: WebCtx, form: Form, key: str) -> Response:
    back = f"/incidents/{key}/postmortem"
    decision = field(form, "decision")
    try:
        data = ReviewIn.model_validate(
            {"version": optional_int(field(form, "version")), "note": field(form, "note") or None}
        )
        if decision == "approve":
            postmortem.approve(ctx, key, data)
        else:
            postmortem.send_back(ctx, key, data)
        ctx.commit()
    except ValidationError as exc:
        return redirect(request, back, summary(field_errors(exc)), "error")
    except CharterError as exc:
        if exc.status == 403:
            raise
        return redirect(request, back, exc.detail, "error")
    return redirect(
        request, back, "Postmortem approved." if decision == "approve" else "Postmortem sent back to draft."
    )


@router.post("/incidents/{key}/actions")
def add_action(request: Request, ctx: WebCtx, form: Form, key: str) -> Response:
    back = f"/incidents/{key}/postmortem"
    try:
        data = ActionCreate.model_validate(
            {
                "title": field(form, "title"),
                "description": field(form, "description"),
                "owner": field(form, "owner"),
                "due_date": field(form, "due_date") or None,
                "link_type": field(form, "link_type") or None,
                "link_ref": field(form, "link_ref") or None,
            }
        )
        item = postmortem.add_action(ctx, key, data)
        ctx.commit()
    except ValidationError as exc:
        return redirect(request, back, summary(field_errors(exc)), "error")
    except CharterError as exc:
        if exc.status == 403:
            raise
        return redirect(request, back, exc.detail, "error")
    return redirect(request, back, f"Action item '{item.title}' added.")


@router.post("/incidents/{key}/actions/{item_id}")
def update_action(request: Request, ctx: WebCtx, form: Form, key: str, item_id: int) -> Response:
    back = f"/incidents/{key}/postmortem"
    try:
        data = ActionUpdate.model_validate(
            {"version": optional_int(field(form, "version")), "status": field(form, "status") or None}
        )
        item = postmortem.update_action(ctx, item_id, data)
        ctx.commit()
    except ValidationError as exc:
        return redirect(request, back, summary(field_errors(exc)), "error")
    except CharterError as exc:
        if exc.status == 403:
            raise
        return redirect(request, back, exc.detail, "error")
    return redirect(request, back, f"Action item '{item.title}' is now {item.status.replace('_', ' ')}.")
