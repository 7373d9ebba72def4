"""Releases: overview, a system's releases and deployment timeline, submit a release."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request, Response

from charter.context import Ctx
from charter.inventory import queries as inventory
from charter.kit.routing import add_routes
from charter.releases import history as release_history
from charter.releases import queries as release_queries
from charter.releases import service as releases
from charter.releases.rules import ARTIFACT_KINDS, CHANGE_TYPES
from charter.releases.schemas import ReleaseCreate
from charter.web.actions import run_or_rerender
from charter.web.deps import Form, WebCtx, WebRoute, field
from charter.web.forms import split_list, values
from charter.web.render import render
from charter.web.views.release_detail import router as detail_router
from charter.web.views.system_page import system_page

if TYPE_CHECKING:
    from charter.releases.models import Release

router = APIRouter(route_class=WebRoute, include_in_schema=False)
ARTIFACT_ROWS = 3


PAGE = 25


@router.get("/releases")
def overview(request: Request, ctx: WebCtx) -> Response:
    """What waits at a stage (one query over the inventory) and what runs where, a page of systems at a time."""
    ctx.require("releases:read")
    cursor = request.query_params.get("cursor") or None
    systems, next_cursor = inventory.list_systems(ctx, inventory.SystemFilter(), sort="key", limit=PAGE, cursor=cursor)
    deployed = {s.key: release_queries.read_stages(ctx, s.key) for s in systems if s.stage != "retired"}
    return render(
        request,
        "releases/index.html",
        systems=systems,
        deployed=deployed,
        pending=release_queries.waiting_at_stages(ctx),
        next_cursor=next_cursor,
    )


def _tab(request: Request, ctx: Ctx, key: str, status: int = 200, **context: Any) -> Response:
    context.setdefault("form", {"change_type": "retrain"})
    context.setdefault("errors", {})
    return system_page(
        request,
        ctx,
        key,
        "releases",
        "systems/releases.html",
        status=status,
        releases=list(reversed(release_queries.list_releases(ctx, key))),
        stages=release_queries.read_stages(ctx, key),
        history=list(reversed(release_history.history(ctx, key))),
        artifact_kinds=ARTIFACT_KINDS,
        change_types=CHANGE_TYPES,
        artifact_rows=range(ARTIFACT_ROWS),
        **context,
    )


@router.get("/systems/{key}/releases")
def system_tab(request: Request, ctx: WebCtx, key: str) -> Response:
    return _tab(request, ctx, key)


def _artifacts(form: Any) -> list[dict[str, str]]:
    rows = []
    for i in range(ARTIFACT_ROWS):
        row = {k: field(form, f"artifact-{i}-{k}") for k in ("kind", "name", "uri", "sha256")}
        if row["name"] or row["uri"] or row["sha256"]:
            rows.append(row)
    return rows


@router.post("/systems/{key}/releases")
def submit(request: Request, ctx: WebCtx, form: Form, key: str) -> Response:
    def change() -> Release:
        data = ReleaseCreate.model_validate(
            {
                "artifacts": _artifacts(form),
                "change": {
                    "summary": field(form, "summary"),
                    "type": field(form, "change_type"),
                    "expected_impact": field(form, "expected_impact"),
                    "risk_keys": split_list(field(form, "risk_keys").upper()),
                },
            }
        )
        _system, release = releases.submit_release(ctx, key, data)
        return release

    return run_or_rerender(
        request,
        ctx,
        change,
        form_page=lambda status, errors: _tab(request, ctx, key, status, form=values(form), errors=errors),
        to=lambda release: f"/systems/{key}/releases/{release.version}",
        ok=lambda release: f"Release {release.version} submitted. Request a stage to start its approvals.",
    )


add_routes(router, detail_router)
