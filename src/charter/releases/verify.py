"""Deployment verification against shadow launches: is this artifact the deployed release's?"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from sqlalchemy import select

from charter.inventory.queries import get_system
from charter.inventory.rules import DEPLOYMENT_STAGES
from charter.kit.errors import ValidationFailed
from charter.releases.history import versions_of
from charter.releases.models import DeploymentPointer, DeploymentVerification, Release, ReleaseArtifact
from charter.releases.rules import verification_result
from charter.releases.schemas import VerificationRead

if TYPE_CHECKING:
    from charter.context import Ctx
    from charter.inventory.models import AISystem


_MESSAGES = {
    "match": "the artifact belongs to release {deployed} deployed at {stage}",
    "mismatch": "the artifact belongs to release(s) {versions}, not to the release deployed at {stage} "
    "({deployed}): possible shadow deployment",
    "unknown_artifact": "no release of this system has an artifact with this SHA-256: possible shadow deployment",
}


def verify(ctx: Ctx, system_key: str, stage: str, sha256: str) -> VerificationRead:
    """Does this artifact belong to the release deployed at `stage`? Recorded with the caller; a failure is
    flagged as a possible shadow deployment (and written to the ledger)."""
    ctx.require("deploy:verify")
    sha = sha256.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{64}", sha):
        raise ValidationFailed(
            "sha256 must be 64 hexadecimal characters", errors=[{"loc": ["sha256"], "msg": "not a SHA-256"}]
        )
    if stage not in DEPLOYMENT_STAGES:
        raise ValidationFailed(f"unknown stage '{stage}'; stages: {', '.join(DEPLOYMENT_STAGES)}")
    system = get_system(ctx.session, system_key)
    pointer = ctx.session.get(DeploymentPointer, (system.id, stage))
    deployed_id = pointer.release_id if pointer is not None else None
    owners = [
        (row.release_id, row.version)
        for row in ctx.session.execute(
            select(ReleaseArtifact.release_id, Release.version)
            .join(Release, Release.id == ReleaseArtifact.release_id)
            .where(ReleaseArtifact.system_id == system.id, ReleaseArtifact.sha256 == sha)
        )
    ]
    known = {sha: sorted({v for _rid, v in owners})} if owners else {}
    deployed_set = {sha} if deployed_id is not None and any(rid == deployed_id for rid, _v in owners) else set()
    result = verification_result(sha, deployed_set if deployed_id is not None else None, known)
    deployed_version = versions_of(ctx.session, {deployed_id}).get(deployed_id) if deployed_id else None
    row = DeploymentVerification(
        system_id=system.id,
        stage=stage,
        sha256=sha,
        result=result,
        deployed_release_id=deployed_id,
        artifact_versions=known.get(sha, []),
        caller=ctx.principal.actor,
        at=ctx.now(),
        flagged=result != "match",
    )
    ctx.session.add(row)
    ctx.session.flush()
    if row.flagged:
        ctx.record(
            "deployment.shadow_suspected",
            "system",
            system.key,
            after={
                "stage": stage,
                "sha256": sha,
                "result": result,
                "verification_id": row.id,
                "deployed_version": deployed_version,
            },
        )
    return _verification_read(system, row, deployed_version)


def _verification_read(system: AISystem, row: DeploymentVerification, deployed_version: int | None) -> VerificationRead:
    versions = list(row.artifact_versions or [])
    message = _MESSAGES[row.result].format(
        deployed=deployed_version if deployed_version is not None else "none",
        stage=row.stage,
        versions=", ".join(map(str, versions)) or "none",
    )
    return VerificationRead(
        id=row.id,
        system=system.key,
        stage=row.stage,
        sha256=row.sha256,
        verified=row.result == "match",
        result=row.result,
        deployed_version=deployed_version,
        artifact_versions=versions,
        caller=row.caller,
        at=row.at,
        flagged=row.flagged,
        message=message,
    )


def verifications(ctx: Ctx, system_key: str, flagged: bool | None = None, limit: int = 100) -> list[VerificationRead]:
    """Recorded verifications of a system, newest first; flagged=True lists the possible shadow deployments."""
    ctx.require("releases:read")
    system = get_system(ctx.session, system_key)
    stmt = select(DeploymentVerification).where(DeploymentVerification.system_id == system.id)
    if flagged is not None:
        stmt = stmt.where(DeploymentVerification.flagged.is_(flagged))
    rows = list(ctx.session.execute(stmt.order_by(DeploymentVerification.id.desc()).limit(limit)).scalars())
    versions = versions_of(ctx.session, {r.deployed_release_id for r in rows})
    return [
        _verification_read(system, r, versions.get(r.deployed_release_id) if r.deployed_release_id else None)
        for r in rows
    ]
