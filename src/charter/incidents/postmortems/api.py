"""Postmortem and action-item routes (included by incidents/api.py under /incidents)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from charter.access.deps import CtxDep
from charter.incidents.export import postmortem_markdown
from charter.incidents.metrics import overdue_actions
from charter.incidents.models import Incident
from charter.incidents.postmortems import service as postmortem
from charter.incidents.schemas import ActionCreate, ActionRead, ActionUpdate, PostmortemRead, PostmortemWrite, ReviewIn
from charter.incidents.store import get_incident, usernames
from charter.kit.routing import API

router = APIRouter(prefix=f"{API}/incidents", tags=["incidents"])


def _pm(ctx: CtxDep, key: str) -> PostmortemRead:
    incident = get_incident(ctx.session, key)
    return postmortem.to_read(ctx.session, incident, postmortem.get_postmortem(ctx.session, incident), ctx.now().date())


@router.get("/actions/overdue", summary="Open action items past their due date")
def list_overdue(ctx: CtxDep, system: str | None = None) -> list[ActionRead]:
    return overdue_actions(ctx, system)


@router.patch("/actions/{item_id}", summary="Change an action item (status, owner, due date, link)")
def update_action(item_id: int, body: ActionUpdate, ctx: CtxDep) -> ActionRead:
    item = postmortem.update_action(ctx, item_id, body)
    ctx.commit()
    incident = ctx.session.get(Incident, item.incident_id)
    owner = usernames(ctx.session, [item.owner_id]).get(item.owner_id, "?")
    return postmortem.action_read(item, incident.key if incident else "?", owner, ctx.now().date())


@router.get("/{key}/postmortem", summary="Read the postmortem (durations computed from the timeline)")
def read_postmortem(key: str, ctx: CtxDep) -> PostmortemRead:
    return postmortem.read(ctx, key)


@router.get("/{key}/postmortem.md", response_class=PlainTextResponse, summary="The postmortem as Markdown")
def export_postmortem(key: str, ctx: CtxDep) -> PlainTextResponse:
    return PlainTextResponse(postmortem_markdown(ctx, key), media_type="text/markdown; charset=utf-8")


@router.put("/{key}/postmortem", summary="Write the postmortem (creates it; a change needs the version you read)")
def write_postmortem(key: str, body: PostmortemWrite, ctx: CtxDep) -> PostmortemRead:
    postmortem.write(ctx, key, body)
    ctx.commit()
    return _pm(ctx, key)


@router.post("/{key}/postmortem/submit", summary="Submit the postmortem for approval")
def submit_postmortem(key: str, body: ReviewIn, ctx: CtxDep) -> PostmortemRead:
    postmortem.submit(ctx, key, body.version)
    ctx.commit()
    return _pm(ctx, key)


@router.post("/{key}/postmortem/approve", summary="Approve the postmortem (not its author)")
def approve_postmortem(key: str, body: ReviewIn, ctx: CtxDep) -> PostmortemRead:
    postmortem.approve(ctx, key, body)
    ctx.commit()
    return _pm(ctx, key)


@router.post("/{key}/postmortem/send-back", summary="Send the postmortem back to draft with a note")
def send_back_postmortem(key: str, body: ReviewIn, ctx: CtxDep) -> PostmortemRead:
    postmortem.send_back(ctx, key, body)
    ctx.commit()
    return _pm(ctx, key)


@router.post("/{key}/postmortem/actions", status_code=201, summary="Add an action item")
def add_action(key: str, body: ActionCreate, ctx: CtxDep) -> ActionRead:
    item = postmortem.add_action(ctx, key, body)
    ctx.commit()
    owner = usernames(ctx.session, [item.owner_id]).get(item.owner_id, "?")
    return postmortem.action_read(item, key.upper(), owner, ctx.now().date())
