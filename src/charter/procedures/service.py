"""Procedure run use cases: start, answer, assign, attach evidence; reading; facts for deployment gates.

The approval workflow (exceptions, submit, sign-off, reopen, cancel) is in workflow.py.

Each declares its permission, changes state, appends to the ledger; never commits. Other modules
call `start_run`, `answer_item`, `is_approved`, `open_items` and `gate_facts` (docs/procedures.md).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from charter.access.models import User
from charter.context import Ctx
from charter.evidence import service as evidence_service
from charter.evidence.models import Evidence
from charter.evidence.schemas import LinkCreate
from charter.evidence.service import get_evidence
from charter.kit.clock import SystemClock
from charter.kit.errors import Conflict, PermissionDenied, StaleVersion, ValidationFailed
from charter.kit.pagination import paginate
from charter.ledger.chain import snapshot
from charter.procedures import queries, rules
from charter.procedures.models import ProcedureRun, RunItem, RunItemEvidence
from charter.procedures.schemas import ItemUpdate, OpenItem, RunRead, RunSummary
from charter.procedures.subjects import resolve
from charter.procedures.template_schema import answer_roles
from charter.procedures.templates import get_template, spec_of

ACTIVE = ("in_progress", "submitted")


def user_id(session: Session, username: str, field: str) -> int:
    uid = session.execute(select(User.id).where(User.username == username)).scalar_one_or_none()
    if uid is None:
        raise ValidationFailed(f"{field}: no user named '{username}'", errors=[{"loc": [field], "msg": "unknown user"}])
    return uid


def start_run(
    ctx: Ctx,
    template_key: str,
    subject_type: str,
    subject_id: int,
    *,
    version: int | None = None,
    title: str | None = None,
    assignee_id: int | None = None,
) -> ProcedureRun:
    """Start a run of a template (default: its latest version) for a subject; items start 'open'.

    Items get `assignee_id` (if given) and a due time from the template's `due_within_minutes`.
    Refused while another run of the same template is active (in_progress/submitted) for the subject.
    """
    ctx.require("reviews:run")
    template = get_template(ctx.session, template_key, version)
    spec = spec_of(template)
    if subject_type not in spec.applies_to:
        raise ValidationFailed(
            f"template '{template_key}' applies to {', '.join(spec.applies_to)}, not to a {subject_type}",
            errors=[{"loc": ["subject_type"], "msg": "template does not apply"}],
        )
    subject_id, subject_label = resolve(ctx.session, subject_type, subject_id)
    active = ctx.session.execute(
        select(ProcedureRun.id).where(
            ProcedureRun.template_key == template_key,
            ProcedureRun.subject_type == subject_type,
            ProcedureRun.subject_id == subject_id,
            ProcedureRun.status.in_(ACTIVE),
        )
    ).scalar()
    if active is not None:
        raise Conflict(
            f"run {active} of '{template_key}' is already active for {subject_type} {subject_label}; "
            "finish or cancel it before starting another",
            run_id=active,
        )
    now = ctx.now()
    run = ProcedureRun(
        template_id=template.id,
        template_key=template.key,
        template_version=template.version,
        title=(title or f"{spec.title}: {subject_label}")[:300],
        subject_type=subject_type,
        subject_id=subject_id,
        status="in_progress",
        started_by_id=ctx.principal.user_id,
        started_by=ctx.principal.name,
        started_at=now,
        updated_at=now,
        decision_reason="",
        version=1,
    )
    ctx.session.add(run)
    ctx.session.flush()
    for position, (section, item) in enumerate(spec.items()):
        ctx.session.add(
            RunItem(
                run_id=run.id,
                section_id=section.id,
                item_id=item.id,
                position=position,
                required=item.required,
                evidence_required=item.evidence_required,
                status="open",
                response="",
                justification="",
                assignee_id=assignee_id,
                due_at=now + timedelta(minutes=item.due_within_minutes) if item.due_within_minutes else None,
                version=1,
            )
        )
    ctx.session.flush()
    ctx.record("run.started", "procedure_run", run.id, after=snapshot(run))
    return run


def check_version(what: str, given: int, current: int) -> None:
    if given != current:
        raise StaleVersion(what, given, current)


def item_snap(item: RunItem) -> dict[str, Any]:
    return snapshot(item, exclude=frozenset({"id", "run_id", "position"}))


def update_item(ctx: Ctx, run_id: int, item_id: str, data: ItemUpdate) -> RunItem:
    """Answer an item and/or assign it. Answers change only while the run is in progress."""
    ctx.require("reviews:run")
    run = queries.get_run(ctx.session, run_id, for_update=True)
    loaded = queries.load(ctx.session, run, ctx.now())
    item = loaded.item(item_id)
    check_version(f"item '{item_id}' of run {run_id}", data.version, item.version)
    fields = data.model_fields_set
    answering = data.status is not None
    changing = answering or "assignee" in fields or "due_at" in fields
    if changing and run.status not in rules.ANSWERABLE:
        raise Conflict(
            f"run {run_id} is '{run.status}': items can be answered or assigned only while it is in_progress"
            + ("; reopen it first" if "in_progress" in rules.TRANSITIONS[run.status] else "")
        )
    before = item_snap(item)
    reason = None
    if data.status is not None:
        item_spec = loaded.spec.item(item_id)
        assert item_spec is not None
        roles = answer_roles(item_spec)
        if ctx.principal.role not in roles and ctx.principal.role != "admin":
            raise PermissionDenied(
                f"item '{item_id}' may be answered by the roles {', '.join(sorted(roles))}; "
                f"you are '{ctx.principal.role}'",
                allowed_roles=sorted(roles),
            )
        response = (data.response or "").strip()
        justification = (data.justification or "").strip()
        if data.status == "not_applicable" and not justification:
            raise ValidationFailed(
                f"item '{item_id}': not_applicable needs a justification saying why the question does not apply",
                errors=[{"loc": ["justification"], "msg": "required for not_applicable"}],
            )
        if data.status in ("fail", "needs_review") and not response:
            raise ValidationFailed(
                f"item '{item_id}': a {data.status} answer needs a response saying what is missing",
                errors=[{"loc": ["response"], "msg": f"required for {data.status}"}],
            )
        if item.exception_at is not None:
            reason = "re-answered: the approved exception no longer applies"
        item.status = data.status
        item.response = response
        item.justification = justification
        item.answered_by_id = ctx.principal.user_id
        item.answered_by = ctx.principal.name
        item.answered_at = ctx.now()
        item.exception_justification = item.exception_by = None
        item.exception_by_id = item.exception_at = None
    if "assignee" in fields:
        item.assignee_id = user_id(ctx.session, data.assignee, "assignee") if data.assignee else None
    if "due_at" in fields:
        item.due_at = data.due_at
    if changing:
        item.version += 1
        run.updated_at = ctx.now()
        ctx.session.flush()
        action = "run.item.answered" if answering else "run.item.assigned"
        ctx.record(
            action, "procedure_run", run.id, before={item_id: before}, after={item_id: item_snap(item)}, reason=reason
        )
    for evidence_id in data.evidence_ids:
        link_evidence(ctx, run_id, item_id, evidence_id)
    return item


def answer_item(
    ctx: Ctx,
    run_id: int,
    item_id: str,
    status: str,
    *,
    version: int,
    response: str = "",
    justification: str = "",
    evidence_ids: tuple[int, ...] = (),
) -> RunItem:
    """Answer one item (pass, fail, needs_review, not_applicable). For modules completing runbook tasks."""
    data = ItemUpdate.model_validate(
        {
            "version": version,
            "status": status,
            "response": response,
            "justification": justification,
            "evidence_ids": list(evidence_ids),
        }
    )
    return update_item(ctx, run_id, item_id, data)


def link_evidence(ctx: Ctx, run_id: int, item_id: str, evidence_id: int) -> bool:
    """Attach evidence to an item (idempotent: False when it was already attached)."""
    ctx.require("evidence:write")
    run = queries.get_run(ctx.session, run_id)
    if run.status not in rules.EVIDENCE_STATES:
        raise Conflict(f"run {run_id} is '{run.status}': evidence can be attached only while in_progress or submitted")
    item = queries.load(ctx.session, run, ctx.now()).item(item_id)
    evidence = get_evidence(ctx.session, evidence_id)
    if ctx.session.get(RunItemEvidence, (item.id, evidence.id)) is not None:
        return False
    ctx.session.add(
        RunItemEvidence(run_item_id=item.id, evidence_id=evidence.id, linked_by=ctx.principal.name, linked_at=ctx.now())
    )
    run.updated_at = ctx.now()
    ctx.session.flush()
    ctx.record(
        "run.item.evidence_linked",
        "procedure_run",
        run.id,
        after={"item_id": item_id, "evidence_id": evidence.id, "title": evidence.title, "sha256": evidence.sha256},
    )
    return True


# --- reading ---------------------------------------------------------------------------------------


def read_run(ctx: Ctx, run_id: int) -> RunRead:
    ctx.require("sops:read")
    loaded = queries.load(ctx.session, queries.get_run(ctx.session, run_id), ctx.now())
    return queries.run_read(ctx.session, loaded)


SORTABLE = {"id": ProcedureRun.id, "started_at": ProcedureRun.started_at, "updated_at": ProcedureRun.updated_at}


def list_runs(
    ctx: Ctx,
    *,
    subject_type: str | None = None,
    subject_id: int | None = None,
    template: str | None = None,
    status: str | None = None,
    sort: str = "-id",
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[RunSummary], str | None]:
    """Runs, newest first by default."""
    ctx.require("sops:read")
    stmt = select(ProcedureRun)
    if subject_type:
        stmt = stmt.where(ProcedureRun.subject_type == subject_type)
    if subject_id is not None:
        stmt = stmt.where(ProcedureRun.subject_id == subject_id)
    if template:
        stmt = stmt.where(ProcedureRun.template_key == template)
    if status:
        stmt = stmt.where(ProcedureRun.status == status)
    rows, next_cursor = paginate(
        ctx.session, stmt, sort=sort, sortable=SORTABLE, id_col=ProcedureRun.id, limit=limit, cursor=cursor
    )
    out = []
    for run in rows:
        loaded = queries.load(ctx.session, run, ctx.now())
        out.append(queries.summary(run, loaded.spec.kind, rules.completion(loaded.states).pct))
    return out, next_cursor


def _now(now: datetime | None) -> datetime:
    if now is not None:
        return now

    return SystemClock().now()


def is_approved(session: Session, run_id: int, now: datetime | None = None) -> bool:
    """True when the run is approved and still meets the bar at `now` (no evidence expired since)."""
    return queries.load(session, queries.get_run(session, run_id), _now(now)).approved


def open_items(session: Session, run_id: int, now: datetime | None = None) -> list[OpenItem]:
    """Items not passing at `now`: unanswered, fail, needs_review, or a pass flagged for review."""
    return queries.open_items(queries.load(session, queries.get_run(session, run_id), _now(now)))


# ----------------------------------------------------------------------------- evidence added to a run item


def _attach(ctx: Ctx, evidence_id: int, run_id: int | None, item_id: str | None) -> None:
    if run_id is None and item_id is None:
        return
    if run_id is None or not item_id:
        raise ValidationFailed(
            "give both run_id and item_id to attach the evidence to a run item",
            errors=[{"loc": ["run_id" if run_id is None else "item_id"], "msg": "required with the other"}],
        )
    link_evidence(ctx, run_id, item_id, evidence_id)


def add_file_evidence(
    ctx: Ctx,
    stream: BinaryIO,
    filename: str,
    *,
    title: str | None,
    description: str,
    expires_at: datetime | None,
    run_id: int | None = None,
    item_id: str | None = None,
) -> Evidence:
    """Store a file as evidence and, given run_id and item_id, attach it to that run item."""
    evidence = evidence_service.add_file(
        ctx, stream, filename, title=title, description=description, expires_at=expires_at
    )
    _attach(ctx, evidence.id, run_id, item_id)
    return evidence


def add_link_evidence(ctx: Ctx, data: LinkCreate) -> Evidence:
    """Store a link as evidence and, given run_id and item_id, attach it to that run item."""
    evidence = evidence_service.add_link(ctx, data)
    _attach(ctx, evidence.id, data.run_id, data.item_id)
    return evidence
