"""Compliance use cases that change state: edit a control mapping, install an organisation catalog, choose
applicability, record coverage. Each declares its permission, appends to the ledger; never commits."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from charter.compliance import library
from charter.compliance.catalog import parse_framework
from charter.compliance.controls import parse_control_ref
from charter.compliance.models import (
    Applicability,
    ControlEvidence,
    ControlMappingEdit,
    CoverageSnapshot,
    CustomCatalog,
)
from charter.compliance.queries import coverage_of, framework_of, known_catalogs
from charter.compliance.rules import FrameworkCoverage
from charter.compliance.schemas import ApplicabilityIn, CatalogIn, MappingIn
from charter.context import Ctx
from charter.evidence.service import get_evidence
from charter.inventory.models import AISystem
from charter.inventory.queries import get_system
from charter.kit.clock import as_utc
from charter.kit.errors import Conflict, StaleVersion, ValidationFailed
from charter.ledger.chain import snapshot


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {message}", errors=[{"loc": [field], "msg": message}])


def _check_version(entity: str, given: int | None, current: int) -> None:
    if given is None:
        raise Conflict(f"{entity} exists already (version {current}); send its version to change it",
                       current_version=current)  # fmt: skip
    if given != current:
        raise StaleVersion(entity, given, current)


def set_mapping(ctx: Ctx, data: MappingIn) -> ControlMappingEdit:
    """Add, change or remove (`removed`) one control → requirement link; the requirement must exist."""
    ctx.require("compliance:manage")
    try:
        parse_control_ref(data.control)
    except ValueError as exc:
        raise _invalid("control", str(exc)) from None
    index = library.control_index()
    if index.exists(data.control) is False:
        raise _invalid("control", index.missing_message(data.control))
    problem = known_catalogs(ctx).problem_with_ref(data.requirement)
    if problem is not None:
        raise _invalid("requirement", problem)
    row = ctx.session.execute(
        select(ControlMappingEdit).where(
            ControlMappingEdit.control == data.control, ControlMappingEdit.requirement == data.requirement
        )
    ).scalar_one_or_none()
    before: Any = None
    if row is None:
        row = ControlMappingEdit(control=data.control, requirement=data.requirement)
        ctx.session.add(row)
    else:
        _check_version(f"mapping {data.control} → {data.requirement}", data.version, row.version)
        before = snapshot(row, exclude=frozenset({"id"}))
        row.version += 1
    row.relation, row.reason = data.relation, data.reason
    row.updated_by, row.updated_at = ctx.principal.actor, ctx.now()
    ctx.session.flush()
    ctx.record("compliance.mapping_set", "compliance_mapping", f"{data.control} -> {data.requirement}",
               before=before, after=snapshot(row, exclude=frozenset({"id"})), reason=data.reason)  # fmt: skip
    return row


def install_catalog(ctx: Ctx, data: CatalogIn) -> CustomCatalog:
    """Install (or replace, with its version) an organisation's framework; errors name file, line and field."""
    ctx.require("compliance:manage")
    framework = parse_framework(data.content, data.filename)  # CatalogError: 422 with every problem's line
    if framework.id in library.shipped_catalogs().frameworks:
        raise Conflict(f"framework id '{framework.id}' is a shipped catalog; give your catalog its own id")
    digest = hashlib.sha256(data.content.encode()).hexdigest()
    row = ctx.session.execute(
        select(CustomCatalog).where(CustomCatalog.framework_id == framework.id)
    ).scalar_one_or_none()
    before: Any = None
    if row is None:
        row = CustomCatalog(framework_id=framework.id)
        ctx.session.add(row)
    else:
        _check_version(f"catalog {framework.id}", data.version, row.version)
        before = {"sha256": row.sha256, "version": row.version, "framework_version": row.framework_version}
        row.version += 1
    row.title, row.framework_version, row.content, row.sha256 = (
        framework.title, framework.version, data.content, digest
    )  # fmt: skip
    row.installed_by, row.installed_at = ctx.principal.actor, ctx.now()
    ctx.session.flush()
    after = {"sha256": digest, "version": row.version, "framework_version": framework.version,
             "requirements": len(framework.requirements)}  # fmt: skip
    ctx.record("compliance.catalog_installed", "compliance_catalog", framework.id, before=before, after=after)
    return row


def set_applicability(ctx: Ctx, system_key: str, data: ApplicabilityIn) -> Applicability:
    """Whether a framework or one of its requirements applies to the system; the reason is required."""
    ctx.require("compliance:manage")
    system = get_system(ctx.session, system_key)
    catalogs = known_catalogs(ctx)
    framework_of(catalogs, data.framework)
    requirement = data.requirement or ""
    if requirement:
        problem = catalogs.problem_with_ref(f"{data.framework}:{requirement}")
        if problem is not None:
            raise _invalid("requirement", problem)
        if not catalogs.requirement(f"{data.framework}:{requirement}").assessable:
            raise _invalid("requirement", f"'{requirement}' is a heading, not an assessable requirement")
    row = ctx.session.execute(
        select(Applicability).where(
            Applicability.system_id == system.id,
            Applicability.framework_id == data.framework,
            Applicability.requirement_id == requirement,
        )
    ).scalar_one_or_none()
    before: Any = None
    if row is None:
        row = Applicability(system_id=system.id, framework_id=data.framework, requirement_id=requirement)
        ctx.session.add(row)
    else:
        _check_version(f"applicability of {data.framework}:{requirement or '*'}", data.version, row.version)
        before = snapshot(row, exclude=frozenset({"id"}))
        row.version += 1
    row.applicable, row.reason = data.applicable, data.reason
    row.updated_by, row.updated_at = ctx.principal.actor, ctx.now()
    ctx.session.flush()
    entity = f"{system.key}/{data.framework}:{requirement or '*'}"
    ctx.record("compliance.applicability_set", "compliance_applicability", entity, before=before,
               after=snapshot(row, exclude=frozenset({"id"})), reason=data.reason)  # fmt: skip
    return row


def record_coverage(ctx: Ctx, system_key: str, framework_ids: list[str]) -> list[FrameworkCoverage]:
    """Compute coverage now and keep its counts (coverage over time)."""
    ctx.require("compliance:manage")
    system = get_system(ctx.session, system_key)
    results = coverage_of(ctx, system, framework_ids)
    for cov in results:
        row = CoverageSnapshot(system_id=system.id, framework_id=cov.framework, taken_at=ctx.now(),
                               met=cov.counts["met"], partial=cov.counts["partial"], missing=cov.counts["missing"],
                               not_applicable=cov.counts["not_applicable"], digest=cov.digest())  # fmt: skip
        ctx.session.add(row)
        ctx.session.flush()
        ctx.record("compliance.coverage_recorded", "compliance_snapshot", f"{system.key}/{cov.framework}",
                   after=cov.counts | {"digest": cov.digest()})  # fmt: skip
    return results


def attach_evidence(ctx: Ctx, system_key: str, control: str, evidence_id: int) -> ControlEvidence:
    """Attach existing evidence to an organisation's own control (`custom:<name>`) for a system."""
    ctx.require("compliance:manage")
    try:
        kind, _ = parse_control_ref(control)
    except ValueError as exc:
        raise _invalid("control", str(exc)) from None
    if kind != "custom":
        raise _invalid("control", f"'{control}' is reported by its module from Charter's data; evidence is attached "
                                  "by hand only to an organisation's own controls (custom:<name>)")  # fmt: skip
    system = get_system(ctx.session, system_key)
    evidence = get_evidence(ctx.session, evidence_id)
    key = (system.id, control, evidence.id)
    if ctx.session.get(ControlEvidence, key) is not None:
        raise Conflict(f"evidence {evidence.id} is already attached to {control} for {system.key}")
    row = ControlEvidence(system_id=system.id, control=control, evidence_id=evidence.id,
                          attached_by=ctx.principal.actor, attached_at=ctx.now())  # fmt: skip
    ctx.session.add(row)
    ctx.session.flush()
    ctx.record("compliance.evidence_attached", "compliance_control", f"{system.key}/{control}",
               after={"evidence_id": evidence.id, "sha256": evidence.sha256, "title": evidence.title})  # fmt: skip
    return row


def record_due(ctx: Ctx, every: timedelta = timedelta(days=1)) -> list[str]:
    """The sweep's part: record every framework's coverage for each system not retired whose last recording is
    older than `every` (coverage over time without anyone asking). Returns the systems recorded."""
    ctx.require("compliance:manage")
    last = dict(
        ctx.session.execute(
            select(CoverageSnapshot.system_id, func.max(CoverageSnapshot.taken_at)).group_by(CoverageSnapshot.system_id)
        ).all()
    )
    systems = ctx.session.execute(
        select(AISystem.id, AISystem.key).where(AISystem.stage != "retired").order_by(AISystem.key)
    ).all()
    due = [key for sid, key in systems if sid not in last or as_utc(last[sid]) <= ctx.now() - every]
    frameworks = sorted(known_catalogs(ctx).frameworks)
    for key in due:
        record_coverage(ctx, key, frameworks)
    return due
