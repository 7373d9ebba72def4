"""AI systems: list, register, overview, edit, stage moves, the system's ledger entries."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request, Response

from charter.context import Ctx
from charter.inventory import queries, service
from charter.inventory.rules import DATA_CATEGORIES, DEPLOYMENT_TYPES, LIFECYCLE_STAGES, RISK_TIERS, stage_move
from charter.inventory.schemas import SystemCreate, SystemRead, SystemUpdate, Transition
from charter.kit.errors import ValidationFailed
from charter.web.actions import run_and_redirect, run_or_rerender
from charter.web.deps import Form, WebCtx, WebRoute, field
from charter.web.forms import optional_int, split_list, values
from charter.web.panels import system_summary
from charter.web.render import fragment, is_htmx, redirect, render
from charter.web.views.ledger import entries_for
from charter.web.views.system_page import system_page

if TYPE_CHECKING:
    from charter.inventory.models import AISystem

router = APIRouter(route_class=WebRoute, include_in_schema=False)

SORTS = {
    "key": "Key",
    "name": "Name",
    "stage": "Stage",
    "risk_tier": "Risk tier",
    "-updated_at": "Recently changed",
    "-created_at": "Recently registered",
}
CHOICES = {
    "stages": LIFECYCLE_STAGES,
    "tiers": [t for t in RISK_TIERS if t != "unclassified"],  # blank = not classified yet (D32)
    "deployment_types": DEPLOYMENT_TYPES,
    "data_categories": DATA_CATEGORIES,
}


# ----------------------------------------------------------------------------- list


@router.get("/systems")
def list_page(request: Request, ctx: WebCtx) -> Response:
    q = request.query_params
    flt = queries.SystemFilter(
        stage=q.get("stage") or None,
        risk_tier=q.get("risk_tier") or None,
        owner=q.get("owner") or None,
        tag=q.get("tag") or None,
        q=q.get("q") or None,
    )
    sort = q.get("sort") or "key"
    if sort not in SORTS:
        sort = "key"
    items, next_cursor = queries.list_systems(ctx, flt, sort=sort, limit=50, cursor=q.get("cursor") or None)
    context: dict[str, Any] = {
        "systems": items,
        "next_cursor": next_cursor,
        "filters": flt,
        "sort": sort,
        "sorts": SORTS,
        "filtered": any(vars(flt).values()),
        "query": {k: v for k, v in q.items() if k != "cursor" and v},
        **CHOICES,
    }
    if is_htmx(request) and request.headers.get("hx-target") == "systems-table":
        return fragment(request, "systems/_table.html", **context)
    return render(request, "systems/list.html", **context)


# ----------------------------------------------------------------------------- register


def _form_page(request: Request, ctx: Ctx, status: int = 200, **context: Any) -> Response:
    context.setdefault("form", {"owner": ctx.principal.name})  # required choices start blank (D32)
    context.setdefault("errors", {})
    return render(request, "systems/new.html", status=status, **CHOICES, **context)


@router.get("/systems/new")
def new_form(request: Request, ctx: WebCtx) -> Response:
    ctx.require("systems:write")
    return _form_page(request, ctx)


def _create_payload(form: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "key": field(form, "key"),
        "name": field(form, "name"),
        "deployment_type": field(form, "deployment_type"),
        "description": field(form, "description"),
        "problem_statement": field(form, "problem_statement"),
        "owner": field(form, "owner") or None,
        "business_unit": field(form, "business_unit"),
        "vendor_name": field(form, "vendor_name") or None,
        "data_categories": [v for v in form.getlist("data_categories") if isinstance(v, str)],
        "users_affected": optional_int(field(form, "users_affected")),
        "tags": split_list(field(form, "tags")),
    }
    tier = field(form, "risk_tier")
    if tier and tier != "unclassified":
        payload["risk_tier"] = tier
        payload["risk_tier_reason"] = field(form, "risk_tier_reason")
    return payload


@router.post("/systems")
def register(request: Request, ctx: WebCtx, form: Form) -> Response:
    submitted = values(form) | {"data_categories": [v for v in form.getlist("data_categories") if isinstance(v, str)]}

    def change() -> AISystem:
        return service.create_system(ctx, SystemCreate.model_validate(_create_payload(form)))

    return run_or_rerender(
        request,
        ctx,
        change,
        form_page=lambda status, errors: _form_page(request, ctx, status, form=submitted, errors=errors),
        to=lambda system: f"/systems/{system.key}",
        ok=lambda system: f"Registered '{system.name}' in stage proposed.",
        forbidden="show",
    )


# ----------------------------------------------------------------------------- one system


@router.get("/systems/{key}")
def overview(request: Request, ctx: WebCtx, key: str) -> Response:
    return system_page(
        request,
        ctx,
        key,
        "overview",
        "systems/overview.html",
        summary=system_summary(request, ctx, key),
        stages=LIFECYCLE_STAGES,
        stage_move=stage_move,
    )


@router.get("/systems/{key}/edit")
def edit_form(request: Request, ctx: WebCtx, key: str) -> Response:
    ctx.require("systems:write")
    system = queries.read_system(ctx, key)
    return _edit_page(request, ctx, system, form=_as_form(system), errors={})


def _as_form(system: SystemRead) -> dict[str, Any]:
    data = system.model_dump()
    data["tags"] = ", ".join(system.tags)
    data["users_affected"] = "" if system.users_affected is None else str(system.users_affected)
    data["vendor_name"] = system.vendor_name or ""
    data["owner"] = system.owner or ""
    return data


def _edit_page(request: Request, ctx: Ctx, system: SystemRead, status: int = 200, **context: Any) -> Response:
    return system_page(
        request, ctx, system.key, "overview", "systems/edit.html", system=system, status=status, **CHOICES, **context
    )


def _changes(system: SystemRead, form: Any) -> dict[str, Any]:
    """Only the fields the person changed (unchanged fields are not sent to the service)."""
    new: dict[str, Any] = {
        "name": field(form, "name"),
        "description": field(form, "description"),
        "problem_statement": field(form, "problem_statement"),
        "owner": field(form, "owner") or None,
        "business_unit": field(form, "business_unit"),
        "deployment_type": field(form, "deployment_type"),
        "vendor_name": field(form, "vendor_name") or None,
        "data_categories": sorted({v for v in form.getlist("data_categories") if isinstance(v, str)}),
        "users_affected": optional_int(field(form, "users_affected")),
        "tags": sorted(set(split_list(field(form, "tags")))),
    }
    current = system.model_dump()
    changes = {k: v for k, v in new.items() if v != current.get(k)}
    tier, reason = field(form, "risk_tier"), field(form, "risk_tier_reason")
    if tier and (tier != system.risk_tier or (reason and reason != system.risk_tier_reason)):
        changes["risk_tier"] = tier
        changes["risk_tier_reason"] = reason
    return changes


@router.post("/systems/{key}/edit")
def edit(request: Request, ctx: WebCtx, form: Form, key: str) -> Response:
    system = queries.read_system(ctx, key)
    changes = _changes(system, form)
    if not changes:
        return redirect(request, f"/systems/{key}", "Nothing changed.", "info")
    submitted = values(form) | {"data_categories": [v for v in form.getlist("data_categories") if isinstance(v, str)]}

    def change() -> AISystem:
        data = SystemUpdate.model_validate(
            {"version": optional_int(field(form, "version")), "reason": field(form, "reason") or None, **changes}
        )
        return service.update_system(ctx, key, data)

    return run_or_rerender(
        request,
        ctx,
        change,
        form_page=lambda status, errors: _edit_page(request, ctx, system, status, form=submitted, errors=errors),
        to=f"/systems/{key}",
        ok="Saved. The change is in the ledger.",
        forbidden="show",
    )


@router.post("/systems/{key}/transition")
def transition(request: Request, ctx: WebCtx, form: Form, key: str) -> Response:
    target = field(form, "to")
    reason = field(form, "reason") or None
    current = queries.read_system(ctx, key)
    move = stage_move(current.stage, target) if target in current.allowed_transitions else "forward"
    if move != "forward" and field(form, "confirm") != "yes":  # demotions and retiring are confirmed (D32)
        ctx.require("systems:transition")
        return render(
            request,
            "confirm.html",
            title=f"Retire {current.name}?" if move == "retire" else f"Move {current.name} back to {target}?",
            message="Retiring is final: a retired system cannot move to any other stage. "
            "Its history, risks and ledger entries stay readable."
            if move == "retire"
            else f"This is a demotion from {current.stage} to {target}: releases deployed at {current.stage} "
            "stay recorded, and the system has to pass the gates again to come back.",
            action=f"/systems/{key}/transition",
            fields={"to": target, "version": field(form, "version"), "reason": reason or ""},
            confirm_label="Yes, retire this system" if move == "retire" else f"Yes, move it back to {target}",
            cancel_href=f"/systems/{key}",
            reason_required=move == "back",
        )

    def change() -> AISystem:
        if move == "back" and not reason:
            raise ValidationFailed(f"Reason: say why {current.name} moves back to {target} (kept in the ledger).")
        data = Transition.model_validate(
            {"to": target, "version": optional_int(field(form, "version")), "reason": reason}
        )
        return service.transition_system(ctx, key, data)

    return run_and_redirect(
        request,
        ctx,
        change,
        back=f"/systems/{key}",
        ok=lambda system: f"'{system.name}' moved to stage {system.stage}.",
    )


@router.get("/systems/{key}/ledger")
def ledger_tab(request: Request, ctx: WebCtx, key: str) -> Response:
    system = queries.read_system(ctx, key)
    entries, next_cursor = entries_for(
        ctx, entity_type="system", entity_id=key, cursor=request.query_params.get("cursor")
    )
    return system_page(
        request, ctx, key, "ledger", "systems/ledger.html", system=system, entries=entries, next_cursor=next_cursor
    )
