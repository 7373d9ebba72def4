"""Reading the data register and the lineage graph (permission checked, never writes)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from charter.access.models import User
from charter.context import Ctx
from charter.data.lineage import LineageError, LineageNotFoundError, lineage, systems_using
from charter.data.lineage_store import load_graph
from charter.data.models import Dataset, DeletionRecord, PiiAudit
from charter.data.schemas import AuditRead, DatasetRead, DeletionRead
from charter.inventory.models import AISystem
from charter.kit.errors import NotFound, ValidationFailed
from charter.kit.pagination import paginate
from charter.releases.models import Deployment, ReleaseArtifact

SORTABLE = {
    "name": Dataset.name,
    "namespace": Dataset.namespace,
    "classification": Dataset.classification,
    "status": Dataset.status,
    "retain_until": Dataset.retain_until,
    "created_at": Dataset.created_at,
}


@dataclass(frozen=True)
class DatasetFilter:
    namespace: str | None = None
    name: str | None = None
    classification: str | None = None
    status: str | None = None
    system: str | None = None
    q: str | None = None


def get_dataset(session: Session, dataset_id: int, *, for_update: bool = False) -> Dataset:
    stmt = select(Dataset).where(Dataset.id == dataset_id)
    if for_update:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    dataset = session.execute(stmt).scalar_one_or_none()
    if dataset is None:
        raise NotFound(f"no dataset with id {dataset_id}", entity="dataset")
    return dataset


def to_read(session: Session, dataset: Dataset) -> DatasetRead:
    owner = session.get(User, dataset.owner_id) if dataset.owner_id else None
    return DatasetRead.model_validate(
        {
            **{c: getattr(dataset, c) for c in DatasetRead.model_fields if hasattr(dataset, c)},
            "owner": owner.username if owner else None,
        }
    )


def list_datasets(
    ctx: Ctx, flt: DatasetFilter, *, sort: str = "name", limit: int = 50, cursor: str | None = None
) -> tuple[list[DatasetRead], str | None]:
    ctx.require("data:read")
    stmt = select(Dataset)
    if flt.namespace:
        stmt = stmt.where(Dataset.namespace == flt.namespace)
    if flt.name:
        stmt = stmt.where(Dataset.name == flt.name)
    if flt.classification:
        stmt = stmt.where(Dataset.classification == flt.classification)
    if flt.status:
        stmt = stmt.where(Dataset.status == flt.status)
    if flt.q:
        stmt = stmt.where(
            Dataset.name.icontains(flt.q, autoescape=True) | Dataset.purpose.icontains(flt.q, autoescape=True)
        )
    rows, next_cursor = paginate(
        ctx.session, stmt, sort=sort, sortable=SORTABLE, id_col=Dataset.id, limit=limit, cursor=cursor
    )
    if flt.system:
        rows = [r for r in rows if flt.system in (r.systems or [])]
    return [to_read(ctx.session, r) for r in rows], next_cursor


def read_dataset(ctx: Ctx, dataset_id: int) -> DatasetRead:
    ctx.require("data:read")
    return to_read(ctx.session, get_dataset(ctx.session, dataset_id))


def deletions(ctx: Ctx, dataset_id: int) -> list[DeletionRead]:
    ctx.require("data:read")
    get_dataset(ctx.session, dataset_id)
    rows = ctx.session.execute(
        select(DeletionRecord).where(DeletionRecord.dataset_id == dataset_id).order_by(DeletionRecord.id)
    ).scalars()
    return [DeletionRead.model_validate(r, from_attributes=True) for r in rows]


def audit_read(audit: PiiAudit) -> AuditRead:
    return AuditRead.model_validate(audit, from_attributes=True)


def audits(ctx: Ctx, dataset_id: int | None = None, limit: int = 100) -> list[AuditRead]:
    ctx.require("data:read")
    stmt = select(PiiAudit).order_by(PiiAudit.id.desc()).limit(limit)
    if dataset_id is not None:
        stmt = stmt.where(PiiAudit.dataset_id == dataset_id)
    return [audit_read(a) for a in ctx.session.execute(stmt).scalars()]


def read_audit(ctx: Ctx, audit_id: int) -> AuditRead:
    ctx.require("data:read")
    audit = ctx.session.get(PiiAudit, audit_id)
    if audit is None:
        raise NotFound(f"no PII audit with id {audit_id}", entity="pii_audit")
    return audit_read(audit)


# -- lineage -------------------------------------------------------------------------------------------------------


def _bad(message: str, where: str) -> ValidationFailed:
    return ValidationFailed(message, errors=[{"loc": ["query", where], "msg": message}])


def dataset_lineage(ctx: Ctx, namespace: str, name: str, direction: str, depth: int | None = None) -> dict[str, Any]:
    """``{"datasets": [{namespace, name}], "jobs": [{namespace, name}]}``, transitively, nearest first."""
    ctx.require("data:read")
    if direction not in ("upstream", "downstream"):
        raise _bad(f"direction must be upstream or downstream, got {direction!r}", "direction")
    graph = load_graph(ctx.session)
    try:
        return lineage(graph, namespace, name, direction=direction, depth=depth)  # type: ignore[arg-type]
    except LineageNotFoundError as exc:
        raise NotFound(str(exc), entity="dataset") from exc
    except LineageError as exc:
        raise _bad(str(exc), "depth") from exc


def graph(ctx: Ctx) -> dict[str, Any]:
    """The whole graph as nodes and edges (the console's lineage view)."""
    ctx.require("data:read")
    rows = load_graph(ctx.session).rows()
    return {
        "datasets": [{"namespace": d.namespace, "name": d.name} for d in rows.datasets],
        "jobs": [{"namespace": j.namespace, "name": j.name} for j in rows.jobs],
        "edges": [
            {
                "direction": e.direction,
                "job": {"namespace": e.job_namespace, "name": e.job_name},
                "dataset": {"namespace": e.dataset_namespace, "name": e.dataset_name},
            }
            for e in rows.edges
        ],
        "runs": len(rows.runs),
    }


def _registered_links(session: Session) -> dict[str, tuple[str, str]]:
    """Release-artifact URIs that name a registered dataset: its location, or ``namespace/name``."""
    links: dict[str, tuple[str, str]] = {}
    for ns, name, location in session.execute(select(Dataset.namespace, Dataset.name, Dataset.location)):
        links[f"{ns}/{name}"] = (ns, name)
        if location:
            links[location] = (ns, name)
    return links


def systems_for(ctx: Ctx, namespace: str, name: str, stage: str | None = None) -> list[dict[str, Any]]:
    """Which systems used this dataset, directly or through anything derived from it.

    A system used a dataset when the register lists it among the dataset's systems, or one of its releases has an
    artifact of kind ``dataset`` whose URI is the dataset's location or ``namespace/name``. With ``stage``, only
    releases ever deployed at that stage count (and listed systems at that lifecycle stage)."""
    ctx.require("data:read")
    session = ctx.session
    mapping: dict[tuple[str, str], set[str]] = {}
    stmt = select(Dataset.namespace, Dataset.name, Dataset.systems)
    system_stage: dict[str, str] = {k: s for k, s in session.execute(select(AISystem.key, AISystem.stage))}
    for ns, ds_name, systems in session.execute(stmt):
        for key in systems or []:
            if stage is None or system_stage.get(key) == stage:
                mapping.setdefault((ns, ds_name), set()).add(key)
    links = _registered_links(session)
    art = (
        select(ReleaseArtifact.uri, AISystem.key)
        .join(AISystem, AISystem.id == ReleaseArtifact.system_id)
        .where(ReleaseArtifact.kind == "dataset")
    )
    if stage is not None:
        art = art.where(
            ReleaseArtifact.release_id.in_(select(Deployment.to_release_id).where(Deployment.stage == stage))
        )
    for uri, key in session.execute(art):
        if uri in links:
            mapping.setdefault(links[uri], set()).add(key)
    return systems_using(load_graph(session), namespace, name, mapping)
