"""Scoring a risk with a matrix: resolve the matrix, score the request, store scores and history."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from sqlalchemy import select

from charter.kit.errors import ValidationFailed
from charter.risk import rules
from charter.risk.matrices.rules import MatrixSpec, Scored
from charter.risk.matrices.service import ensure_installed, get_matrix, matrix_for
from charter.risk.models import Risk, RiskAssessment, RiskMitigation
from charter.risk.schemas import Scores

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from charter.context import Ctx


def mitigation_statuses(session: Session, risk_id: int) -> tuple[str, ...]:
    stmt = select(RiskMitigation.status).where(RiskMitigation.risk_id == risk_id).order_by(RiskMitigation.number)
    return tuple(session.execute(stmt).scalars())


def refresh_effective(session: Session, risk: Risk, statuses: tuple[str, ...] | None = None) -> None:
    """Recompute the effective level and score (rules.effective) after scores or mitigations change."""
    if statuses is None:
        statuses = mitigation_statuses(session, risk.id)
    inherent = (risk.inherent_level, risk.inherent_score) if risk.inherent_level and risk.inherent_score else None
    residual = (risk.residual_level, risk.residual_score) if risk.residual_level and risk.residual_score else None
    risk.level, risk.score = rules.effective(inherent, residual, statuses)


class Scoring(NamedTuple):
    matrix: MatrixSpec
    inherent: Scored | None
    residual: Scored | None


def score_request(session: Session, risk: Risk | None, data: Scores) -> Scoring:
    """Resolve the matrix and score what the request gives; refuse mixed matrices and residual > inherent."""
    if not data.has_inherent and not data.has_residual:
        raise ValidationFailed(
            "give likelihood and impact (inherent) and/or residual_likelihood and residual_impact",
            errors=[{"loc": ["likelihood"], "msg": "nothing to assess"}],
        )
    own = (risk.matrix_name, risk.matrix_version) if risk is not None else (None, None)
    if data.has_inherent:
        spec = matrix_for(session, data.matrix, *own)
    else:
        if risk is None or risk.inherent_level is None:
            raise ValidationFailed(
                "assess the inherent risk (likelihood and impact) before the residual risk",
                errors=[{"loc": ["likelihood"], "msg": "required before residual"}],
            )
        spec = get_matrix(session, own[0] or "", own[1])
        if data.matrix and (data.matrix.name, data.matrix.version or spec.version) != (spec.name, spec.version):
            raise ValidationFailed(
                f"the residual must use the matrix of the inherent assessment, {spec.ref}; to change matrix, "
                "re-assess likelihood and impact too",
                errors=[{"loc": ["matrix"], "msg": f"must be {spec.ref}"}],
            )
    inherent = spec.score(data.likelihood, data.impact) if data.has_inherent else None  # type: ignore[arg-type]
    residual = (
        spec.score(data.residual_likelihood, data.residual_impact)  # type: ignore[arg-type]
        if data.has_residual
        else None
    )
    same_matrix = risk is not None and own == (spec.name, spec.version)
    if inherent and risk is not None and risk.residual_level and not residual and not same_matrix:
        raise ValidationFailed(
            f"risk {risk.key}'s residual was scored with {risk.matrix_name}@{risk.matrix_version}; re-score the "
            f"residual with {spec.ref} in the same request (residual_likelihood, residual_impact)",
            errors=[{"loc": ["residual_likelihood"], "msg": "required when changing matrix"}],
        )
    inherent_score = inherent.score if inherent else (risk.inherent_score if risk else None)
    residual_score = residual.score if residual else (risk.residual_score if risk else None)
    if inherent_score and residual_score and residual_score > inherent_score:
        raise ValidationFailed(
            f"the residual score ({residual_score}) cannot exceed the inherent score ({inherent_score}): "
            "treatment does not add risk; re-assess the inherent risk",
            errors=[{"loc": ["residual_likelihood"], "msg": f"residual score {residual_score} > {inherent_score}"}],
        )
    return Scoring(spec, inherent, residual)


def apply_scores(
    ctx: Ctx,
    risk: Risk,
    spec: MatrixSpec,
    inherent: Scored | None,
    residual: Scored | None,
    rationale: str,
    *,
    new: bool = False,
) -> None:
    """Store the scores with their matrix, keep the assessment history, move identified -> assessed."""
    ensure_installed(ctx, spec)
    now = ctx.now()
    risk.matrix_name, risk.matrix_version = spec.name, spec.version
    for kind, scored in (("inherent", inherent), ("residual", residual)):
        if scored is None:
            continue
        setattr(risk, f"{kind}_likelihood", scored.likelihood)
        setattr(risk, f"{kind}_impact", scored.impact)
        setattr(risk, f"{kind}_score", scored.score)
        setattr(risk, f"{kind}_level", scored.level)
        ctx.session.add(
            RiskAssessment(
                risk_id=risk.id,
                kind=kind,
                likelihood=scored.likelihood,
                impact=scored.impact,
                score=scored.score,
                level=scored.level,
                matrix_name=spec.name,
                matrix_version=spec.version,
                rationale=rationale,
                assessed_at=now,
                assessed_by=ctx.principal.actor,
            )
        )
    if risk.status == "identified":
        rules.check_transition(rules.RiskState(risk.key, risk.status, risk.inherent_level), "assessed", None)
        risk.status = "assessed"
        risk.status_changed_at = now
    refresh_effective(ctx.session, risk, () if new else None)
    risk.next_review_at = rules.next_review(now, spec, risk.level)
    risk.assessed_at = now
    risk.updated_at = now
