"""OTLP/HTTP trace ingest at POST /v1/traces (the exporter's standard path) and the telemetry status read."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from charter.access.deps import CtxDep
from charter.kit.routing import API
from charter.telemetry import queries, service
from charter.telemetry.ingest import IngestOptions, ingest
from charter.telemetry.otlp import OtlpError, encode_status, response_media_type

router = APIRouter(tags=["telemetry"])


async def _body(request: Request) -> bytes:
    return await request.body()


@router.post(
    "/v1/traces",
    summary="OTLP/HTTP trace export (protobuf or JSON, gzip): GenAI spans feed monitoring; a token with "
    "telemetry:write, the system from the resource attribute charter.system",
)
def export_traces(request: Request, ctx: CtxDep, body: Annotated[bytes, Depends(_body)]) -> Response:
    content_type = request.headers.get("content-type")
    ctx.require("telemetry:write")
    # Decoded and mapped before the unit of work touches the database: nothing is locked while a batch is read.
    try:
        result = ingest(
            body, content_type, request.headers.get("content-encoding"), now=ctx.now(), options=IngestOptions()
        )
    except OtlpError as exc:
        media = response_media_type(content_type)
        return Response(encode_status(exc, media), status_code=exc.status, media_type=media)
    service.accept(ctx, result)
    ctx.commit()
    return Response(result.response_body(), media_type=result.media_type)


@router.get(f"{API}/systems/{{key}}/telemetry", summary="Telemetry status: span rates, last span, rejections")
def status(key: str, ctx: CtxDep) -> dict[str, Any]:
    return queries.status(ctx, key)
