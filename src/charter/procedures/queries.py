"""Loading a run with its items and evidence, assessing it, and shaping it for reading."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from charter.access.models import User
from charter.context import Ctx
from charter.evidence.models import Evidence
from charter.evidence.rules import is_expired
from charter.evidence.service import to_read as evidence_read
from charter.inventory.models import AISystem
from charter.kit.errors import NotFound
from charter.procedures import rules
from charter.procedures.loader import shipped_templates
from charter.procedures.models import ProcedureRun, RunItem, RunItemEvidence, SopTemplate
from charter.procedures.schemas import ExceptionRead, ItemRead, OpenItem, RunRead, RunSummary, SectionRead
from charter.procedures.subjects import describe
from charter.procedures.template_schema import TemplateSpec, answer_roles, signoff_roles
from charter.procedures.templates import latest_templates, spec_of

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


@dataclass
class LoadedRun:
    """A run with everything the rules need, assessed at one instant."""

    run: ProcedureRun
    spec: TemplateSpec
    items: list[RunItem]
    evidence: dict[int, list[Evidence]]  # RunItem.id → evidence
    states: list[rules.ItemState]
    assessments: list[rules.Assessment]
    now: datetime

    @property
    def blockers(self) -> list[rules.Assessment]:
        return [a for a in self.assessments if a.blocking]

    @property
    def can_approve(self) -> bool:
        return not self.blockers

    @property
    def approved(self) -> bool:
        """Approved, and still meeting the bar now (evidence may have expired since)."""
        return self.run.status == "approved" and self.can_approve

    def item(self, item_id: str) -> RunItem:
        for row in self.items:
            if row.item_id == item_id:
                return row
        known = ", ".join(r.item_id for r in self.items)
        raise NotFound(f"run {self.run.id} has no item '{item_id}'; its items: {known}", entity="item")


def get_run(session: Session, run_id: int, *, for_update: bool = False) -> ProcedureRun:
    stmt = select(ProcedureRun).where(ProcedureRun.id == run_id)
    if for_update and session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    run = session.execute(stmt).scalar_one_or_none()
    if run is None:
        raise NotFound(f"no procedure run with id {run_id}", entity="run")
    return run


def state_of(item: RunItem, evidence: list[Evidence], now: datetime) -> rules.ItemState:
    return rules.ItemState(
        item_id=item.item_id,
        section_id=item.section_id,
        required=item.required,
        evidence_required=item.evidence_required,
        status=item.status,
        justification=item.justification,
        has_exception=item.exception_at is not None,
        evidence_count=len(evidence),
        expired_evidence=tuple(e.title for e in evidence if is_expired(e.expires_at, now)),
        answered_by_id=item.answered_by_id,
    )


def load(session: Session, run: ProcedureRun, now: datetime) -> LoadedRun:
    template = session.get(SopTemplate, run.template_id)
    assert template is not None  # FK
    spec = TemplateSpec.model_validate(template.definition)
    items = list(session.execute(select(RunItem).where(RunItem.run_id == run.id).order_by(RunItem.position)).scalars())
    evidence: dict[int, list[Evidence]] = {i.id: [] for i in items}
    if items:
        rows = session.execute(
            select(RunItemEvidence.run_item_id, Evidence)
            .join(Evidence, Evidence.id == RunItemEvidence.evidence_id)
            .where(RunItemEvidence.run_item_id.in_(list(evidence)))
            .order_by(Evidence.id)
        ).all()
        for item_pk, ev in rows:
            evidence[item_pk].append(ev)
    states = [state_of(i, evidence[i.id], now) for i in items]
    return LoadedRun(run, spec, items, evidence, states, [rules.assess(s) for s in states], now)


def usernames(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(select(User.id, User.username).where(User.id.in_(ids))).all()
    return {uid: name for uid, name in rows}


def open_items(loaded: LoadedRun) -> list[OpenItem]:
    out = []
    for row, a in zip(loaded.items, loaded.assessments, strict=True):
        if not a.open:
            continue
        item_spec = loaded.spec.item(row.item_id)
        out.append(
            OpenItem(
                item_id=row.item_id,
                section_id=row.section_id,
                question=item_spec.question if item_spec else row.item_id,
                status=a.status,
                answered=row.status != "open",
                required=row.required,
                blocking=a.blocking,
                excepted=a.excepted,
                reasons=list(a.reasons),
                response=row.response,
            )
        )
    return out


def summary(run: ProcedureRun, kind: str, completion_pct: float) -> RunSummary:
    return RunSummary(
        id=run.id,
        template_key=run.template_key,
        template_version=run.template_version,
        title=run.title,
        kind=kind,
        subject_type=run.subject_type,
        subject_id=run.subject_id,
        status=run.status,
        completion_pct=completion_pct,
        started_by=run.started_by,
        started_at=run.started_at,
        updated_at=run.updated_at,
        version=run.version,
    )


def run_read(session: Session, loaded: LoadedRun) -> RunRead:
    run, spec = loaded.run, loaded.spec
    names = usernames(
        session,
        {i.assignee_id for i in loaded.items if i.assignee_id} | set(rules.top_answerers(loaded.states)),
    )
    comp = rules.completion(loaded.states)
    by_section: dict[str, list[ItemRead]] = {s.id: [] for s in spec.sections}
    for row, a in zip(loaded.items, loaded.assessments, strict=True):
        item_spec = spec.item(row.item_id)
        assert item_spec is not None  # items are created from the same template version
        by_section[row.section_id].append(
            ItemRead(
                item_id=row.item_id,
                section_id=row.section_id,
                question=item_spec.question,
                guidance=item_spec.guidance,
                required=row.required,
                evidence_required=row.evidence_required,
                refs=list(item_spec.refs),
                tags=list(item_spec.tags),
                answer_roles=sorted(answer_roles(item_spec)),
                status=row.status,
                effective_status=a.status,
                reasons=list(a.reasons),
                satisfied=a.satisfied,
                blocking=a.blocking,
                response=row.response,
                justification=row.justification,
                answered_by=row.answered_by,
                answered_at=row.answered_at,
                assignee=names.get(row.assignee_id) if row.assignee_id else None,
                due_at=row.due_at,
                overdue=row.due_at is not None and row.status == "open" and row.due_at <= loaded.now,
                exception=ExceptionRead(
                    justification=row.exception_justification or "",
                    approved_by=row.exception_by or "",
                    approved_at=row.exception_at,
                )
                if row.exception_at
                else None,
                evidence=[evidence_read(e, loaded.now) for e in loaded.evidence[row.id]],
                version=row.version,
            )
        )
    base = summary(run, spec.kind, comp.pct)
    return RunRead(
        **base.model_dump(),
        template_title=spec.title,
        subject=describe(session, run.subject_type, run.subject_id),
        allowed_transitions=sorted(rules.TRANSITIONS[run.status]),
        submitted_at=run.submitted_at,
        submitted_by=run.submitted_by,
        decided_at=run.decided_at,
        decided_by=run.decided_by,
        decision_reason=run.decision_reason,
        approved=loaded.approved,
        can_approve=loaded.can_approve,
        signoff_roles=sorted(signoff_roles(spec)),
        excluded_signers=sorted(names.get(uid, str(uid)) for uid in rules.top_answerers(loaded.states)),
        open_items=open_items(loaded),
        sections=[
            SectionRead(id=s.id, title=s.title, completion_pct=comp.sections.get(s.id, 100.0), items=by_section[s.id])
            for s in spec.sections
        ],
    )


def fact_key(template_key: str) -> str:
    return template_key.replace("-", "_")


def gate_facts(session: Session, subject_type: str, subject_id: int, now: datetime) -> dict[str, Any]:
    """Per template (key with '-' → '_'): the latest non-cancelled run's state for this subject.

    {"ethical_review": {"status", "approved", "completion_pct", "sections", "open_items", ...}, ...}
    Every template applying to the subject type appears; one never run has status "not_started".
    The caller checks permissions (gate:check). Contract: docs/procedures.md.
    """
    when = now
    facts: dict[str, Any] = {}
    specs = {t.key: spec_of(t) for t in latest_templates(session)}
    for shipped in shipped_templates():  # not yet synced into this database
        specs.setdefault(shipped.key, shipped)
    for key, spec in sorted(specs.items()):
        if subject_type in spec.applies_to:
            facts[fact_key(key)] = {
                "status": "not_started",
                "approved": False,
                "completion_pct": 0.0,
                "sections": {s.id: 0.0 for s in spec.sections},
                "open_items": sum(1 for _, i in spec.items() if i.required),
                "run_id": None,
                "template_version": None,
                "exceptions": 0,
                "expired_evidence": 0,
            }
    runs = session.execute(
        select(ProcedureRun)
        .where(
            ProcedureRun.subject_type == subject_type,
            ProcedureRun.subject_id == subject_id,
            ProcedureRun.status != "cancelled",
        )
        .order_by(ProcedureRun.id.desc())
    ).scalars()
    seen: set[str] = set()
    for run in runs:
        if run.template_key in seen:
            continue
        seen.add(run.template_key)
        loaded = load(session, run, when)
        comp = rules.completion(loaded.states)
        facts[fact_key(run.template_key)] = {
            "status": run.status,
            "approved": loaded.approved,
            "completion_pct": comp.pct,
            "sections": comp.sections,
            "open_items": len(loaded.blockers),
            "run_id": run.id,
            "template_version": run.template_version,
            "exceptions": sum(1 for a in loaded.assessments if a.excepted),
            "expired_evidence": sum(len(s.expired_evidence) for s in loaded.states),
        }
    return facts


@dataclass(frozen=True)
class AssignedItem:
    """A checklist item assigned to the signed-in person, still open in a run in progress."""

    run_id: int
    run_title: str
    item_id: str
    due_at: datetime | None
    overdue: bool


def my_open_items(ctx: Ctx, *, limit: int = 50) -> list[AssignedItem]:
    """Open items assigned to the signed-in person in runs in progress (none for a principal without a user)."""
    ctx.require("sops:read")
    if ctx.principal.user_id is None:
        return []
    now = ctx.now()
    rows = ctx.session.execute(
        select(ProcedureRun.id, ProcedureRun.title, RunItem.item_id, RunItem.due_at)
        .join(ProcedureRun, ProcedureRun.id == RunItem.run_id)
        .where(
            RunItem.assignee_id == ctx.principal.user_id,
            RunItem.status == "open",
            ProcedureRun.status == "in_progress",
        )
        .limit(limit)
    )
    return [
        AssignedItem(run_id=run_id, run_title=title, item_id=item, due_at=due, overdue=bool(due and due < now))
        for run_id, title, item, due in rows
    ]


def systems_with_approved_run(ctx: Ctx, template_key: str) -> set[str]:
    """Keys of the systems that have an approved run of the template (e.g. an approved ethical review),
    in one query."""
    ctx.require("sops:read")
    stmt = select(AISystem.key).join(
        ProcedureRun,
        (ProcedureRun.subject_type == "system")
        & (ProcedureRun.subject_id == AISystem.id)
        & (ProcedureRun.template_key == template_key)
        & (ProcedureRun.status == "approved"),
    )
    return set(ctx.session.execute(stmt.distinct()).scalars())
