"""Coverage part (charter.kit.coverage): which SOP items a system has answered in an approved run.

`sop:<template>/<item>` is met when the latest run of the template on the system is approved and the item passed;
partial when it passed in a run not yet approved, or failed under an approved exception; missing otherwise.
Cancelled runs are ignored.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Final

from sqlalchemy import select

from charter.context import Ctx
from charter.evidence.models import Evidence
from charter.kit.coverage import ControlState, ControlStatus, EvidenceItem, Subject
from charter.procedures.models import ProcedureRun, RunItem, RunItemEvidence

KINDS: Final = ("sop",)


def _latest_runs(ctx: Ctx, subject: Subject) -> list[ProcedureRun]:
    runs = ctx.session.execute(
        select(ProcedureRun)
        .where(
            ProcedureRun.subject_type == "system",
            ProcedureRun.subject_id == subject.id,
            ProcedureRun.status != "cancelled",
        )
        .order_by(ProcedureRun.started_at.desc(), ProcedureRun.id.desc())
    ).scalars()
    latest: dict[str, ProcedureRun] = {}
    for run in runs:
        latest.setdefault(run.template_key, run)
    return [latest[k] for k in sorted(latest)]


def _item_state(run: ProcedureRun, item: RunItem) -> tuple[ControlStatus, str]:
    where = f"{run.template_key} run {run.id} ({run.status})"
    if run.status == "rejected":
        return "missing", f"{where}: the run was rejected by {run.decided_by}"
    if item.status == "pass":
        if run.status == "approved":
            return "met", f"{where}: answered pass by {item.answered_by}, approved by {run.decided_by}"
        return "partial", f"{where}: answered pass by {item.answered_by}; the run is not approved yet"
    if item.status == "fail" and item.exception_by:
        return "partial", f"{where}: failed, with an exception approved by {item.exception_by}"
    if item.status == "not_applicable":
        return "partial", f"{where}: marked not applicable ({item.justification or 'no justification'})"
    return "missing", f"{where}: the item is {item.status}"


def control_states(ctx: Ctx, subject: Subject) -> list[ControlState]:
    ctx.require("sops:read")
    runs = _latest_runs(ctx, subject)
    if not runs:
        return []
    items = list(
        ctx.session.execute(
            select(RunItem).where(RunItem.run_id.in_([r.id for r in runs])).order_by(RunItem.run_id, RunItem.position)
        ).scalars()
    )
    files: dict[int, list[Evidence]] = defaultdict(list)
    for item_id, evidence in ctx.session.execute(
        select(RunItemEvidence.run_item_id, Evidence)
        .join(Evidence, Evidence.id == RunItemEvidence.evidence_id)
        .where(RunItemEvidence.run_item_id.in_([i.id for i in items]))
        .order_by(Evidence.id)
    ).all():
        files[item_id].append(evidence)
    by_id = {r.id: r for r in runs}
    states = []
    for item in items:
        run = by_id[item.run_id]
        status, why = _item_state(run, item)
        run_evidence = EvidenceItem(
            ref=f"sop-run:{run.id}",
            title=f"{run.title} ({run.status})",
            at=run.decided_at or run.updated_at,
            ledger=("procedure_run", str(run.id)),
        )
        attached = tuple(
            EvidenceItem(
                ref=f"evidence:{e.id}",
                title=e.title,
                at=e.added_at,
                sha256=e.sha256,
                ledger=("evidence", str(e.id)),
                evidence_id=e.id if e.kind == "file" else None,
            )
            for e in files[item.id]
        )
        states.append(ControlState(f"sop:{run.template_key}/{item.item_id}", status, why, (run_evidence, *attached)))
    return states
