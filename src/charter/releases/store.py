"""Looking up releases and their stage rows, and checking a release's stored content: what the release
use cases, the gate and the reads share."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from charter.inventory.models import AISystem
from charter.inventory.queries import get_system
from charter.kit.errors import Conflict, NotFound, ValidationFailed
from charter.releases.facts import allowed_stages
from charter.releases.models import Release, ReleaseArtifact, ReleaseStage
from charter.releases.rules import content_hash


def release_ref(system: AISystem, release: Release) -> str:
    return f"{system.key}@{release.version}"


def get_release(session: Session, system_key: str, version: int) -> tuple[AISystem, Release]:
    system = get_system(session, system_key)
    release = session.execute(
        select(Release).where(Release.system_id == system.id, Release.version == version)
    ).scalar_one_or_none()
    if release is None:
        latest = session.execute(select(func.max(Release.version)).where(Release.system_id == system.id)).scalar()
        hint = f"its releases are 1..{latest}" if latest else "it has no releases yet"
        raise NotFound(f"system '{system_key}' has no release {version}; {hint}", entity="release")
    return system, release


def artifacts_of(session: Session, release_id: int) -> list[ReleaseArtifact]:
    stmt = select(ReleaseArtifact).where(ReleaseArtifact.release_id == release_id)
    return list(session.execute(stmt.order_by(ReleaseArtifact.kind, ReleaseArtifact.name)).scalars())


def artifact_dicts(rows: list[ReleaseArtifact]) -> list[dict[str, str]]:
    return [{"kind": a.kind, "name": a.name, "uri": a.uri, "sha256": a.sha256} for a in rows]


def change_of(release: Release) -> dict[str, Any]:
    return {
        "summary": release.change_summary,
        "type": release.change_type,
        "expected_impact": release.expected_impact,
        "risk_keys": list(release.risk_keys or []),
    }


def verify_content(session: Session, release: Release) -> None:
    """Refuse to act on a release whose stored content no longer matches its hash (edited behind our back)."""
    actual = content_hash(artifact_dicts(artifacts_of(session, release.id)), change_of(release))
    if actual != release.content_hash:
        raise Conflict(
            f"release {release.version}'s artifacts or change record no longer match its content hash: the stored "
            "release was altered outside Charter; do not deploy it, submit a new release",
            rule="content-hash",
        )


def require_stage_allowed(session: Session, system: AISystem, stage: str) -> list[str]:
    stages = allowed_stages(session, system.id)
    if stage not in stages:
        raise ValidationFailed(
            f"system '{system.key}' does not use the stage '{stage}'; its release stages are: {', '.join(stages)}",
            errors=[{"loc": ["stage"], "msg": f"allowed: {', '.join(stages)}"}],
        )
    return stages


def stage_row(session: Session, release_id: int, stage: str, *, fresh: bool = False) -> ReleaseStage | None:
    """The status row of a release at a stage; fresh=True re-reads it (after taking the pointer lock)."""
    stmt = select(ReleaseStage).where(ReleaseStage.release_id == release_id, ReleaseStage.stage == stage)
    if fresh:
        stmt = stmt.execution_options(populate_existing=True)
    return session.execute(stmt).scalar_one_or_none()
