"""Reading the register: risk views, the filtered list, the heat map and the seed's text report."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session

from charter.access.models import User
from charter.context import Ctx
from charter.inventory.models import AISystem
from charter.inventory.queries import get_system
from charter.kit.clock import as_utc
from charter.kit.errors import NotFound
from charter.kit.pagination import paginate
from charter.risk import rules
from charter.risk.matrices.rules import MatrixSpec
from charter.risk.matrices.service import active_matrix, categories, get_matrix, resolve_category
from charter.risk.models import Risk, RiskAssessment, RiskMitigation
from charter.risk.schemas import AssessmentRead, MitigationRead, RiskDetail, RiskRead


def get_risk(session: Session, key: str) -> Risk:
    risk = session.execute(select(Risk).where(Risk.key == key.upper())).scalar_one_or_none()
    if risk is None:
        raise NotFound(f"no risk with key '{key}' (keys look like RISK-0001)", entity="risk")
    return risk


SORTABLE = {
    "key": Risk.number,
    "score": Risk.score,
    "next_review_at": Risk.next_review_at,
    "created_at": Risk.created_at,
    "updated_at": Risk.updated_at,
    "title": Risk.title,
}


@dataclass(frozen=True)
class RiskFilter:
    system: str | None = None
    category: str | None = None
    level: str | None = None
    status: str | None = None
    owner: str | None = None
    overdue: bool | None = None
    open: bool | None = None
    q: str | None = None


class Lookup:
    """Batch-loaded names and matrices for turning many risks into RiskRead."""

    def __init__(self, session: Session, risks: list[Risk]) -> None:
        self.session = session
        ids = [r.id for r in risks]
        system_ids = {r.system_id for r in risks}
        user_ids = {r.owner_id for r in risks} | {r.accepted_by_id for r in risks if r.accepted_by_id}
        self.systems: dict[int, tuple[str, str]] = {}
        if system_ids:
            stmt_s = select(AISystem.id, AISystem.key, AISystem.name).where(AISystem.id.in_(system_ids))
            self.systems = {i: (k, n) for i, k, n in session.execute(stmt_s)}
        self.users: dict[int, str] = {}
        if user_ids:
            self.users = {i: n for i, n in session.execute(select(User.id, User.username).where(User.id.in_(user_ids)))}
        self.mitigations: dict[int, list[str]] = defaultdict(list)
        if ids:
            stmt = select(RiskMitigation.risk_id, RiskMitigation.status).where(RiskMitigation.risk_id.in_(ids))
            for risk_id, status in session.execute(stmt):
                self.mitigations[risk_id].append(status)
        self.categories = categories(session)
        self._matrices: dict[tuple[str, int], MatrixSpec] = {}

    def matrix(self, risk: Risk) -> MatrixSpec | None:
        if risk.matrix_name is None or risk.matrix_version is None:
            return None
        ref = (risk.matrix_name, risk.matrix_version)
        if ref not in self._matrices:
            self._matrices[ref] = get_matrix(self.session, *ref)
        return self._matrices[ref]

    def user(self, uid: int | None) -> str | None:
        return self.users.get(uid) if uid else None


def _label(spec: MatrixSpec | None, axis: str, value: int | None) -> str | None:
    if spec is None or value is None:
        return None
    return str(getattr(spec, axis)[value - 1].label)


def to_read(risk: Risk, lookup: Lookup, now: datetime) -> RiskRead:
    spec = lookup.matrix(risk)
    statuses = lookup.mitigations.get(risk.id, [])
    overdue = rules.is_overdue(risk.status, risk.next_review_at, now)
    expired = rules.acceptance_expired(risk.status, risk.accepted_until, now)
    cat = lookup.categories.get(risk.category)
    system_key, system_name = lookup.systems[risk.system_id]
    return RiskRead(
        key=risk.key,
        system=system_key,
        system_name=system_name,
        title=risk.title,
        description=risk.description,
        category=risk.category,
        category_label=cat.label if cat else risk.category,
        owner=lookup.user(risk.owner_id),
        status=risk.status,
        level=risk.level or rules.UNASSESSED,
        score=risk.score or None,
        matrix=risk.matrix_name,
        matrix_version=risk.matrix_version,
        likelihood=risk.inherent_likelihood,
        likelihood_label=_label(spec, "likelihood", risk.inherent_likelihood),
        impact=risk.inherent_impact,
        impact_label=_label(spec, "impact", risk.inherent_impact),
        inherent_score=risk.inherent_score,
        inherent_level=risk.inherent_level,
        residual_likelihood=risk.residual_likelihood,
        residual_likelihood_label=_label(spec, "likelihood", risk.residual_likelihood),
        residual_impact=risk.residual_impact,
        residual_impact_label=_label(spec, "impact", risk.residual_impact),
        residual_score=risk.residual_score,
        residual_level=risk.residual_level,
        is_open=rules.is_open(risk.status, risk.accepted_until, now),
        overdue=overdue,
        acceptance_expired=expired,
        needs_review=overdue or expired,
        next_review_at=risk.next_review_at,
        accepted_by=lookup.user(risk.accepted_by_id),
        accepted_at=risk.accepted_at,
        accepted_until=risk.accepted_until,
        acceptance_justification=risk.acceptance_justification,
        mitigations_open=sum(1 for s in statuses if s in rules.MITIGATION_ACTIVE),
        mitigations_done=sum(1 for s in statuses if s == "done"),
        created_at=risk.created_at,
        updated_at=risk.updated_at,
        assessed_at=risk.assessed_at,
        status_changed_at=risk.status_changed_at,
        version=risk.version,
        allowed_transitions=sorted(rules.TRANSITIONS[risk.status]),
    )


def read_one(session: Session, risk: Risk, now: datetime) -> RiskRead:
    return to_read(risk, Lookup(session, [risk]), now)


def read_detail(ctx: Ctx, key: str) -> RiskDetail:
    ctx.require("risks:read")
    risk = get_risk(ctx.session, key)
    now = ctx.now()
    lookup = Lookup(ctx.session, [risk])
    mitigations = list(
        ctx.session.execute(
            select(RiskMitigation).where(RiskMitigation.risk_id == risk.id).order_by(RiskMitigation.number)
        ).scalars()
    )
    owners = {m.owner_id for m in mitigations if m.owner_id} - set(lookup.users)
    if owners:
        rows = ctx.session.execute(select(User.id, User.username).where(User.id.in_(owners)))
        lookup.users.update({i: n for i, n in rows})
    assessments = ctx.session.execute(
        select(RiskAssessment).where(RiskAssessment.risk_id == risk.id).order_by(RiskAssessment.id)
    ).scalars()
    today = now.date()
    return RiskDetail(
        **to_read(risk, lookup, now).model_dump(),
        mitigations=[
            MitigationRead(
                number=m.number,
                description=m.description,
                owner=lookup.user(m.owner_id),
                due_date=m.due_date,
                status=m.status,
                overdue=bool(m.due_date and m.due_date < today and m.status in rules.MITIGATION_ACTIVE),
                created_at=m.created_at,
                updated_at=m.updated_at,
                completed_at=m.completed_at,
                version=m.version,
            )
            for m in mitigations
        ],
        assessments=[
            AssessmentRead(
                kind=a.kind,
                likelihood=a.likelihood,
                impact=a.impact,
                score=a.score,
                level=a.level,
                matrix=a.matrix_name,
                matrix_version=a.matrix_version,
                rationale=a.rationale,
                assessed_at=a.assessed_at,
                assessed_by=a.assessed_by,
            )
            for a in assessments
        ],
    )


def filtered(session: Session, flt: RiskFilter, now: datetime) -> Select[Risk]:
    stmt = select(Risk)
    if flt.system:
        stmt = stmt.where(Risk.system_id == get_system(session, flt.system).id)
    if flt.category:
        stmt = stmt.where(Risk.category == resolve_category(session, flt.category))
    if flt.level:
        level = flt.level.upper()
        stmt = stmt.where(Risk.level.is_(None) if level == rules.UNASSESSED else Risk.level == level)
    if flt.status:
        stmt = stmt.where(Risk.status == flt.status)
    if flt.owner:
        stmt = stmt.where(Risk.owner_id.in_(select(User.id).where(User.username == flt.owner)))
    overdue = and_(Risk.status != "closed", Risk.next_review_at <= now)
    if flt.overdue is True:
        stmt = stmt.where(overdue)
    elif flt.overdue is False:
        stmt = stmt.where(~overdue)
    is_open = or_(
        Risk.status.in_(rules.OPEN_STATUSES),
        and_(Risk.status == "accepted", Risk.accepted_until.is_not(None), Risk.accepted_until <= now),
    )
    if flt.open is True:
        stmt = stmt.where(is_open)
    elif flt.open is False:
        stmt = stmt.where(~is_open)
    if flt.q:
        like = f"%{flt.q.lower()}%"
        stmt = stmt.where(Risk.title.ilike(like) | Risk.description.ilike(like) | Risk.key.ilike(like))
    return stmt


def list_risks(
    ctx: Ctx, flt: RiskFilter, *, sort: str = "key", limit: int = 50, cursor: str | None = None
) -> tuple[list[RiskRead], str | None]:
    ctx.require("risks:read")
    now = ctx.now()
    rows, next_cursor = paginate(
        ctx.session,
        filtered(ctx.session, flt, now),
        sort=sort,
        sortable=SORTABLE,
        id_col=Risk.id,
        limit=limit,
        cursor=cursor,
    )
    lookup = Lookup(ctx.session, rows)
    return [to_read(r, lookup, now) for r in rows], next_cursor


# ----------------------------------------------------------------------------- heat map


def heatmap(ctx: Ctx, system: str | None, include_closed: bool = False) -> dict[str, Any]:
    """Counts per (likelihood, impact) cell, inherent vs residual; one grid per matrix in use."""
    ctx.require("risks:read")
    # Only the columns the grid reads (rows, not ORM objects): the dashboard draws this on every load.
    stmt = select(
        Risk.matrix_name,
        Risk.matrix_version,
        Risk.inherent_likelihood,
        Risk.inherent_impact,
        Risk.residual_likelihood,
        Risk.residual_impact,
    )
    if system:
        stmt = stmt.where(Risk.system_id == get_system(ctx.session, system).id)
    if not include_closed:
        stmt = stmt.where(Risk.status != "closed")
    risks = list(ctx.session.execute(stmt))
    by_matrix: dict[tuple[str, int], list[Any]] = defaultdict(list)
    unassessed = 0
    for r in risks:
        if r.matrix_name is None or r.matrix_version is None:
            unassessed += 1
        else:
            by_matrix[(r.matrix_name, r.matrix_version)].append(r)
    specs = [get_matrix(ctx.session, *ref) for ref in sorted(by_matrix)] or [active_matrix(ctx.session)]
    grids = [_grid(spec, by_matrix.get((spec.name, spec.version), [])) for spec in specs]
    return {"system": system, "include_closed": include_closed, "unassessed": unassessed, "grids": grids}


def _grid(spec: MatrixSpec, risks: list[Any]) -> dict[str, Any]:
    inherent: dict[tuple[int, int], int] = defaultdict(int)
    residual: dict[tuple[int, int], int] = defaultdict(int)
    for r in risks:
        if r.inherent_likelihood and r.inherent_impact:
            inherent[(r.inherent_likelihood, r.inherent_impact)] += 1
        if r.residual_likelihood and r.residual_impact:
            residual[(r.residual_likelihood, r.residual_impact)] += 1
    cells = []
    for li in reversed(spec.likelihood):
        for im in spec.impact:
            score = li.value * im.value
            cells.append(
                {
                    "likelihood": li.value,
                    "impact": im.value,
                    "score": score,
                    "level": spec.level_for(score).key,
                    "inherent": inherent[(li.value, im.value)],
                    "residual": residual[(li.value, im.value)],
                }
            )
    return {
        "matrix": spec.name,
        "matrix_version": spec.version,
        "title": spec.title,
        "likelihood": [{"value": p.value, "key": p.key, "label": p.label} for p in spec.likelihood],
        "impact": [{"value": p.value, "key": p.key, "label": p.label} for p in spec.impact],
        "cells": cells,
        "inherent_total": sum(inherent.values()),
        "residual_total": sum(residual.values()),
    }


# ----------------------------------------------------------------------------- report


def report(ctx: Ctx, system: str | None, include_closed: bool = False) -> str:
    """The seed's generate_report: per system, risks by inherent score (highest first)."""
    ctx.require("risks:read")
    now = ctx.now()
    stmt = select(Risk)
    if system:
        stmt = stmt.where(Risk.system_id == get_system(ctx.session, system).id)
    if not include_closed:
        stmt = stmt.where(Risk.status != "closed")
    risks = list(ctx.session.execute(stmt).scalars())
    lookup = Lookup(ctx.session, risks)
    per_system: dict[int, list[Risk]] = defaultdict(list)
    for r in risks:
        per_system[r.system_id].append(r)
    if system and not per_system:
        s = get_system(ctx.session, system)
        return f"Risk Assessment: {s.name}\n" + "=" * 50 + "\n\n(no risks)\n"
    parts = []
    for system_id in sorted(per_system, key=lambda i: lookup.systems[i][1].casefold()):
        parts.append(_system_report(lookup.systems[system_id][1], per_system[system_id], lookup, now))
    return "\n".join(parts) if parts else "(no risks)\n"


def _system_report(name: str, risks: list[Risk], lookup: Lookup, now: datetime) -> str:
    out = f"Risk Assessment: {name}\n" + "=" * 50 + "\n\n"
    for r in sorted(risks, key=lambda r: (-(r.inherent_score or 0), -(r.residual_score or 0), r.number)):
        cat = lookup.categories.get(r.category)
        level = f"{r.inherent_level} (Score: {r.inherent_score})" if r.inherent_level else rules.UNASSESSED
        out += f"Risk: {r.title}\n"
        out += f"Category: {cat.label if cat else r.category}\n"
        out += f"Level: {level}\n"
        out += f"Description: {r.description}\n"
        flags = []
        if rules.is_overdue(r.status, r.next_review_at, now):
            flags.append("REVIEW OVERDUE")
        if rules.acceptance_expired(r.status, r.accepted_until, now):
            flags.append("ACCEPTANCE EXPIRED")
        matrix = f" | Matrix: {r.matrix_name}@{r.matrix_version}" if r.matrix_name else ""
        out += (
            f"Key: {r.key} | Status: {r.status} | Owner: {lookup.user(r.owner_id)}{matrix} | "
            f"Next review: {r.next_review_at:%Y-%m-%d}" + (f" ({', '.join(flags)})" if flags else "") + "\n"
        )
        if r.residual_level:
            out += f"Residual: {r.residual_level} (Score: {r.residual_score})\n"
        out += "-" * 50 + "\n"
    return out


def gate_facts(session: Session, system_id: int, now: datetime) -> dict[str, Any]:
    """The risk facts a deployment gate evaluates for one AI system (contract in docs/risk.md).

    Pure read: no permission check (the caller checks 'gate:check'), no writes. Counts and key lists:
    open_total, open_critical, open_high, open_high_without_mitigation, open_high_without_plan,
    open_unassessed, overdue_reviews, accepted_expired, open_by_level {LOW, MEDIUM, HIGH, CRITICAL,
    UNASSESSED}, open_keys, open_critical_keys, high_without_mitigation_keys, high_without_plan_keys,
    overdue_review_keys, accepted_expired_keys.
    """
    now = as_utc(now)
    risks = list(session.execute(select(Risk).where(Risk.system_id == system_id, Risk.status != "closed")).scalars())
    by_risk: dict[int, list[str]] = {r.id: [] for r in risks}
    if risks:
        stmt = select(RiskMitigation.risk_id, RiskMitigation.status).where(RiskMitigation.risk_id.in_(list(by_risk)))
        for risk_id, status in session.execute(stmt):
            by_risk[risk_id].append(status)
    rows = [
        rules.FactRow(
            key=r.key,
            status=r.status,
            level=r.level,
            next_review_at=r.next_review_at,
            accepted_until=r.accepted_until,
            mitigation_statuses=tuple(by_risk[r.id]),
        )
        for r in risks
    ]
    return rules.compute_gate_facts(rows, now)


def count_overdue_reviews(ctx: Ctx) -> int:
    """How many open risks are past their next review (the dashboard's counter)."""
    ctx.require("risks:read")
    overdue = filtered(ctx.session, RiskFilter(overdue=True), ctx.now()).subquery()
    return int(ctx.session.execute(select(func.count()).select_from(overdue)).scalar_one())
