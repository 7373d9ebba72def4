"""The approval workflow of a procedure run: exceptions, submit, sign-off (approve or reject), reopen, cancel.

Each use case declares its permission, checks the transition table, appends to the ledger; never commits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from charter.kit.errors import Conflict, PermissionDenied, ValidationFailed
from charter.ledger.chain import snapshot
from charter.procedures import notices, queries, rules
from charter.procedures.models import ProcedureRun, RunItem
from charter.procedures.service import check_version, item_snap
from charter.procedures.template_schema import signoff_roles

if TYPE_CHECKING:
    from charter.context import Ctx

# Ledger action per target status.
ACTIONS = {
    "submitted": "run.submitted",
    "approved": "run.approved",
    "rejected": "run.rejected",
    "in_progress": "run.reopened",
    "cancelled": "run.cancelled",
}


def approve_exception(ctx: Ctx, run_id: int, item_id: str, justification: str, *, version: int) -> RunItem:
    """Governance accepts a failed or needs-review required item, with a justification."""
    ctx.require("reviews:exception")
    run = queries.get_run(ctx.session, run_id, for_update=True)
    if run.status not in rules.EXCEPTION_STATES:
        raise Conflict(
            f"run {run_id} is '{run.status}': exceptions can be approved only while in_progress or submitted"
        )
    item = queries.load(ctx.session, run, ctx.now()).item(item_id)
    check_version(f"item '{item_id}' of run {run_id}", version, item.version)
    if not item.required:
        raise Conflict(f"item '{item_id}' is optional: it does not block approval, so it needs no exception")
    if item.status not in rules.EXCEPTABLE:
        raise Conflict(f"item '{item_id}' is '{item.status}': exceptions are for items answered fail or needs_review")
    if item.exception_at is not None:
        raise Conflict(f"item '{item_id}' already has an exception approved by {item.exception_by}")
    if len(justification.strip()) < 10:
        raise ValidationFailed(
            "justification: say why the gap is acceptable (at least 10 characters)",
            errors=[{"loc": ["justification"], "msg": "too short"}],
        )
    if ctx.principal.user_id is not None and ctx.principal.user_id == item.answered_by_id:
        raise PermissionDenied(
            "separation of duties: you answered this item, so another governance member must approve its exception",
            rule="separation-of-duties",
        )
    before = item_snap(item)
    item.exception_justification = justification.strip()
    item.exception_by_id = ctx.principal.user_id
    item.exception_by = ctx.principal.name
    item.exception_at = ctx.now()
    item.version += 1
    run.updated_at = ctx.now()
    ctx.session.flush()
    ctx.record(
        "run.exception.approved",
        "procedure_run",
        run.id,
        before={item_id: before},
        after={item_id: item_snap(item)},
        reason=item.exception_justification,
    )
    return item


def _move(ctx: Ctx, run: ProcedureRun, target: str, version: int, reason: str | None) -> ProcedureRun:
    check_version(f"procedure run {run.id}", version, run.version)
    rules.check_transition(run.id, run.status, target)
    before = snapshot(run)
    now = ctx.now()
    if target == "submitted":
        run.submitted_at, run.submitted_by = now, ctx.principal.name
    elif target in ("approved", "rejected"):
        run.decided_at, run.decided_by_id, run.decided_by = now, ctx.principal.user_id, ctx.principal.name
        run.decision_reason = reason or ""
    elif target == "in_progress":
        run.decided_at = run.decided_by_id = run.decided_by = None
        run.decision_reason = ""
    run.status = target
    run.updated_at = now
    run.version += 1
    ctx.session.flush()
    ctx.record(ACTIONS[target], "procedure_run", run.id, before=before, after=snapshot(run), reason=reason)
    return run


def submit_run(ctx: Ctx, run_id: int, *, version: int, reason: str | None = None) -> ProcedureRun:
    """Hand the run over for sign-off. Every required item must have an answer (any answer)."""
    ctx.require("reviews:run")
    run = queries.get_run(ctx.session, run_id, for_update=True)
    check_version(f"procedure run {run.id}", version, run.version)
    rules.check_transition(run.id, run.status, "submitted")
    loaded = queries.load(ctx.session, run, ctx.now())
    unanswered = [i.item_id for i in loaded.items if i.required and i.status == "open"]
    if unanswered:
        raise Conflict(
            f"run {run_id} cannot be submitted: {len(unanswered)} required item(s) are not answered: "
            + ", ".join(unanswered),
            unanswered=unanswered,
        )
    moved = _move(ctx, run, "submitted", version, reason)
    notices.signoff_requested(ctx, moved, loaded.spec)
    return moved


def signoff_run(ctx: Ctx, run_id: int, decision: str, *, version: int, reason: str | None = None) -> ProcedureRun:
    """Approve or reject a submitted run.

    Approval needs every required item to pass (or be N/A with justification) or to have an exception
    approved by governance; the signer needs a sign-off role of the template and must not be the person
    who answered most items.
    """
    ctx.require("reviews:signoff")
    if decision not in ("approve", "reject"):
        raise ValidationFailed("decision must be approve or reject", errors=[{"loc": ["decision"], "msg": "invalid"}])
    run = queries.get_run(ctx.session, run_id, for_update=True)
    loaded = queries.load(ctx.session, run, ctx.now())
    target = "approved" if decision == "approve" else "rejected"
    check_version(f"procedure run {run.id}", version, run.version)
    rules.check_transition(run.id, run.status, target)
    allowed = signoff_roles(loaded.spec)
    if ctx.principal.role not in allowed and ctx.principal.role != "admin":
        raise PermissionDenied(
            f"run {run_id} ({run.template_key}) may be signed off by the roles {', '.join(sorted(allowed))}; "
            f"you are '{ctx.principal.role}'",
            allowed_roles=sorted(allowed),
        )
    top = rules.top_answerers(loaded.states)
    if ctx.principal.user_id is not None and ctx.principal.user_id in top:
        mine = sum(1 for s in loaded.states if s.answered_by_id == ctx.principal.user_id and s.status != "open")
        raise PermissionDenied(
            f"separation of duties: you answered the most items of run {run_id} ({mine} of {len(loaded.states)}), "
            "so another person must sign it off",
            rule="separation-of-duties",
        )
    if target == "approved" and loaded.blockers:
        listed = "; ".join(
            f"{a.item.item_id} ({a.status}{': ' + ', '.join(a.reasons) if a.reasons else ''})" for a in loaded.blockers
        )
        raise Conflict(
            f"run {run_id} cannot be approved: {len(loaded.blockers)} required item(s) are not met and have no "
            f"approved exception: {listed}. Fix and re-answer them (reopen the run), "
            "or ask governance for an exception.",
            blocking=[a.item.item_id for a in loaded.blockers],
        )
    if target == "rejected" and not (reason or "").strip():
        raise ValidationFailed(
            "reason is required to reject: say what must change", errors=[{"loc": ["reason"], "msg": "required"}]
        )
    moved = _move(ctx, run, target, version, reason)
    notices.signoff_decided(ctx, moved, loaded.spec)
    return moved


def reopen_run(ctx: Ctx, run_id: int, *, version: int, reason: str | None = None) -> ProcedureRun:
    """Back to in_progress (from submitted or rejected) so items can be re-answered."""
    ctx.require("reviews:run")
    return _move(ctx, queries.get_run(ctx.session, run_id, for_update=True), "in_progress", version, reason)


def cancel_run(ctx: Ctx, run_id: int, *, version: int, reason: str | None = None) -> ProcedureRun:
    ctx.require("reviews:run")
    if not (reason or "").strip():
        raise ValidationFailed("reason is required to cancel a run", errors=[{"loc": ["reason"], "msg": "required"}])
    return _move(ctx, queries.get_run(ctx.session, run_id, for_update=True), "cancelled", version, reason)
