"""Postmortems: write (draft), submit for review, approve or send back; action items."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, get_args

from fastapi import APIRouter, Request, Response

from charter.context import Ctx
from charter.incidents import queries
from charter.incidents.postmortems import service as postmortem
from charter.incidents.rules import ACTION_TRANSITIONS, LinkType
from charter.incidents.schemas import ActionCreate, ActionUpdate, PostmortemWrite, ReviewIn
from charter.kit.errors import NotFound
from charter.web.actions import run_and_redirect, run_or_rerender
from charter.web.deps import Form, WebCtx, WebRoute, field
from charter.web.forms import optional_int, values
from charter.web.render import render

if TYPE_CHECKING:
    from charter.incidents.models import ActionItem

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
    submit = field(form, "action") == "submit"

    def change() -> None:
        pm = postmortem.write(ctx, key, PostmortemWrite.model_validate(payload))
        if submit:
            ctx.session.flush()
            postmortem.submit(ctx, key, pm.version)

    return run_or_rerender(
        request,
        ctx,
        change,
        form_page=lambda status, errors: _page(request, ctx, key, status, form=values(form), errors=errors),
        to=f"/incidents/{key}/postmortem",
        ok=f"Postmortem {'submitted for review' if submit else 'saved as a draft'}.",
    )


@router.post("/incidents/{key}/postmortem/review")
def review(request: Request, ctx: WebCtx, form: Form, key: str) -> Response:
    decision = field(form, "decision")

    def change() -> None:
        data = ReviewIn.model_validate(
            {"version": optional_int(field(form, "version")), "note": field(form, "note") or None}
        )
        if decision == "approve":
            postmortem.approve(ctx, key, data)
        else:
            postmortem.send_back(ctx, key, data)

    return run_and_redirect(
        request,
        ctx,
        change,
        back=f"/incidents/{key}/postmortem",
        ok="Postmortem approved." if decision == "approve" else "Postmortem sent back to draft.",
    )


@router.post("/incidents/{key}/actions")
def add_action(request: Request, ctx: WebCtx, form: Form, key: str) -> Response:
    def change() -> ActionItem:
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
        return postmortem.add_action(ctx, key, data)

    return run_and_redirect(
        request,
        ctx,
        change,
        back=f"/incidents/{key}/postmortem",
        ok=lambda item: f"Action item '{item.title}' added.",
    )


@router.post("/incidents/{key}/actions/{item_id}")
def update_action(request: Request, ctx: WebCtx, form: Form, key: str, item_id: int) -> Response:
    def change() -> ActionItem:
        data = ActionUpdate.model_validate(
            {"version": optional_int(field(form, "version")), "status": field(form, "status") or None}
        )
        return postmortem.update_action(ctx, item_id, data)

    return run_and_redirect(
        request,
        ctx,
        change,
        back=f"/incidents/{key}/postmortem",
        ok=lambda item: f"Action item '{item.title}' is now {item.status.replace('_', ' ')}.",
    )
