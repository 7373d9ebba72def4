"""HTTP API of the PII guard and audits: /api/v1/pii/..."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, UploadFile

from charter.access.deps import CtxDep
from charter.data import audits, pii_service, queries
from charter.data.schemas import AuditRead, GuardIn, GuardOut, PolicyIn, PolicyRead, RestoreIn, RestoreOut
from charter.kit.routing import API, threaded

router = APIRouter(prefix=f"{API}/pii", tags=["pii"])


@router.post("/guard", summary="Apply a vendor's egress policy to text before it is sent to that vendor")
@threaded
def guard(body: GuardIn, ctx: CtxDep) -> GuardOut:
    result = pii_service.guard(ctx, body)
    ctx.commit()
    return result


@router.post("/restore", summary="Put the original values back into a vendor's answer (same scope)")
def restore(body: RestoreIn, ctx: CtxDep) -> RestoreOut:
    result = pii_service.restore(ctx, body)
    ctx.commit()
    return result


@router.get("/policies", summary="Every vendor's egress policy")
def list_policies(ctx: CtxDep) -> list[PolicyRead]:
    return pii_service.list_policies(ctx)


@router.put("/policies/{vendor}", summary="Set a vendor's egress policy (send the version you read to replace one)")
def set_policy(vendor: str, body: PolicyIn, ctx: CtxDep) -> PolicyRead:
    row = pii_service.set_policy(ctx, vendor, body)
    ctx.commit()
    return pii_service.policy_read(row)


@router.get("/status", summary="Which entity types are looked for (the NLP backend: present or absent, and why)")
@threaded
def status(ctx: CtxDep) -> dict[str, Any]:
    ctx.require("data:read")
    return pii_service.status()


@router.post("/audits", status_code=201, summary="PII-audit a file: counts per column and entity type, as evidence")
@threaded
def create_audit(
    ctx: CtxDep,
    file: Annotated[UploadFile, File(description="text, CSV or JSON Lines")],
    format: Annotated[str | None, Form(description="text, csv or jsonl (default: from the file name)")] = None,
    field: Annotated[str | None, Form(max_length=200)] = None,
    dataset_id: Annotated[int | None, Form()] = None,
    run_id: Annotated[int | None, Form()] = None,
    item_id: Annotated[str | None, Form(max_length=64)] = None,
) -> AuditRead:
    row = audits.audit_file(
        ctx, file.file, file.filename or "upload", fmt=format, field=field, dataset_id=dataset_id, run_id=run_id,
        item_id=item_id,
    )  # fmt: skip
    ctx.commit()
    return queries.audit_read(row)


@router.get("/audits", summary="PII audits, newest first")
def list_audits(
    ctx: CtxDep, dataset_id: int | None = None, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> list[AuditRead]:
    return queries.audits(ctx, dataset_id, limit)


@router.get("/audits/{audit_id}", summary="One PII audit")
def read_audit(audit_id: int, ctx: CtxDep) -> AuditRead:
    return queries.read_audit(ctx, audit_id)
