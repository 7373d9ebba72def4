"""HTTP API of the data module: the dataset register, OpenLineage ingest (Marquez-compatible) and lineage queries,
retention and deletion records."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from charter.access.deps import CtxDep
from charter.data import lineage as openlineage
from charter.data import lineage_store, queries, service
from charter.data.lineage import (
    LineageBatchError,
    LineageBodyError,
    LineageConflictError,
    LineageValidationError,
    decode_body,
)
from charter.data.pii_api import router as pii_router
from charter.data.rules import Classification, DatasetStatus, LineageDirection
from charter.data.schemas import DatasetCreate, DatasetRead, DatasetUpdate, DeletionIn, DeletionRead
from charter.kit.errors import CharterError, Conflict, ValidationFailed
from charter.kit.pagination import Page
from charter.kit.routing import API, threaded

router = APIRouter(tags=["data"])
routers = (router, pii_router)


class InvalidLineage(CharterError):
    status = 422
    type_slug = "invalid-lineage-event"
    title = "Invalid OpenLineage event"


async def _raw_body(request: Request) -> bytes:
    return await request.body()


RawBody = Annotated[bytes, Depends(_raw_body)]


@router.get(f"{API}/datasets", summary="The dataset register, filtered and paginated")
def list_datasets(
    ctx: CtxDep,
    namespace: str | None = None,
    name: str | None = None,
    classification: Classification | None = None,
    status: DatasetStatus | None = None,
    system: str | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    sort: str = "name",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> Page[DatasetRead]:
    flt = queries.DatasetFilter(namespace, name, classification, status, system, q)
    items, next_cursor = queries.list_datasets(ctx, flt, sort=sort, limit=limit, cursor=cursor)
    return Page[DatasetRead](items=items, next_cursor=next_cursor)


@router.post(f"{API}/datasets", status_code=201, summary="Register a dataset")
def register_dataset(body: DatasetCreate, ctx: CtxDep) -> DatasetRead:
    dataset = service.register_dataset(ctx, body)
    ctx.commit()
    return queries.to_read(ctx.session, dataset)


@router.get(f"{API}/datasets/{{dataset_id}}", summary="One registered dataset")
def read_dataset(dataset_id: int, ctx: CtxDep) -> DatasetRead:
    return queries.read_dataset(ctx, dataset_id)


@router.patch(f"{API}/datasets/{{dataset_id}}", summary="Change a dataset's register entry (send the version you read)")
def update_dataset(dataset_id: int, body: DatasetUpdate, ctx: CtxDep) -> DatasetRead:
    dataset = service.update_dataset(ctx, dataset_id, body)
    ctx.commit()
    return queries.to_read(ctx.session, dataset)


@router.post(
    f"{API}/datasets/{{dataset_id}}/deletions", status_code=201, summary="Record a dataset's deletion (who, when, how)"
)
def record_deletion(dataset_id: int, body: DeletionIn, ctx: CtxDep) -> DeletionRead:
    record = service.record_deletion(ctx, dataset_id, body)
    ctx.commit()
    return DeletionRead.model_validate(record, from_attributes=True)


@router.get(f"{API}/datasets/{{dataset_id}}/deletions", summary="A dataset's deletion records")
def list_deletions(dataset_id: int, ctx: CtxDep) -> list[DeletionRead]:
    return queries.deletions(ctx, dataset_id)


@router.post(f"{API}/retention/sweep", summary="Flag every dataset past its retention period as expired")
def retention_sweep(ctx: CtxDep) -> dict[str, list[str]]:
    flagged = service.expire_due(ctx)
    ctx.commit()
    return {"expired": flagged}


# -- OpenLineage ---------------------------------------------------------------------------------------------------


def _ingest(ctx: Any, raw: bytes, request: Request, *, batch: bool) -> Response:
    try:
        body = decode_body(raw, content_encoding=request.headers.get("content-encoding"))
        events = openlineage.validate_batch(body) if batch else (openlineage.validate_event(body),)
        accepted, duplicates = lineage_store.ingest(ctx, events)
    except (LineageValidationError, LineageBatchError) as exc:
        raise InvalidLineage(str(exc), **exc.to_dict()) from exc
    except LineageConflictError as exc:
        raise Conflict(str(exc)) from exc
    except LineageBodyError as exc:
        raise ValidationFailed(str(exc), errors=[{"loc": ["body"], "msg": str(exc)}]) from exc
    ctx.commit()
    # Marquez answers 201 with an empty body; a batch says how many were new
    if batch:
        return Response(
            f'{{"accepted": {accepted}, "duplicates": {duplicates}}}', status_code=201, media_type="application/json"
        )
    return Response(status_code=201)


@router.post(
    f"{API}/lineage",
    status_code=201,
    summary="Receive one OpenLineage event (RunEvent, DatasetEvent, JobEvent; spec 2-0-2), as Marquez does",
    response_class=Response,
)
@threaded
def post_lineage(raw: RawBody, request: Request, ctx: CtxDep) -> Response:
    return _ingest(ctx, raw, request, batch=False)


@router.post(
    f"{API}/lineage/batch", status_code=201, summary="Receive a JSON array of OpenLineage events (all or nothing)"
)
@threaded
def post_lineage_batch(raw: RawBody, request: Request, ctx: CtxDep) -> Response:
    return _ingest(ctx, raw, request, batch=True)


@router.get(f"{API}/lineage", summary="Datasets and jobs upstream or downstream of a dataset, transitively")
@threaded
def get_lineage(
    ctx: CtxDep,
    namespace: str,
    name: str,
    direction: LineageDirection = "downstream",
    depth: Annotated[int | None, Query(ge=1)] = None,
) -> dict[str, Any]:
    return queries.dataset_lineage(ctx, namespace, name, direction, depth)


@router.get(f"{API}/lineage/graph", summary="The whole lineage graph: datasets, jobs and their edges")
@threaded
def get_graph(ctx: CtxDep) -> dict[str, Any]:
    return queries.graph(ctx)


@router.get(f"{API}/lineage/systems", summary="Which systems used a dataset, directly or through derived data")
@threaded
def get_systems(ctx: CtxDep, namespace: str, name: str, stage: str | None = None) -> list[dict[str, Any]]:
    return queries.systems_for(ctx, namespace, name, stage)
