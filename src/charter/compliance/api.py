"""Compliance API: /compliance/frameworks, /compliance/requirement, /compliance/mappings, and per system
/compliance/systems/{key}/coverage|gaps|history|applicability."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response

from charter.access.deps import CtxDep
from charter.compliance import cards, exports, packs, queries, service
from charter.compliance.rules import ExportFormat
from charter.compliance.schemas import (
    ApplicabilityIn,
    ApplicabilityRead,
    CatalogIn,
    ControlEvidenceIn,
    ControlEvidenceRead,
    CoverageRead,
    FrameworkDetail,
    FrameworkRead,
    MappingIn,
    MappingRead,
    RequirementDetail,
    SnapshotRead,
)
from charter.kit.errors import ValidationFailed
from charter.kit.routing import API, add_routes, threaded

router = APIRouter(prefix=API)
compliance = APIRouter(prefix=f"{API}/compliance", tags=["compliance"])
Framework = Annotated[str, Query(min_length=2, max_length=80, description="framework id, e.g. eu-ai-act")]


@compliance.get("/frameworks", summary="The catalogs: id, title, version and the number of assessable requirements")
def list_frameworks(ctx: CtxDep) -> list[FrameworkRead]:
    return queries.list_frameworks(ctx)


@compliance.post("/frameworks", status_code=201, summary="Install (or replace) an organisation's catalog (YAML)")
def install_catalog(body: CatalogIn, ctx: CtxDep) -> FrameworkRead:
    row = service.install_catalog(ctx, body)
    ctx.commit()
    return next(f for f in queries.list_frameworks(ctx) if f.id == row.framework_id)


@compliance.get("/frameworks/{framework_id}", summary="One catalog with every entry")
def show_framework(framework_id: str, ctx: CtxDep) -> FrameworkDetail:
    return queries.show_framework(ctx, framework_id)


@compliance.get("/requirement", summary="One requirement with its mapped controls and crosswalk")
def show_requirement(
    ctx: CtxDep, ref: Annotated[str, Query(max_length=200, description="e.g. eu-ai-act:Art. 9")]
) -> RequirementDetail:
    return queries.show_requirement(ctx, ref)


@compliance.get("/mappings", summary="Control → requirement links in force (shipped, with the organisation's edits)")
def list_mappings(ctx: CtxDep, control: str | None = None, requirement: str | None = None) -> list[MappingRead]:
    return queries.list_mappings(ctx, control, requirement)


@compliance.put("/mappings", summary="Add, change or remove one control → requirement link")
def set_mapping(body: MappingIn, ctx: CtxDep) -> MappingRead:
    row = service.set_mapping(ctx, body)
    ctx.commit()
    return MappingRead(control=row.control, requirement=row.requirement, relation=row.relation, reason=row.reason,
                       edited=True)  # fmt: skip


@compliance.get("/systems/{key}/coverage", summary="Coverage of one framework for a system, explained")
def coverage(key: str, framework: Framework, ctx: CtxDep) -> CoverageRead:
    return queries.coverage_read(queries.coverage(ctx, key, framework))


@compliance.get("/systems/{key}/gaps", summary="Requirements partly met or missing, with why")
def gaps(key: str, framework: Framework, ctx: CtxDep) -> CoverageRead:
    return queries.coverage_read(queries.coverage(ctx, key, framework), only_gaps=True)


@compliance.get("/systems/{key}/history", summary="Recorded coverage over time, newest first")
def history(key: str, framework: Framework, ctx: CtxDep) -> list[SnapshotRead]:
    return queries.history(ctx, key, framework)


@compliance.post("/systems/{key}/history", status_code=201, summary="Record the coverage now (coverage over time)")
def record(key: str, framework: Framework, ctx: CtxDep) -> list[SnapshotRead]:
    service.record_coverage(ctx, key, [framework])
    ctx.commit()
    return queries.history(ctx, key, framework, limit=1)


@compliance.put("/systems/{key}/applicability", summary="Whether a framework or requirement applies, and why")
def set_applicability(key: str, body: ApplicabilityIn, ctx: CtxDep) -> ApplicabilityRead:
    row = service.set_applicability(ctx, key, body)
    ctx.commit()
    return ApplicabilityRead(system=key, framework=row.framework_id, requirement=row.requirement_id or None,
                             applicable=row.applicable, reason=row.reason, version=row.version,
                             updated_by=row.updated_by, updated_at=row.updated_at)  # fmt: skip


@compliance.post("/systems/{key}/controls/evidence", status_code=201,
                 summary="Attach evidence to an organisation's own control (custom:<name>) for the system")  # fmt: skip
def attach_evidence(key: str, body: ControlEvidenceIn, ctx: CtxDep) -> ControlEvidenceRead:
    row = service.attach_evidence(ctx, key, body.control, body.evidence_id)
    ctx.commit()
    return ControlEvidenceRead(system=key, control=row.control, evidence_id=row.evidence_id,
                               attached_by=row.attached_by, attached_at=row.attached_at)  # fmt: skip


@compliance.get("/systems/{key}/pack", summary="Evidence pack (zip): coverage, evidence files, ledger entries with "
                "inclusion proofs and a signed tree head; verify with 'charter audit verify-pack'",
                response_class=Response)  # fmt: skip
@threaded  # reads the whole ledger's hashes and the evidence files
def pack(key: str, framework: Framework, ctx: CtxDep) -> Response:
    data = packs.build_pack(ctx, key, framework)
    name = f"{key}-{framework}-pack.zip"
    return Response(
        data, media_type="application/zip", headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@compliance.get("/systems/{key}/export", summary="CycloneDX 1.6 ML-BOM, OSCAL assessment results (validated against "
                "the official schemas), model card (Markdown or HTML) or the Annex IV outline",
                response_class=Response)  # fmt: skip
@threaded
def export(key: str, format: ExportFormat, ctx: CtxDep, framework: str | None = None) -> Response:
    if format == "cyclonedx":
        return JSONResponse(exports.cyclonedx(ctx, key), media_type="application/vnd.cyclonedx+json")
    if format == "oscal":
        if framework is None:
            raise ValidationFailed(
                "framework: the OSCAL export needs ?framework=<id> (charter compliance frameworks)",
                errors=[{"loc": ["query", "framework"], "msg": "required for format=oscal"}],
            )
        return JSONResponse(exports.oscal(ctx, key, framework))
    if format == "model-card-html":
        return Response(cards.model_card(ctx, key).html(), media_type="text/html; charset=utf-8")
    doc = cards.model_card(ctx, key) if format == "model-card" else cards.annex_iv(ctx, key)
    return Response(doc.markdown(), media_type="text/markdown; charset=utf-8")


add_routes(router, compliance)
