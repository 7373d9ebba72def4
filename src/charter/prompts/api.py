"""Prompt registry over HTTP: thin endpoints over charter.prompts.service and charter.prompts.queries.

Prompt names may contain '/', so routes below a prompt end in a fixed word and the serving route
`GET /systems/{key}/prompts/{name}` comes last.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Response

from charter.access.deps import CtxDep
from charter.kit.errors import ValidationFailed
from charter.kit.routing import API
from charter.prompts import queries, service
from charter.prompts.schemas import (
    ImportIn,
    LabelEventRead,
    LabelMove,
    LabelRead,
    PromptRead,
    PushIn,
    RenderIn,
    SettingsIn,
    SettingsRead,
    VersionCreate,
    VersionRead,
)

router = APIRouter(prefix=f"{API}/systems/{{key}}", tags=["prompts"])
Label = Annotated[str | None, Query(max_length=64, description="a label, e.g. production (default), or latest")]
Version = Annotated[int | None, Query(ge=1, description="a version number (instead of a label)")]


@router.get("/prompt-settings", summary="Which labels of the system's prompts are protected")
def read_settings(key: str, ctx: CtxDep) -> SettingsRead:
    return queries.read_settings(ctx, key)


@router.put("/prompt-settings", summary="Protect labels: they then move only through a release")
def save_settings(key: str, body: SettingsIn, ctx: CtxDep) -> SettingsRead:
    service.save_settings(ctx, key, body)
    ctx.commit()
    return queries.read_settings(ctx, key)


@router.post("/prompt-push", summary="Sync a folder of prompt files (unchanged prompts create no version)")
def push(key: str, body: PushIn, ctx: CtxDep) -> dict[str, Any]:
    result = service.push(ctx, key, body)
    ctx.commit()
    return result


@router.post("/prompt-import", summary="Import prompt versions from a Langfuse or MLflow export (JSON)")
def import_prompts(key: str, body: ImportIn, ctx: CtxDep) -> dict[str, Any]:
    result = service.import_prompts(ctx, key, body)
    ctx.commit()
    return result


@router.get("/prompt-export", summary="Every prompt version in Langfuse's or MLflow's JSON shape")
def export(key: str, ctx: CtxDep, format: Literal["langfuse", "mlflow"] = "langfuse") -> list[dict[str, Any]]:
    return queries.export(ctx, key, format)


@router.get("/prompts", summary="A system's prompts with their labels")
def list_prompts(
    key: str, ctx: CtxDep, q: Annotated[str | None, Query(max_length=128)] = None, tag: str | None = None
) -> list[PromptRead]:
    return queries.list_prompts(ctx, key, q, tag)


@router.post("/prompts", summary="Create a prompt version (the prompt is created with its first)")
def create_version(key: str, body: VersionCreate, ctx: CtxDep, response: Response) -> VersionRead:
    done = service.create_version(ctx, key, body)
    ctx.commit()
    response.status_code = 201 if done.created else 200
    return queries.version_read(ctx.session, done.system, done.prompt, done.row, done.created)


@router.get("/prompts/{name:path}/info", summary="A prompt: type, tags, latest version, labels")
def read_prompt(key: str, name: str, ctx: CtxDep) -> PromptRead:
    return queries.read_prompt(ctx, key, name)


@router.get("/prompts/{name:path}/versions", summary="A prompt's versions, newest first")
def list_versions(key: str, name: str, ctx: CtxDep) -> list[VersionRead]:
    return queries.list_versions(ctx, key, name)


@router.get(
    "/prompts/{name:path}/versions/{selector}",
    summary="One version as stored (by number or label; includes not spliced)",
)
def read_version(key: str, name: str, selector: str, ctx: CtxDep) -> VersionRead:
    if selector.isdigit():
        return queries.read_version(ctx, key, name, version=int(selector))
    return queries.read_version(ctx, key, name, label=selector)


@router.get("/prompts/{name:path}/diff", summary="Diff two versions (numbers or labels)")
def diff(
    key: str,
    name: str,
    ctx: CtxDep,
    old: Annotated[str, Query(alias="from", max_length=64)],
    new: Annotated[str, Query(alias="to", max_length=64)],
) -> dict[str, Any]:
    found = queries.diff(ctx, key, name, old, new)
    return {**found.to_dict(), "text": found.render_text()}


@router.get("/prompts/{name:path}/labels", summary="A prompt's labels and the versions they point at")
def list_labels(key: str, name: str, ctx: CtxDep) -> list[LabelRead]:
    return queries.labels(ctx, key, name)


@router.put("/prompts/{name:path}/labels/{label}", summary="Move an unprotected label to a version")
def move_label(key: str, name: str, label: str, body: LabelMove, ctx: CtxDep) -> LabelEventRead:
    service.move_label(ctx, key, name, label, body)
    ctx.commit()
    return queries.history(ctx, key, name, label)[0]


@router.get("/prompts/{name:path}/history", summary="Every label move: who, when, from → to, why, which release")
def history(key: str, name: str, ctx: CtxDep, label: Label = None) -> list[LabelEventRead]:
    return queries.history(ctx, key, name, label)


@router.post("/prompts/{name:path}/render", summary="Render the resolved prompt with variables")
def render(key: str, name: str, body: RenderIn, ctx: CtxDep) -> dict[str, Any]:
    return queries.render(ctx, key, name, body.variables, body.label, body.version, body.strict)


@router.get(
    "/prompts/{name:path}",
    summary="Serve a prompt: name@label (default production) or name@version, includes resolved; ETag, 304",
    response_model=None,
)
def serve(
    key: str,
    name: str,
    ctx: CtxDep,
    label: Label = None,
    version: Version = None,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    if label is not None and version is not None:
        raise ValidationFailed("ask for a label or a version, not both", errors=[{"loc": ["query"], "msg": "both"}])
    served = queries.resolve(ctx, key, name, label, version)
    headers = {"ETag": served.etag, "Cache-Control": "no-cache"}
    if if_none_match is not None and served.etag in {tag.strip() for tag in if_none_match.split(",")}:
        return Response(status_code=304, headers=headers)
    return Response(content=served.raw, media_type="application/json", headers=headers)
