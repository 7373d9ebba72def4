"""Postmortems: structured, reviewed, approved by someone other than the author; action items that close
the loop Incident → RCA → Improvement → Update (each may link the risk, procedure or release it changes).

An incident whose severity requires it (severities.yaml postmortem_required) cannot close until its
postmortem is approved.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from charter.access.service import users_who_can
from charter.context import Ctx
from charter.incidents import catalog
from charter.incidents.models import ActionItem, Incident, Postmortem
from charter.incidents.queries import seconds
from charter.incidents.rules import (
    ACTION_OPEN,
    POSTMORTEM_TRANSITIONS,
    check_action_transition,
    check_postmortem_transition,
)
from charter.incidents.schemas import ActionCreate, ActionRead, ActionUpdate, PostmortemRead, PostmortemWrite, ReviewIn
from charter.incidents.store import automatic, get_incident, user_by_name, usernames
from charter.incidents.timeline import add_event
from charter.kit.errors import Conflict, NotFound, StaleVersion, ValidationFailed
from charter.kit.principal import require_distinct
from charter.ledger.chain import snapshot
from charter.notifications.service import notify
from charter.procedures.models import ProcedureRun, SopTemplate
from charter.releases.models import Release
from charter.risk.models import Risk

LIST_FIELDS = ("contributing_factors", "five_whys", "went_well", "went_badly")
REQUIRED_TO_SUBMIT = ("summary", "root_cause", "impact_harm", "detection")


def _snap(obj: Any) -> dict[str, Any]:
    return snapshot(obj, exclude=frozenset({"id"}))


def get_postmortem(session: Session, incident: Incident) -> Postmortem:
    pm = session.execute(select(Postmortem).where(Postmortem.incident_id == incident.id)).scalar_one_or_none()
    if pm is None:
        raise NotFound(f"incident {incident.key} has no postmortem yet; write one first", entity="postmortem")
    return pm


def check_close_gate(session: Session, incident: Incident) -> None:
    """Refuse closing when the severity requires an approved postmortem and there is none."""
    sev = catalog.load().severities.get(incident.severity)
    if sev is None or not sev.postmortem_required:
        return
    status = session.execute(select(Postmortem.status).where(Postmortem.incident_id == incident.id)).scalar()
    if status != "approved":
        raise Conflict(
            f"incident {incident.key} is {incident.severity}: its postmortem must be approved before it can close "
            f"(postmortem: {status or 'not written'}). Write it with 'charter incident postmortem edit "
            f"{incident.key}', submit it, and have an approver approve it.",
            rule="postmortem-required",
            postmortem_status=status,
        )


# ----------------------------------------------------------------------------- the document


def write(ctx: Ctx, key: str, data: PostmortemWrite) -> Postmortem:
    """Create the postmortem (you become its author) or change a draft (send the version you read)."""
    ctx.require("incidents:write")
    incident = get_incident(ctx.session, key)
    if incident.status_category in ("declined", "duplicate"):
        raise Conflict(f"incident {incident.key} is {incident.status}; it gets no postmortem")
    pm = ctx.session.execute(select(Postmortem).where(Postmortem.incident_id == incident.id)).scalar_one_or_none()
    now = ctx.now()
    fields = data.model_dump(exclude_unset=True, exclude={"version"})
    if pm is None:
        pm = Postmortem(
            incident_id=incident.id,
            status="draft",
            summary="",
            impact_harm="",
            detection="",
            root_cause="",
            impact_users=incident.affected_users,
            author_id=ctx.principal.user_id,
            created_at=now,
            updated_at=now,
            version=1,
            **{f: [] for f in LIST_FIELDS},
        )
        for field, value in fields.items():
            setattr(pm, field, value)
        ctx.session.add(pm)
        ctx.session.flush()
        add_event(ctx, incident, "postmortem", "postmortem started")
        ctx.record("incident.postmortem.created", "incident", incident.key, after=_snap(pm))
        return pm
    if data.version is None:
        raise ValidationFailed("version is required to change a postmortem (send the version you read)")
    if data.version != pm.version:
        raise StaleVersion(f"postmortem of {incident.key}", data.version, pm.version)
    if pm.status != "draft":
        raise Conflict(
            f"the postmortem of {incident.key} is {pm.status}: only a draft can change"
            + (" (an approver can send it back to draft)" if pm.status == "in_review" else "")
        )
    before = _snap(pm)
    for field, value in fields.items():
        setattr(pm, field, value)
    pm.version += 1
    pm.updated_at = now
    ctx.session.flush()
    ctx.record("incident.postmortem.updated", "incident", incident.key, before, _snap(pm))
    return pm


def _move(ctx: Ctx, incident: Incident, pm: Postmortem, target: str, version: int, note: str | None) -> Postmortem:
    if version != pm.version:
        raise StaleVersion(f"postmortem of {incident.key}", version, pm.version)
    check_postmortem_transition(incident.key, pm.status, target)
    before = _snap(pm)
    now = ctx.now()
    previous = pm.status
    pm.status = target
    if target == "in_review":
        pm.submitted_at = now
    if target == "approved":
        pm.approved_at = now
        pm.approved_by_id = ctx.principal.user_id
    pm.review_note = note if note is not None else pm.review_note
    pm.version += 1
    pm.updated_at = now
    ctx.session.flush()
    add_event(
        ctx,
        incident,
        "postmortem",
        f"postmortem {previous} → {target}" + (f": {note}" if note else ""),
        {"from": previous, "to": target},
    )
    ctx.record(f"incident.postmortem.{target}", "incident", incident.key, before, _snap(pm), note)
    return pm


def submit(ctx: Ctx, key: str, version: int) -> Postmortem:
    ctx.require("incidents:write")
    incident = get_incident(ctx.session, key)
    pm = get_postmortem(ctx.session, incident)
    missing = [f for f in REQUIRED_TO_SUBMIT if not (getattr(pm, f) or "").strip()]
    if not pm.five_whys:
        missing.append("five_whys")
    if missing:
        raise ValidationFailed(
            f"the postmortem of {incident.key} is not complete; fill in: {', '.join(missing)}",
            errors=[{"loc": [m], "msg": "required to submit"} for m in missing],
        )
    pm = _move(ctx, incident, pm, "in_review", version, None)

    reviewers = users_who_can(ctx.session, "reviews:signoff", roles=("governance", "approver"), exclude=(pm.author_id,))
    notify(
        automatic(ctx),
        "incident.postmortem_review",
        recipients=reviewers,
        subject=f"Postmortem of {incident.key} awaits approval: {incident.title}",
        payload={
            "incident": incident.key,
            "url": f"{ctx.settings.base_url}/api/v1/incidents/{incident.key}/postmortem",
        },
        entity=("incident", incident.key),
    )
    return pm


def approve(ctx: Ctx, key: str, data: ReviewIn) -> Postmortem:
    """Approve (reviews:signoff; not the author: separation of duties)."""
    ctx.require("reviews:signoff")
    incident = get_incident(ctx.session, key)
    pm = get_postmortem(ctx.session, incident)
    require_distinct(ctx.principal, pm.author_id, "approve the postmortem you wrote:")
    return _move(ctx, incident, pm, "approved", data.version, data.note)


def send_back(ctx: Ctx, key: str, data: ReviewIn) -> Postmortem:
    ctx.require("reviews:signoff")
    if not data.note:
        raise ValidationFailed("note is required: say what must change", errors=[{"loc": ["note"], "msg": "required"}])
    incident = get_incident(ctx.session, key)
    pm = get_postmortem(ctx.session, incident)
    return _move(ctx, incident, pm, "draft", data.version, data.note)


# ----------------------------------------------------------------------------- action items


def _check_link(session: Session, link_type: str | None, link_ref: str | None) -> None:
    """An action item's link must name something that exists (when its module is installed)."""
    if (link_type is None) != (link_ref is None):
        raise ValidationFailed("link_type and link_ref go together: give both or neither")
    if link_type is None or link_ref is None:
        return

    if link_type == "risk":
        if session.execute(select(Risk.id).where(Risk.key == link_ref)).first() is None:
            raise ValidationFailed(f"link_ref: no risk with key '{link_ref}'")
    elif link_type == "procedure":
        if session.execute(select(SopTemplate.id).where(SopTemplate.key == link_ref)).first() is None:
            raise ValidationFailed(f"link_ref: no procedure template with key '{link_ref}'")
    elif link_type == "procedure_run":
        if not link_ref.isdigit() or session.get(ProcedureRun, int(link_ref)) is None:
            raise ValidationFailed(f"link_ref: no procedure run {link_ref!r} (give the run id)")
    elif not link_ref.isdigit() or session.get(Release, int(link_ref)) is None:
        raise ValidationFailed(f"link_ref: no release with id '{link_ref}' (give the release id)")


def action_read(item: ActionItem, incident_key: str, owner: str, today: date) -> ActionRead:
    return ActionRead(
        id=item.id,
        incident=incident_key,
        title=item.title,
        description=item.description,
        owner=owner,
        due_date=item.due_date,
        status=item.status,
        overdue=item.status in ACTION_OPEN and item.due_date < today,
        link_type=item.link_type,
        link_ref=item.link_ref,
        completed_at=item.completed_at,
        created_at=item.created_at,
        updated_at=item.updated_at,
        version=item.version,
    )


def add_action(ctx: Ctx, key: str, data: ActionCreate) -> ActionItem:
    ctx.require("incidents:write")
    incident = get_incident(ctx.session, key)
    pm = get_postmortem(ctx.session, incident)
    owner = user_by_name(ctx.session, data.owner, "owner")
    _check_link(ctx.session, data.link_type, data.link_ref)
    now = ctx.now()
    item = ActionItem(
        postmortem_id=pm.id,
        incident_id=incident.id,
        title=data.title,
        description=data.description,
        owner_id=owner.id,
        due_date=data.due_date,
        status="open",
        link_type=data.link_type,
        link_ref=data.link_ref,
        created_at=now,
        updated_at=now,
        version=1,
    )
    ctx.session.add(item)
    ctx.session.flush()
    add_event(
        ctx, incident, "postmortem", f"action item {item.id} for {owner.username}, due {data.due_date}: {data.title}"
    )
    ctx.record("incident.action.created", "incident_action", item.id, after=_snap(item))
    return item


def update_action(ctx: Ctx, item_id: int, data: ActionUpdate) -> ActionItem:
    ctx.require("incidents:write")
    item = ctx.session.get(ActionItem, item_id)
    if item is None:
        raise NotFound(f"no action item {item_id}", entity="action_item")
    if data.version != item.version:
        raise StaleVersion(f"action item {item_id}", data.version, item.version)
    changes = data.model_dump(exclude_unset=True, exclude={"version"})
    if "status" in changes and changes["status"] != item.status:
        check_action_transition(item.id, item.status, changes["status"])
    if "owner" in changes:
        changes["owner_id"] = user_by_name(ctx.session, changes.pop("owner"), "owner").id
    if "link_type" in changes or "link_ref" in changes:
        _check_link(ctx.session, changes.get("link_type", item.link_type), changes.get("link_ref", item.link_ref))
    before = _snap(item)
    now = ctx.now()
    for field, value in changes.items():
        setattr(item, field, value)
    if "status" in changes:
        item.completed_at = now if item.status == "done" else None
        item.overdue_notified_at = None if item.status in ACTION_OPEN else item.overdue_notified_at
    item.version += 1
    item.updated_at = now
    ctx.session.flush()
    ctx.record("incident.action.updated", "incident_action", item.id, before, _snap(item))
    return item


def read(ctx: Ctx, key: str) -> PostmortemRead:
    ctx.require("incidents:read")
    incident = get_incident(ctx.session, key)
    return to_read(ctx.session, incident, get_postmortem(ctx.session, incident), ctx.now().date())


def to_read(session: Session, incident: Incident, pm: Postmortem, today: date) -> PostmortemRead:
    items = list(session.scalars(select(ActionItem).where(ActionItem.postmortem_id == pm.id).order_by(ActionItem.id)))
    names = usernames(session, [pm.author_id, pm.approved_by_id, *(i.owner_id for i in items)])
    return PostmortemRead(
        incident=incident.key,
        status=pm.status,
        summary=pm.summary,
        impact_users=pm.impact_users,
        impact_duration_minutes=pm.impact_duration_minutes,
        impact_harm=pm.impact_harm,
        detection=pm.detection,
        durations=seconds(incident),
        root_cause=pm.root_cause,
        contributing_factors=list(pm.contributing_factors or []),
        five_whys=list(pm.five_whys or []),
        went_well=list(pm.went_well or []),
        went_badly=list(pm.went_badly or []),
        action_items=[action_read(i, incident.key, names.get(i.owner_id, "?"), today) for i in items],
        author=names.get(pm.author_id) if pm.author_id else None,
        submitted_at=pm.submitted_at,
        approved_by=names.get(pm.approved_by_id) if pm.approved_by_id else None,
        approved_at=pm.approved_at,
        review_note=pm.review_note,
        allowed_transitions=sorted(POSTMORTEM_TRANSITIONS[pm.status]),
        created_at=pm.created_at,
        updated_at=pm.updated_at,
        version=pm.version,
    )
