"""One risk: assess with the picker (inherent and residual), move, accept (with confirmation), mitigations."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError

from charter.context import Ctx
from charter.kit.errors import CharterError
from charter.risk import mitigations, queries
from charter.risk import service as risk_service
from charter.risk.rules import MITIGATION_STATUSES, MITIGATION_TRANSITIONS
from charter.risk.schemas import Accept, Assess, MitigationCreate, MitigationUpdate, Transition
from charter.web.deps import Form, WebCtx, WebRoute, field
from charter.web.forms import GENERAL, field_errors, optional_int, summary, values
from charter.web.render import redirect, render
from charter.web.views.risk_common import parse_cell, spec_of

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


def _fail(request: Request, ctx: Ctx, key: str, exc: Exception, form: Any) -> Response:
    if isinstance(exc, ValidationError):
        errors = field_errors(exc)
        return _page(request, ctx, key, 422, errors=errors, form=values(form))
    assert isinstance(exc, CharterError)
    if exc.status == 403:
        raise exc
    return _page(request, ctx, key, exc.status, errors={GENERAL: exc.detail}, form=values(form))


@router.post("/risks/{key}/assess")
def assess(request: Request, ctx: WebCtx, form: Form, key: str) -> Response:
    try:
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
        risk = risk_service.assess_risk(ctx, key, Assess.model_validate(payload))
        ctx.commit()
    except (ValidationError, CharterError) as exc:
        return _fail(request, ctx, key, exc, form)
    return redirect(request, f"/risks/{risk.key}", f"Assessed: {risk.level} (score {risk.score}).")


@router.post("/risks/{key}/transition")
def transition(request: Request, ctx: WebCtx, form: Form, key: str) -> Response:
    try:
        data = Transition.model_validate(
            {
                "to": field(form, "to"),
                "version": optional_int(field(form, "version")),
                "reason": field(form, "reason") or None,
            }
        )
        risk = risk_service.transition_risk(ctx, key, data)
        ctx.commit()
    except (ValidationError, CharterError) as exc:
        return _fail(request, ctx, key, exc, form)
    return redirect(request, f"/risks/{risk.key}", f"Risk {risk.key} is now {risk.status}.")


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
    try:
        data = Accept.model_validate(
            {
                "version": optional_int(field(form, "version")),
                "justification": justification,
                "expires_at": _until(until),
            }
        )
        if field(form, "confirm") != "yes":
            ctx.require("risks:accept")
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
        risk = risk_service.accept_risk(ctx, key, data)
        ctx.commit()
    except (ValidationError, CharterError) as exc:
        return _fail(request, ctx, key, exc, form)
    return redirect(request, f"/risks/{risk.key}", f"Risk {risk.key} accepted until {until}.")


@router.post("/risks/{key}/mitigations")
def add_mitigation(request: Request, ctx: WebCtx, form: Form, key: str) -> Response:
    try:
        data = MitigationCreate.model_validate(
            {
                "description": field(form, "description"),
                "owner": field(form, "owner") or None,
                "due_date": field(form, "due_date") or None,
            }
        )
        m = mitigations.add_mitigation(ctx, key, data)
        ctx.commit()
    except (ValidationError, CharterError) as exc:
        return _fail(request, ctx, key, exc, form)
    return redirect(request, f"/risks/{key}", f"Mitigation M{m.number} added.")


@router.post("/risks/{key}/mitigations/{number}")
def update_mitigation(request: Request, ctx: WebCtx, form: Form, key: str, number: int) -> Response:
    try:
        data = MitigationUpdate.model_validate(
            {"version": optional_int(field(form, "version")), "status": field(form, "status") or None}
        )
        m = mitigations.update_mitigation(ctx, key, number, data)
        ctx.commit()
    except ValidationError as exc:
        return redirect(request, f"/risks/{key}", summary(field_errors(exc)), "error")
    except CharterError as exc:
        if exc.status == 403:
            raise
        return redirect(request, f"/risks/{key}", exc.detail, "error")
    return redirect(request, f"/risks/{key}", f"Mitigation M{m.number} is now {m.status.replace('_', ' ')}.")
