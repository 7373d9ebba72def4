"""Notifications of sign-off: the people who may sign a submitted run off are told, and the person who
started it hears the decision (event types approval.requested and approval.decided)."""

from __future__ import annotations

from charter.access.service import users_who_can
from charter.context import Ctx
from charter.notifications.service import notify
from charter.procedures.models import ProcedureRun
from charter.procedures.template_schema import TemplateSpec, signoff_roles


def signoff_requested(ctx: Ctx, run: ProcedureRun, spec: TemplateSpec) -> None:
    signers = users_who_can(ctx.session, "reviews:signoff", roles=signoff_roles(spec), exclude=(ctx.principal.user_id,))
    notify(
        ctx,
        "approval.requested",
        recipients=signers,
        subject=f"{spec.title}: run {run.id} awaits sign-off",
        body=f"{ctx.principal.name} submitted run {run.id} ({run.template_key} v{run.template_version}) "
        f"for {run.subject_type} {run.subject_id}.",
        payload=_payload(ctx, run),
        entity=("procedure_run", str(run.id)),
    )


def signoff_decided(ctx: Ctx, run: ProcedureRun, spec: TemplateSpec) -> None:
    if run.started_by_id is None or run.started_by_id == ctx.principal.user_id:
        return
    notify(
        ctx,
        "approval.decided",
        recipients=[run.started_by_id],
        subject=f"{spec.title}: run {run.id} {run.status} by {ctx.principal.name}",
        body=run.decision_reason,
        payload=_payload(ctx, run) | {"decision": run.status, "by": ctx.principal.name},
        entity=("procedure_run", str(run.id)),
        organisation=False,
    )


def _payload(ctx: Ctx, run: ProcedureRun) -> dict[str, object]:
    return {
        "run": run.id,
        "template": run.template_key,
        "subject_type": run.subject_type,
        "subject_id": run.subject_id,
        "url": f"{ctx.settings.base_url}/reviews/{run.id}",
    }
