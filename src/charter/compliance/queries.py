"""Reading compliance: catalogs, requirements with their controls, coverage computed from the domains' data,
gaps and coverage over time. Reads never write; each checks `compliance:read` (and each domain's provider checks
its own read permission)."""

from __future__ import annotations

from sqlalchemy import func, select

from charter.compliance import library
from charter.compliance.catalog import Catalogs, Framework, UnknownReference
from charter.compliance.models import Applicability, ControlEvidence, CoverageSnapshot, CustomCatalog
from charter.compliance.rules import Choice, CoverageEngine, FrameworkCoverage, framework_coverage, role_for
from charter.compliance.schemas import (
    ControlRead,
    CoverageRead,
    CrosswalkRead,
    EvidenceRead,
    FrameworkDetail,
    FrameworkRead,
    MappingRead,
    RequirementCoverageRead,
    RequirementDetail,
    RequirementRead,
    SnapshotRead,
)
from charter.context import Ctx
from charter.evidence.models import Evidence
from charter.evidence.rules import is_expired
from charter.inventory.models import AISystem
from charter.inventory.queries import get_system
from charter.kit.coverage import ControlState, EvidenceItem, Subject
from charter.kit.errors import NotFound
from charter.kit.registry import load_all
from charter.ledger.models import LedgerEntry


def known_catalogs(ctx: Ctx) -> Catalogs:
    return library.catalogs(ctx.session)


def framework_of(catalogs: Catalogs, framework_id: str) -> Framework:
    try:
        return catalogs.framework(framework_id)
    except UnknownReference as exc:
        raise NotFound(str(exc), entity="framework") from None


def list_frameworks(ctx: Ctx) -> list[FrameworkRead]:
    ctx.require("compliance:read")
    custom = set(ctx.session.execute(select(CustomCatalog.framework_id)).scalars())
    return [
        FrameworkRead(id=s.id, title=s.title, version=s.version, requirements=s.requirements, total=s.total,
                      custom=s.id in custom)
        for s in known_catalogs(ctx).summaries()
    ]  # fmt: skip


def _requirement_read(framework_id: str, req: object) -> RequirementRead:
    data = req.model_dump(mode="json")  # type: ignore[attr-defined]
    return RequirementRead(
        ref=f"{framework_id}:{data['id']}",
        **{k: data[k] for k in ("id", "title", "kind", "assessable", "parent", "text", "url", "applicability")},
    )


def show_framework(ctx: Ctx, framework_id: str) -> FrameworkDetail:
    ctx.require("compliance:read")
    catalogs = known_catalogs(ctx)
    fw = framework_of(catalogs, framework_id)
    summary = next(s for s in catalogs.summaries() if s.id == fw.id)
    custom = ctx.session.execute(select(CustomCatalog.id).where(CustomCatalog.framework_id == fw.id)).first()
    return FrameworkDetail(
        id=fw.id, title=fw.title, version=fw.version, requirements=summary.requirements, total=summary.total,
        custom=custom is not None, publisher=fw.publisher, url=fw.url, licence=fw.licence.name,
        attribution=fw.attribution, entries=[_requirement_read(fw.id, r) for r in fw.requirements],
    )  # fmt: skip


def show_requirement(ctx: Ctx, ref: str) -> RequirementDetail:
    ctx.require("compliance:read")
    catalogs = known_catalogs(ctx)
    try:
        req = catalogs.requirement(ref)
    except UnknownReference as exc:
        raise NotFound(str(exc), entity="requirement") from None
    framework_id = ref.partition(":")[0]
    mappings = [
        MappingRead(control=link.control, requirement=link.requirement, relation=link.relation, reason=link.reason,
                    edited=link.edited)
        for link in library.links(ctx.session) if link.requirement == ref
    ]  # fmt: skip
    crosswalk = [
        CrosswalkRead(other=e.to if e.from_ == ref else e.from_, relation=e.relation, reason=e.reason)
        for e in catalogs.crosswalk_of(ref)
    ]
    return RequirementDetail(
        **_requirement_read(framework_id, req).model_dump(), framework=framework_id, mappings=mappings,
        crosswalk=crosswalk,
    )  # fmt: skip


def list_mappings(ctx: Ctx, control: str | None = None, requirement: str | None = None) -> list[MappingRead]:
    ctx.require("compliance:read")
    return [
        MappingRead(control=x.control, requirement=x.requirement, relation=x.relation, reason=x.reason,
                    edited=x.edited)
        for x in library.links(ctx.session)
        if (control is None or x.control == control) and (requirement is None or x.requirement == requirement)
    ]  # fmt: skip


# --- coverage -------------------------------------------------------------------------------------------------


def subject_of(system: AISystem) -> Subject:
    return Subject(system.id, system.key, system.name, system.risk_tier, system.deployment_type,
                   tuple(sorted(system.tags or [])))  # fmt: skip


def _ledger_state(ctx: Ctx, subject: Subject) -> ControlState:
    """ledger:audit-trail — the system's changes are in the ledger (every change is, by construction)."""
    count, first, last = ctx.session.execute(
        select(func.count(), func.min(LedgerEntry.seq), func.max(LedgerEntry.seq)).where(
            LedgerEntry.entity_type == "system", LedgerEntry.entity_id == subject.key
        )
    ).one()
    if not count:
        return ControlState("ledger:audit-trail", "missing", "no ledger entry names this system")
    proof = EvidenceItem(f"ledger:system/{subject.key}", f"{count} ledger entries (seq {first}..{last})",
                         ledger=("system", subject.key))  # fmt: skip
    return ControlState("ledger:audit-trail", "met", f"{count} changes to the system are in the ledger", (proof,))


def _custom_states(ctx: Ctx, subject: Subject) -> list[ControlState]:
    """custom:<name> — the evidence attached by hand; met while one piece has not expired."""
    rows = ctx.session.execute(
        select(ControlEvidence.control, Evidence)
        .join(Evidence, Evidence.id == ControlEvidence.evidence_id)
        .where(ControlEvidence.system_id == subject.id)
        .order_by(ControlEvidence.control, Evidence.id)
    ).all()
    by_control: dict[str, list[Evidence]] = {}
    for control, evidence in rows:
        by_control.setdefault(control, []).append(evidence)
    now = ctx.now()
    states = []
    for control, items in sorted(by_control.items()):
        proofs = tuple(
            EvidenceItem(f"evidence:{e.id}", e.title, e.added_at, e.sha256, ("evidence", str(e.id)),
                         e.id if e.kind == "file" else None)
            for e in items
        )  # fmt: skip
        valid = [e for e in items if not is_expired(e.expires_at, now)]
        if valid:
            states.append(
                ControlState(control, "met", f"{len(valid)} piece(s) of evidence attached and current", proofs)
            )
        else:
            states.append(ControlState(control, "missing", "every attached piece of evidence has expired", proofs))
    return states


def control_states(ctx: Ctx, subject: Subject) -> tuple[dict[str, ControlState], frozenset[str]]:
    """Every domain's coverage part (charter.kit.registry), plus the ledger's: control → state, kinds reported."""
    states: dict[str, ControlState] = {}
    kinds: set[str] = {"ledger"}
    for module in load_all("coverage"):
        kinds.update(module.KINDS)
        for state in module.control_states(ctx, subject):
            states[state.control] = state
    states["ledger:audit-trail"] = _ledger_state(ctx, subject)
    for state in _custom_states(ctx, subject):
        states[state.control] = state
    return states, frozenset(kinds)


def _choices(ctx: Ctx, system_id: int, framework_id: str) -> tuple[Choice | None, dict[str, Choice]]:
    rows = ctx.session.execute(
        select(Applicability).where(Applicability.system_id == system_id, Applicability.framework_id == framework_id)
    ).scalars()
    whole: Choice | None = None
    per: dict[str, Choice] = {}
    for row in rows:
        choice = Choice(row.applicable, row.reason)
        if row.requirement_id:
            per[row.requirement_id] = choice
        else:
            whole = choice
    return whole, per


def coverage_of(ctx: Ctx, system: AISystem, framework_ids: list[str]) -> list[FrameworkCoverage]:
    """Coverage of several frameworks for one system, from one read of every domain's controls."""
    ctx.require("compliance:read")
    catalogs = known_catalogs(ctx)
    for fid in framework_ids:
        framework_of(catalogs, fid)
    subject = subject_of(system)
    states, kinds = control_states(ctx, subject)
    engine = CoverageEngine(catalogs, library.links(ctx.session), states, kinds)
    role = role_for(system.deployment_type)
    out = []
    for fid in framework_ids:
        whole, per = _choices(ctx, system.id, fid)
        out.append(framework_coverage(engine, fid, system=system.key, tier=system.risk_tier, role=role,
                                      framework_choice=whole, choices=per))  # fmt: skip
    return out


def coverage(ctx: Ctx, system_key: str, framework_id: str) -> FrameworkCoverage:
    system = get_system(ctx.session, system_key)
    return coverage_of(ctx, system, [framework_id])[0]


def history(ctx: Ctx, system_key: str, framework_id: str, limit: int = 100) -> list[SnapshotRead]:
    ctx.require("compliance:read")
    system = get_system(ctx.session, system_key)
    framework_of(known_catalogs(ctx), framework_id)
    rows = ctx.session.execute(
        select(CoverageSnapshot)
        .where(CoverageSnapshot.system_id == system.id, CoverageSnapshot.framework_id == framework_id)
        .order_by(CoverageSnapshot.taken_at.desc(), CoverageSnapshot.id.desc())
        .limit(limit)
    ).scalars()
    return [
        SnapshotRead(framework=r.framework_id, system=system.key, taken_at=r.taken_at, met=r.met, partial=r.partial,
                     missing=r.missing, not_applicable=r.not_applicable, digest=r.digest)
        for r in rows
    ]  # fmt: skip


def coverage_read(cov: FrameworkCoverage, *, only_gaps: bool = False) -> CoverageRead:
    rows = cov.gaps() if only_gaps else list(cov.requirements)
    return CoverageRead(
        framework=cov.framework, title=cov.title, version=cov.version, system=cov.system, risk_tier=cov.risk_tier,
        role=cov.role, counts=cov.counts, digest=cov.digest(),
        requirements=[
            RequirementCoverageRead(
                ref=r.ref, id=r.id, title=r.title, status=r.status, why=r.why, via=list(r.via),
                controls=[
                    ControlRead(control=c.control, relation=c.relation, reason=c.reason, status=c.status, why=c.why,
                                evidence=[EvidenceRead(ref=e.ref, title=e.title, at=e.at, sha256=e.sha256)
                                          for e in c.evidence])
                    for c in r.controls
                ],
            )
            for r in rows
        ],
    )  # fmt: skip
