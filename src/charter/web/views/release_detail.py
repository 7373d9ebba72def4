"""One release: request a stage, see every gate rule with its reason, approve or reject, promote,
withdraw; and a system's rollback (confirmed on a second page)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request, Response

from charter.context import Ctx
from charter.releases import deploy, gate
from charter.releases import queries as release_queries
from charter.releases import service as releases
from charter.releases.schemas import DecisionIn, GateRead, PromoteIn, RollbackIn, StageRequest, WithdrawIn
from charter.web.actions import run_and_redirect
from charter.web.deps import Form, WebCtx, WebRoute, field
from charter.web.forms import optional_int
from charter.web.render import fragment, is_htmx, redirect, render
from charter.web.views.system_page import system_page

router = APIRouter(route_class=WebRoute, include_in_schema=False)


def latest_gates(ctx: Ctx, key: str, version: int) -> dict[str, GateRead]:
    """The newest stored gate evaluation per stage, as read models."""
    out: dict[str, GateRead] = {}
    for evaluation in release_queries.list_evaluations(ctx, key, version):  # newest first
        out.setdefault(evaluation.stage, evaluation)
    return out


def _url(key: str, version: int) -> str:
    return f"/systems/{key}/releases/{version}"


@router.get("/systems/{key}/releases/{version}")
def detail(request: Request, ctx: WebCtx, key: str, version: int) -> Response:
    release = release_queries.read_release(ctx, key, version)
    return system_page(
        request,
        ctx,
        key,
        "releases",
        "releases/detail.html",
        release=release,
        stages=release_queries.read_stages(ctx, key),
        gates=latest_gates(ctx, key, version),
        by_stage={s.stage: s for s in release.stages},
    )


@router.get("/systems/{key}/releases/{version}/approve")
def approval_page(request: Request, ctx: WebCtx, key: str, version: int) -> Response:
    """Everything an approver needs on one page: the change, the artifacts, every gate rule and its reason."""
    stage = request.query_params.get("stage", "")
    release = release_queries.read_release(ctx, key, version)
    row = next((s for s in release.stages if s.stage == stage), None)
    return system_page(
        request,
        ctx,
        key,
        "releases",
        "releases/approve.html",
        release=release,
        stage=stage,
        row=row,
        gate=latest_gates(ctx, key, version).get(stage),
        approvals=[a for a in release.approvals if a.stage == stage],
    )


@router.post("/systems/{key}/releases/{version}/gate")
def check_gate(request: Request, ctx: WebCtx, form: Form, key: str, version: int) -> Response:
    """Evaluate the stage's gate now (stored as evidence) and show every rule with its reason."""
    stage = field(form, "stage")
    evaluation = gate.check_gate(ctx, key, version, stage)
    ctx.commit()
    result = gate.to_read(evaluation, key, version)
    if is_htmx(request):
        return fragment(request, "releases/_gate.html", gate=result, stage=stage)
    return redirect(request, f"{_url(key, version)}/approve?stage={stage}", "Gate evaluated.", "info")


def _act(request: Request, ctx: Ctx, key: str, version: int, change: Callable[[], object], ok: str) -> Response:
    # A gate refused at promotion is committed too: the refused evaluation is evidence.
    return run_and_redirect(request, ctx, change, back=_url(key, version), ok=ok, commit_on=(deploy.GateRefused,))


@router.post("/systems/{key}/releases/{version}/request")
def request_stage(request: Request, ctx: WebCtx, form: Form, key: str, version: int) -> Response:
    stage = field(form, "stage")

    def run() -> None:
        data = StageRequest.model_validate({"stage": stage, "reason": field(form, "reason") or None})
        releases.request_stage(ctx, key, version, data)

    return _act(request, ctx, key, version, run, f"Requested {stage} for release {version}; approvers can decide now.")


@router.post("/systems/{key}/releases/{version}/decide")
def decide(request: Request, ctx: WebCtx, form: Form, key: str, version: int) -> Response:
    stage, decision = field(form, "stage"), field(form, "decision")

    def run() -> None:
        data = DecisionIn.model_validate({"stage": stage, "decision": decision, "comment": field(form, "comment")})
        releases.decide(ctx, key, version, data)

    done = "approved" if decision == "approve" else "rejected"
    return _act(request, ctx, key, version, run, f"You {done} release {version} for {stage}.")


@router.post("/systems/{key}/releases/{version}/promote")
def promote(request: Request, ctx: WebCtx, form: Form, key: str, version: int) -> Response:
    stage = field(form, "stage")

    def run() -> None:
        data = PromoteIn.model_validate({"stage": stage, "reason": field(form, "reason") or None})
        deploy.promote(ctx, key, version, data)

    return _act(request, ctx, key, version, run, f"Release {version} is deployed at {stage}; the gate passed.")


@router.post("/systems/{key}/releases/{version}/withdraw")
def withdraw(request: Request, ctx: WebCtx, form: Form, key: str, version: int) -> Response:
    stage = field(form, "stage")

    def run() -> None:
        data = WithdrawIn.model_validate({"stage": stage, "reason": field(form, "reason")})
        deploy.withdraw(ctx, key, version, data)

    return _act(request, ctx, key, version, run, f"Release {version} withdrawn from {stage}.")


@router.post("/systems/{key}/rollback")
def rollback(request: Request, ctx: WebCtx, form: Form, key: str) -> Response:
    """Roll a stage back to the previous (or a named) release — confirmed on a second page with a reason."""
    stage, reason = field(form, "stage"), field(form, "reason")
    to_version = optional_int(field(form, "to_version"))
    back = f"/systems/{key}/releases"
    if field(form, "confirm") != "yes" or not reason:
        ctx.require("releases:deploy")
        pointers = {p.stage: p.version for p in release_queries.read_stages(ctx, key).pointers}
        target = f"release {to_version}" if to_version else "the release deployed before it"
        return render(
            request,
            "confirm.html",
            status=200 if field(form, "confirm") != "yes" else 422,
            title=f"Roll back {stage} of {key}?",
            message=f"{stage.title()} runs release {pointers.get(stage) or '—'} now; it will run {target}. "
            "The current release is marked rolled back (final) and the rollback runbook starts. "
            "Give the reason; it goes into the ledger.",
            action=f"/systems/{key}/rollback",
            fields={
                "stage": stage,
                "to_version": "" if to_version is None else str(to_version),
                "incident": field(form, "incident"),
                "emergency": field(form, "emergency"),
                "reason": reason,
            },
            confirm_label=f"Yes, roll back {stage}",
            cancel_href=back,
            reason_required=True,
        )

    def change() -> None:
        data = RollbackIn.model_validate(
            {
                "stage": stage,
                "to_version": to_version,
                "reason": reason,
                "incident": field(form, "incident") or None,
                "emergency": field(form, "emergency") == "yes",
            }
        )
        deploy.rollback(ctx, key, data)

    return run_and_redirect(
        request,
        ctx,
        change,
        back=back,
        ok=lambda _: f"Rolled back {stage}: release {_to(ctx, key, stage)} runs there now.",
    )


def _to(ctx: Ctx, key: str, stage: str) -> str:
    pointer = next((p for p in release_queries.read_stages(ctx, key).pointers if p.stage == stage), None)
    return str(pointer.version) if pointer and pointer.version is not None else "none"
