"""Reading releases: one release with its stages and approvals, the list, a diff, the stage settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from charter.context import Ctx
from charter.inventory.models import AISystem
from charter.inventory.queries import get_system
from charter.kit.errors import NotFound
from charter.releases.facts import allowed_stages
from charter.releases.gate import to_read as to_gate_read
from charter.releases.history import current_pointers
from charter.releases.models import GateEvaluation, Release, ReleaseApproval, ReleaseStage, ReleaseStageConfig
from charter.releases.rules import TRANSITIONS, diff
from charter.releases.schemas import (
    ApprovalRead,
    ArtifactRead,
    GateRead,
    ReleaseRead,
    ReleaseSummary,
    StageRead,
    StagesRead,
)
from charter.releases.store import artifact_dicts, artifacts_of, change_of, get_release


def to_read(session: Session, system: AISystem, release: Release) -> ReleaseRead:
    rows = list(
        session.execute(
            select(ReleaseStage).where(ReleaseStage.release_id == release.id).order_by(ReleaseStage.id)
        ).scalars()
    )
    decisions = list(
        session.execute(
            select(ReleaseApproval).where(ReleaseApproval.release_id == release.id).order_by(ReleaseApproval.id)
        ).scalars()
    )
    return ReleaseRead(
        id=release.id,
        system=system.key,
        version=release.version,
        content_hash=release.content_hash,
        change=change_of(release),
        artifacts=[ArtifactRead(**a) for a in artifact_dicts(artifacts_of(session, release.id))],
        requested_by=release.requested_by,
        submitted_at=release.submitted_at,
        stages=[
            StageRead(
                stage=r.stage,
                status=r.status,
                requested_by=r.requested_by,
                requested_at=r.requested_at,
                updated_at=r.updated_at,
                reason=r.reason,
                version=r.version,
                allowed_transitions=sorted(TRANSITIONS[r.status]),
            )
            for r in rows
        ],
        approvals=[
            ApprovalRead(
                stage=d.stage,
                user=d.username,
                role=d.role,
                decision=d.decision,
                comment=d.comment,
                decided_at=d.decided_at,
                content_hash=d.content_hash,
                valid=d.content_hash == release.content_hash,
            )
            for d in decisions
        ],
    )


def read_release(ctx: Ctx, system_key: str, version: int) -> ReleaseRead:
    ctx.require("releases:read")
    system, release = get_release(ctx.session, system_key, version)
    return to_read(ctx.session, system, release)


def list_releases(ctx: Ctx, system_key: str) -> list[ReleaseSummary]:
    ctx.require("releases:read")
    system = get_system(ctx.session, system_key)
    releases = list(
        ctx.session.execute(select(Release).where(Release.system_id == system.id).order_by(Release.version)).scalars()
    )
    statuses: dict[int, dict[str, str]] = {}
    for row in ctx.session.execute(
        select(ReleaseStage.release_id, ReleaseStage.stage, ReleaseStage.status).where(
            ReleaseStage.system_id == system.id
        )
    ):
        statuses.setdefault(row.release_id, {})[row.stage] = row.status
    return [
        ReleaseSummary(
            system=system.key,
            version=r.version,
            change_type=r.change_type,
            summary=r.change_summary,
            requested_by=r.requested_by,
            submitted_at=r.submitted_at,
            content_hash=r.content_hash,
            statuses=statuses.get(r.id, {}),
        )
        for r in releases
    ]


def diff_releases(ctx: Ctx, system_key: str, v1: int, v2: int) -> dict[str, Any]:
    ctx.require("releases:read")
    _s, a = get_release(ctx.session, system_key, v1)
    _s, b = get_release(ctx.session, system_key, v2)
    result = diff(
        artifact_dicts(artifacts_of(ctx.session, a.id)),
        change_of(a),
        artifact_dicts(artifacts_of(ctx.session, b.id)),
        change_of(b),
    )
    return {"system": system_key, "from_version": v1, "to_version": v2, **result}


def read_stages(ctx: Ctx, system_key: str) -> StagesRead:
    ctx.require("releases:read")
    system = get_system(ctx.session, system_key)
    config = ctx.session.get(ReleaseStageConfig, system.id)
    return StagesRead(
        system=system.key,
        stages=allowed_stages(ctx.session, system.id),
        configured=config is not None,
        version=config.version if config else None,
        pointers=current_pointers(ctx.session, system),
    )


def list_evaluations(ctx: Ctx, system_key: str, version: int, stage: str | None = None) -> list[GateRead]:
    """The stored gate evaluations of a release, newest first (at most 200)."""
    ctx.require("releases:read")
    _system, release = get_release(ctx.session, system_key, version)
    stmt = select(GateEvaluation).where(GateEvaluation.release_id == release.id)
    if stage is not None:
        stmt = stmt.where(GateEvaluation.stage == stage)
    rows = ctx.session.execute(stmt.order_by(GateEvaluation.id.desc()).limit(200)).scalars()
    return [to_gate_read(e, system_key, version) for e in rows]


def read_evaluation(ctx: Ctx, evaluation_id: int) -> GateRead:
    """One stored gate evaluation, with the facts it saw."""
    ctx.require("releases:read")
    row = ctx.session.execute(
        select(GateEvaluation, AISystem.key, Release.version)
        .join(AISystem, AISystem.id == GateEvaluation.system_id)
        .join(Release, Release.id == GateEvaluation.release_id)
        .where(GateEvaluation.id == evaluation_id)
    ).first()
    if row is None:
        raise NotFound(f"no gate evaluation {evaluation_id}", entity="gate_evaluation")
    return to_gate_read(row[0], row[1], row[2], include_facts=True)


@dataclass(frozen=True)
class AwaitingApproval:
    """A release waiting at a stage for an approval."""

    system: str
    version: int
    stage: str
    summary: str
    requested_by: str


def awaiting_my_approval(ctx: Ctx, *, limit: int = 50) -> list[AwaitingApproval]:
    """Release stages pending approval that the signed-in person did not request themselves (nobody approves
    their own request), oldest submission first."""
    ctx.require("releases:read")
    rows = ctx.session.execute(
        select(AISystem.key, Release.version, ReleaseStage.stage, Release.change_summary, Release.requested_by)
        .join(Release, Release.id == ReleaseStage.release_id)
        .join(AISystem, AISystem.id == ReleaseStage.system_id)
        .where(ReleaseStage.status == "pending_approval", Release.requested_by != ctx.principal.name)
        .order_by(Release.submitted_at)
        .limit(limit)
    )
    return [
        AwaitingApproval(system=key, version=version, stage=stage, summary=summary, requested_by=by)
        for key, version, stage, summary, by in rows
    ]


@dataclass(frozen=True)
class FailingGate:
    """A release whose latest gate evaluation for a stage failed."""

    system: str
    version: int
    stage: str
    evaluated_at: Any
    failed: list[str]  # the failing rules' names


def failing_gates(ctx: Ctx, *, since: Any, systems: set[str] | None = None, limit: int = 500) -> list[FailingGate]:
    """The latest gate evaluation per (release, stage) since `since`, kept when it failed (newest first)."""
    ctx.require("releases:read")
    stmt = (
        select(GateEvaluation, AISystem.key, Release.version)
        .join(Release, Release.id == GateEvaluation.release_id)
        .join(AISystem, AISystem.id == GateEvaluation.system_id)
        .where(GateEvaluation.evaluated_at >= since)
        .order_by(GateEvaluation.evaluated_at.desc(), GateEvaluation.id.desc())
        .limit(limit)
    )
    if systems is not None:
        stmt = stmt.where(AISystem.key.in_(systems))
    seen: set[tuple[int, str]] = set()
    out: list[FailingGate] = []
    for ev, key, version in ctx.session.execute(stmt):
        if (ev.release_id, ev.stage) in seen:
            continue
        seen.add((ev.release_id, ev.stage))
        if not ev.passed:
            failed = [str(r.get("name") or r.get("rule") or "") for r in (ev.results or []) if not r.get("passed")]
            out.append(FailingGate(key, version, ev.stage, ev.evaluated_at, failed))
    return out


@dataclass(frozen=True)
class WaitingRelease:
    """A release waiting at a stage: pending approval, or approved and not yet deployed."""

    system: str
    system_name: str
    version: int
    stage: str
    status: str
    summary: str
    requested_by: str
    submitted_at: Any


def waiting_at_stages(ctx: Ctx, *, limit: int = 200) -> list[WaitingRelease]:
    """Every release waiting at a stage across the inventory, oldest submission first, in one query."""
    ctx.require("releases:read")
    rows = ctx.session.execute(
        select(
            AISystem.key,
            AISystem.name,
            Release.version,
            ReleaseStage.stage,
            ReleaseStage.status,
            Release.change_summary,
            Release.requested_by,
            Release.submitted_at,
        )
        .join(Release, Release.id == ReleaseStage.release_id)
        .join(AISystem, AISystem.id == ReleaseStage.system_id)
        .where(ReleaseStage.status.in_(("pending_approval", "approved")))
        .order_by(Release.submitted_at, ReleaseStage.id)
        .limit(limit)
    )
    return [WaitingRelease(*row) for row in rows]
