"""One risk: assess with the picker (inherent and residual), move, accept (with confirmation), mitigations."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request, Response

from charter.context import Ctx
from charter.risk import mitigations, queries
from charter.risk import service as risk_service
from charter.risk.rules import MITIGATION_STATUSES, MITIGATION_TRANSITIONS
from charter.risk.schemas import Accept, Assess, MitigationCreate, MitigationUpdate, Transition
from charter.web.actions import FormPage, run_and_redirect, run_or_rerender
from charter.web.deps import Form, WebCtx, WebRoute, field
from charter.web.forms import optional_int, values
from charter.web.render import render
from charter.web.views.risk_common import parse_cell, spec_of

if TYPE_CHECKING:
    from starlette.datastructures import FormData

    from charter.risk.models import Risk, RiskMitigation

router = APIRouter(route_class=WebRoute, include_in_schema=False)


def _page(request: Request, ctx: Ctx, key: str, status: int = 200, **context: Any) -> Response:
    risk = queries.read_detail(ctx, key)
    context.setdefault("errors", {})
    context.setdefault("form", {})
    return render(
        request,
        "risks/detail.html",
        status=status,
        risk=risk,
        spec=spec_of(ctx, risk.matrix, risk.matrix_version),
        mitigation_statuses=MITIGATION_STATUSES,
        mitigation_moves=MITIGATION_TRANSITIONS,
        **context,
    )


@router.get("/risks/{key}")
def detail(request: Request, ctx: WebCtx, key: str) -> Response:
    return _page(request, ctx, key)


def _form_page(request: Request, ctx: Ctx, key: str, form: FormData) -> FormPage:
    """The risk page again after a refusal, with what was typed and the messages."""
    return lambda status, errors: _page(request, ctx, key, status, errors=errors, form=values(form))


@router.post("/risks/{key}/assess")
def assess(request: Request, ctx: WebCtx, form: Form, key: str) -> Response:
    def change() -> Risk:
        inherent = parse_cell(field(form, "inherent"), "inherent")
        residual = parse_cell(field(form, "residual"), "residual")
        payload: dict[str, Any] = {
            "version": optional_int(field(form, "version")),
            "rationale": field(form, "rationale"),
        }
        if inherent:
            payload |= {"likelihood": inherent[0], "impact": inherent[1]}
        if residual:
            payload |= {"residual_likelihood": residual[0], "residual_impact": residual[1]}
        return risk_service.assess_risk(ctx, key, Assess.model_validate(payload))

    return run_or_rerender(
        request,
        ctx,
        change,
        form_page=_form_page(request, ctx, key, form),
        to=lambda risk: f"/risks/{risk.key}",
        ok=lambda risk: f"Assessed: {risk.level} (score {risk.score}).",
    )


@router.post("/risks/{key}/transition")
def transition(request: Request, ctx: WebCtx, form: Form, key: str) -> Response:
    def change() -> Risk:
        data = Transition.model_validate(
            {
                "to": field(form, "to"),
                "version": optional_int(field(form, "version")),
                "reason": field(form, "reason") or None,
            }
        )
        return risk_service.transition_risk(ctx, key, data)

    return run_or_rerender(
        request,
        ctx,
        change,
        form_page=_form_page(request, ctx, key, form),
        to=lambda risk: f"/risks/{risk.key}",
        ok=lambda risk: f"Risk {risk.key} is now {risk.status}.",
    )


def _until(text: str) -> datetime | str:
    """A date from the form means the end of that day (UTC)."""
    try:
        return datetime.combine(datetime.fromisoformat(text).date(), time(23, 59, 59), tzinfo=UTC)
    except ValueError:
        return text


@router.post("/risks/{key}/accept")
def accept(request: Request, ctx: WebCtx, form: Form, key: str) -> Response:
    """Accepting a residual risk is a governance decision: confirm it on a second page first."""
    justification, until = field(form, "justification"), field(form, "expires_at")

    def change() -> Risk | Response:
        data = Accept.model_validate(
            {
                "version": optional_int(field(form, "version")),
                "justification": justification,
                "expires_at": _until(until),
            }
        )
        if field(form, "confirm") != "yes":
            return _confirm_acceptance(request, ctx, key, form)
        return risk_service.accept_risk(ctx, key, data)

    return run_or_rerender(
        request,
        ctx,
        change,
        form_page=_form_page(request, ctx, key, form),
        to=f"/risks/{key}",
        ok=f"Risk {key} accepted until {until}.",
    )


def _confirm_acceptance(request: Request, ctx: Ctx, key: str, form: FormData) -> Response:
    ctx.require("risks:accept")
    justification, until = field(form, "justification"), field(form, "expires_at")
    current = queries.read_detail(ctx, key)
    return render(
        request,
        "confirm.html",
        title=f"Accept the residual risk of {current.key}?",
        message=f"You accept that '{current.title}' stays at {current.residual_level} "
        f"(score {current.residual_score}) until {until}. Your name and justification go into the ledger; "
        "the risk comes back for review when the acceptance lapses.",
        details=[("Justification", justification), ("Expires", until), ("Owner", current.owner or "—")],
        action=f"/risks/{key}/accept",
        fields={"version": field(form, "version"), "justification": justification, "expires_at": until},
        confirm_label="Yes, accept this risk",
        cancel_href=f"/risks/{key}",
        reason_required=False,
    )


@router.post("/risks/{key}/mitigations")
def add_mitigation(request: Request, ctx: WebCtx, form: Form, key: str) -> Response:
    def change() -> RiskMitigation:
        data = MitigationCreate.model_validate(
            {
                "description": field(form, "description"),
                "owner": field(form, "owner") or None,
                "due_date": field(form, "due_date") or None,
            }
        )
        return mitigations.add_mitigation(ctx, key, data)

    return run_or_rerender(
        request,
        ctx,
        change,
        form_page=_form_page(request, ctx, key, form),
        to=f"/risks/{key}",
        ok=lambda m: f"Mitigation M{m.number} added.",
    )


@router.post("/risks/{key}/mitigations/{number}")
def update_mitigation(request: Request, ctx: WebCtx, form: Form, key: str, number: int) -> Response:
    def change() -> RiskMitigation:
        data = MitigationUpdate.model_validate(
            {"version": optional_int(field(form, "version")), "status": field(form, "status") or None}
        )
        return mitigations.update_mitigation(ctx, key, number, data)

    return run_and_redirect(
        request,
        ctx,
        change,
        back=f"/risks/{key}",
        ok=lambda m: f"Mitigation M{m.number} is now {m.status.replace('_', ' ')}.",
    )
