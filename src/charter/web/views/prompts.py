"""Prompts: every system's prompts, a system's prompt list, one prompt (labels, versions, label history with its
releases and gate evaluations), one version, and a side-by-side diff of two versions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request, Response

from charter.inventory import queries as inventory
from charter.prompts import queries
from charter.prompts.diff import LineOp, TextDiff, WordOp
from charter.web.deps import WebCtx, WebRoute
from charter.web.render import render
from charter.web.views.system_page import system_page

router = APIRouter(route_class=WebRoute, include_in_schema=False)


@dataclass(frozen=True)
class Side:
    number: int | None
    parts: tuple[tuple[str, str], ...]  # (text, kind): kind '' (same), 'del' or 'ins'


@dataclass(frozen=True)
class Row:
    op: str
    old: Side
    new: Side


def _words(ops: tuple[WordOp, ...], side: str) -> tuple[tuple[str, str], ...]:
    out = []
    for w in ops:
        if w.op == "equal":
            out.append((w.old, ""))
        elif side == "old" and w.old:
            out.append((w.old, "del"))
        elif side == "new" and w.new:
            out.append((w.new, "ins"))
    return tuple(out)


def side_by_side(diff: TextDiff) -> list[Row]:
    """Rows of a two-column diff: equal lines side by side, replaced lines paired with their word changes."""
    rows: list[Row] = []
    for op in diff.ops:
        rows.extend(_rows(op))
    return rows


def _rows(op: LineOp) -> list[Row]:
    rows = []
    for i in range(max(len(op.old), len(op.new))):
        old_line = op.old[i] if i < len(op.old) else None
        new_line = op.new[i] if i < len(op.new) else None
        old_no = op.old_start + i if old_line is not None else None
        new_no = op.new_start + i if new_line is not None else None
        if op.op == "replace" and i < len(op.words) and old_line is not None and new_line is not None:
            old = Side(old_no, _words(op.words[i], "old"))
            new = Side(new_no, _words(op.words[i], "new"))
        else:
            kind_old = "" if op.op == "equal" else "del"
            kind_new = "" if op.op == "equal" else "ins"
            old = Side(old_no, ((old_line, kind_old),) if old_line is not None else ())
            new = Side(new_no, ((new_line, kind_new),) if new_line is not None else ())
        rows.append(Row(op.op, old, new))
    return rows


@router.get("/prompts")
def overview(request: Request, ctx: WebCtx) -> Response:
    ctx.require("prompts:read")
    systems = inventory.list_systems(ctx, inventory.SystemFilter(), limit=500)[0]
    rows = [(s, p) for s in systems for p in queries.list_prompts(ctx, s.key)]
    return render(request, "prompts/index.html", rows=rows)


@router.get("/systems/{key}/prompts")
def system_tab(request: Request, ctx: WebCtx, key: str) -> Response:
    return system_page(
        request,
        ctx,
        key,
        "prompts",
        "systems/prompts.html",
        prompts=queries.list_prompts(ctx, key),
        settings=queries.read_settings(ctx, key),
    )


@router.get("/systems/{key}/prompts/{name:path}/versions/{version}")
def version_page(request: Request, ctx: WebCtx, key: str, name: str, version: int) -> Response:
    return system_page(
        request,
        ctx,
        key,
        "prompts",
        "prompts/version.html",
        prompt=queries.read_prompt(ctx, key, name),
        v=queries.read_version(ctx, key, name, version=version),
    )


@router.get("/systems/{key}/prompts/{name:path}/diff")
def diff_page(request: Request, ctx: WebCtx, key: str, name: str) -> Response:
    params = request.query_params
    prompt = queries.read_prompt(ctx, key, name)
    old = params.get("from") or str(max(prompt.latest - 1, 1))
    new = params.get("to") or str(prompt.latest)
    found = queries.diff(ctx, key, name, old, new)
    sections: list[tuple[str, str, list[Row]]] = []
    if found.template is not None:
        sections.append(("Template", "", side_by_side(found.template)))
    for message in found.messages or ():
        roles = message.old_role if message.old_role == message.new_role else f"{message.old_role} → {message.new_role}"
        sections.append((f"Message ({roles})", message.status, side_by_side(message.content)))
    return system_page(
        request,
        ctx,
        key,
        "prompts",
        "prompts/diff.html",
        prompt=prompt,
        diff=found,
        sections=sections,
        old=old,
        new=new,
    )


@router.get("/systems/{key}/prompts/{name:path}")
def prompt_page(request: Request, ctx: WebCtx, key: str, name: str) -> Response:
    prompt = queries.read_prompt(ctx, key, name)
    context: dict[str, Any] = {
        "prompt": prompt,
        "versions": queries.list_versions(ctx, key, name),
        "labels": queries.labels(ctx, key, name),
        "history": queries.history(ctx, key, name),
    }
    return system_page(request, ctx, key, "prompts", "prompts/prompt.html", **context)
