"""The release side of the gate facts: the release, its target stage, approvals and stage history."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from charter.releases.models import Deployment, DeploymentPointer, ReleaseApproval, ReleaseArtifact, ReleaseStage
from charter.releases.rules import STAGES, previous_stage

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from charter.inventory.models import AISystem
    from charter.releases.models import Release

DAY = 86_400


def allowed_stages(session: Session, system_id: int) -> list[str]:
    from charter.releases.models import ReleaseStageConfig

    config = session.get(ReleaseStageConfig, system_id)
    return list(config.stages) if config is not None else list(STAGES)


def seconds_deployed(moves: list[Deployment], release_id: int, now: datetime) -> float:
    """Total time the release held the pointer in a (system, stage) history sorted by time."""
    total = 0.0
    for i, move in enumerate(moves):
        if move.to_release_id != release_id:
            continue
        end = moves[i + 1].at if i + 1 < len(moves) else now
        total += max(0.0, (end - move.at).total_seconds())
    return total


def approval_facts(decisions: list[ReleaseApproval], release: Release) -> dict[str, Any]:
    """Count only decisions bound to this release's exact content hash; others are ignored as stale."""
    valid = [d for d in decisions if d.content_hash == release.content_hash]
    approvals = [d for d in valid if d.decision == "approve"]
    rejections = [d for d in valid if d.decision == "reject"]
    approvers = sorted({d.username for d in approvals})
    return {
        "count": len(approvals),
        "distinct_approvers": len({d.user_id if d.user_id is not None else d.username for d in approvals}),
        "approvers": approvers,
        "roles": sorted({d.role for d in approvals}),
        "governance_count": sum(1 for d in approvals if d.role == "governance"),
        "rejections": len(rejections),
        "rejected_by": sorted({d.username for d in rejections}),
        "by_requester": sum(
            1
            for d in approvals
            if (release.requested_by_id is not None and d.user_id == release.requested_by_id)
            or d.username == release.requested_by
        ),
        "ignored_stale": len(decisions) - len(valid),
        "items": [
            {
                "user": d.username,
                "role": d.role,
                "decision": d.decision,
                "comment": d.comment,
                "decided_at": d.decided_at.isoformat(),
                "hash_valid": d.content_hash == release.content_hash,
            }
            for d in sorted(decisions, key=lambda d: d.id)
        ],
    }


def release_facts(session: Session, system: AISystem, release: Release, stage: str, now: datetime) -> dict[str, Any]:
    stages = allowed_stages(session, system.id)
    prev = previous_stage(stages, stage)
    kinds = sorted(
        set(session.execute(select(ReleaseArtifact.kind).where(ReleaseArtifact.release_id == release.id)).scalars())
    )
    count = len(
        list(session.execute(select(ReleaseArtifact.id).where(ReleaseArtifact.release_id == release.id)).scalars())
    )
    statuses: dict[str, str] = {
        row.stage: row.status
        for row in session.execute(
            select(ReleaseStage.stage, ReleaseStage.status).where(ReleaseStage.release_id == release.id)
        )
    }
    decisions = list(
        session.execute(
            select(ReleaseApproval).where(ReleaseApproval.release_id == release.id, ReleaseApproval.stage == stage)
        ).scalars()
    )
    moves = list(
        session.execute(
            select(Deployment).where(Deployment.system_id == system.id).order_by(Deployment.at, Deployment.id)
        ).scalars()
    )
    days: dict[str, int] = {}
    ever: list[str] = []
    for s in STAGES:
        seconds = seconds_deployed([m for m in moves if m.stage == s], release.id, now)
        days[s] = int(seconds // DAY)
        if any(m.stage == s and m.to_release_id == release.id for m in moves):
            ever.append(s)
    current = sorted(
        session.execute(
            select(DeploymentPointer.stage).where(
                DeploymentPointer.system_id == system.id, DeploymentPointer.release_id == release.id
            )
        ).scalars()
    )
    prev_status = statuses.get(prev, "none") if prev else ""
    return {
        "allowed_stages": stages,
        "release": {
            "version": release.version,
            "content_hash": release.content_hash,
            "change_type": release.change_type,
            "summary": release.change_summary,
            "expected_impact": release.expected_impact,
            "risk_keys": list(release.risk_keys or []),
            "artifact_kinds": kinds,
            "artifact_count": count,
            "requested_by": release.requested_by,
            "submitted_at": release.submitted_at,
            "age_days": int((now - release.submitted_at).total_seconds() // DAY),
        },
        "target": {
            "stage": stage,
            "previous_stage": prev,
            "status": statuses.get(stage, "none"),
            "allowed": stage in stages,
        },
        "approvals": approval_facts(decisions, release),
        "history": {
            "days_in_sandbox": days["sandbox"],
            "days_in_pilot": days["pilot"],
            "days_in_production": days["production"],
            "days_in_previous_stage": days.get(prev, 0) if prev else 0,
            "previous_stage_status": prev_status,
            "deployed_in_previous_stage": prev_status in ("deployed", "superseded"),
            "ever_deployed": ever,
            "currently_deployed_in": current,
        },
    }
