"""Deployment history: every pointer move, what is deployed now, and what was deployed at time T."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select

from charter.inventory.queries import get_system
from charter.inventory.rules import DEPLOYMENT_STAGES
from charter.kit.errors import ValidationFailed
from charter.releases.models import Deployment, DeploymentPointer, Release
from charter.releases.schemas import DeploymentRead, PointerRead

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from charter.context import Ctx
    from charter.inventory.models import AISystem


def versions_of(session: Session, ids: set[int | None]) -> dict[int, int]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {r.id: r.version for r in session.execute(select(Release.id, Release.version).where(Release.id.in_(wanted)))}


def to_deployment_read(session: Session, system: AISystem, rows: list[Deployment]) -> list[DeploymentRead]:
    versions = versions_of(session, {r.from_release_id for r in rows} | {r.to_release_id for r in rows})
    return [
        DeploymentRead(
            id=r.id,
            system=system.key,
            stage=r.stage,
            kind=r.kind,
            from_version=versions.get(r.from_release_id) if r.from_release_id else None,
            to_version=versions.get(r.to_release_id) if r.to_release_id else None,
            actor=r.actor,
            at=r.at,
            reason=r.reason,
            incident=r.incident_key,
            gate_evaluation_id=r.gate_evaluation_id,
            runbook=r.runbook,
        )
        for r in rows
    ]


def history(ctx: Ctx, system_key: str, stage: str | None = None) -> list[DeploymentRead]:
    """Every pointer move of a system, oldest first."""
    ctx.require("releases:read")
    system = get_system(ctx.session, system_key)
    stmt = select(Deployment).where(Deployment.system_id == system.id)
    if stage is not None:
        stmt = stmt.where(Deployment.stage == stage)
    rows = list(ctx.session.execute(stmt.order_by(Deployment.at, Deployment.id)).scalars())
    return to_deployment_read(ctx.session, system, rows)


def current_pointers(session: Session, system: AISystem) -> list[PointerRead]:
    rows = {
        p.stage: p
        for p in session.execute(select(DeploymentPointer).where(DeploymentPointer.system_id == system.id)).scalars()
    }
    versions = versions_of(session, {p.release_id for p in rows.values()})
    out = []
    for stage in DEPLOYMENT_STAGES:
        p = rows.get(stage)
        if p is None:
            continue
        last = session.execute(
            select(Deployment.id, Deployment.at)
            .where(Deployment.system_id == system.id, Deployment.stage == stage)
            .order_by(Deployment.at.desc(), Deployment.id.desc())
            .limit(1)
        ).first()
        out.append(
            PointerRead(
                system=system.key,
                stage=stage,
                version=versions.get(p.release_id) if p.release_id else None,
                since=last[1] if last else None,
                deployment_id=last[0] if last else None,
            )
        )
    return out


def deployed_at(ctx: Ctx, system_key: str, stage: str, at: datetime) -> PointerRead:
    """What was deployed at `stage` at time `at` (the last pointer move at or before it)."""
    ctx.require("releases:read")
    system = get_system(ctx.session, system_key)
    if stage not in DEPLOYMENT_STAGES:
        raise ValidationFailed(f"unknown stage '{stage}'; stages: {', '.join(DEPLOYMENT_STAGES)}")
    move = ctx.session.execute(
        select(Deployment)
        .where(Deployment.system_id == system.id, Deployment.stage == stage, Deployment.at <= at)
        .order_by(Deployment.at.desc(), Deployment.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    version = None
    if move is not None and move.to_release_id is not None:
        version = ctx.session.execute(select(Release.version).where(Release.id == move.to_release_id)).scalar_one()
    return PointerRead(
        system=system.key,
        stage=stage,
        version=version,
        since=move.at if move else None,
        deployment_id=move.id if move else None,
    )
