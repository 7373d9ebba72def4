"""Release use cases: submit, read, diff, request a stage, approve / reject, withdraw, stage settings.

Promotion, rollback, history and verification are in charter.releases.deploy.
"""

from __future__ import annotations

from sqlalchemy import func, select

from charter.context import Ctx
from charter.inventory.models import AISystem
from charter.inventory.queries import get_system
from charter.kit.errors import Conflict, PermissionDenied, StaleVersion
from charter.kit.principal import require_distinct
from charter.ledger.chain import snapshot
from charter.releases import hooks, notices
from charter.releases.gate import approval_rules_pass
from charter.releases.models import Release, ReleaseApproval, ReleaseArtifact, ReleaseStage, ReleaseStageConfig
from charter.releases.queries import read_stages
from charter.releases.rules import (
    DECIDABLE_STATUSES,
    check_transition,
    content_hash,
    ordered_stages,
)
from charter.releases.schemas import DecisionIn, ReleaseCreate, StageRequest, StagesIn, StagesRead
from charter.releases.store import get_release, release_ref, require_stage_allowed, stage_row, verify_content


def set_status(
    ctx: Ctx, system: AISystem, release: Release, row: ReleaseStage, status: str, reason: str | None
) -> None:
    """Move a (release, stage) status along TRANSITIONS, with its ledger entry."""
    check_transition(f"release {system.key}@{release.version} at {row.stage}", row.status, status)
    before = snapshot(row, exclude=frozenset({"id"}))
    row.status = status
    row.updated_at = ctx.now()
    row.reason = reason
    row.version += 1
    ctx.session.flush()
    ctx.record(
        f"release.stage.{status}",
        "release",
        release_ref(system, release),
        before=before,
        after=snapshot(row, exclude=frozenset({"id"})),
        reason=reason,
    )


def new_stage_row(ctx: Ctx, system: AISystem, release: Release, stage: str, reason: str | None) -> ReleaseStage:
    now = ctx.now()
    row = ReleaseStage(
        release_id=release.id,
        system_id=system.id,
        stage=stage,
        status="pending_approval",
        requested_by=ctx.principal.actor,
        requested_at=now,
        updated_at=now,
        reason=reason,
        version=1,
    )
    ctx.session.add(row)
    ctx.session.flush()
    ctx.record(
        "release.stage.requested",
        "release",
        release_ref(system, release),
        after=snapshot(row, exclude=frozenset({"id"})),
        reason=reason,
    )
    return row


# ----------------------------------------------------------------------------- submit and read


def submit_release(ctx: Ctx, system_key: str, data: ReleaseCreate) -> tuple[AISystem, Release]:
    """A new, immutable release numbered after the system's last one."""
    ctx.require("releases:request")
    stmt = select(AISystem).where(AISystem.key == system_key)
    if ctx.session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()  # numbering: concurrent submissions queue on the system row
    system = ctx.session.execute(stmt).scalar_one_or_none()
    if system is None:
        get_system(ctx.session, system_key)  # raises the standard 404
        raise AssertionError("unreachable")
    if system.stage == "retired":
        raise Conflict(f"system '{system_key}' is retired; it takes no new releases")
    last = ctx.session.execute(select(func.max(Release.version)).where(Release.system_id == system.id)).scalar()
    artifacts = [a.model_dump() for a in data.artifacts]
    hooks.artifacts_submitted(ctx, system.key, system.id, artifacts)  # e.g. a prompt version's hash checked
    change = data.change.model_dump()
    release = Release(
        system_id=system.id,
        version=(last or 0) + 1,
        content_hash=content_hash(artifacts, change),
        change_summary=change["summary"],
        change_type=change["type"],
        expected_impact=change["expected_impact"],
        risk_keys=change["risk_keys"],
        requested_by_id=ctx.principal.user_id,
        requested_by=ctx.principal.name,
        submitted_at=ctx.now(),
    )
    ctx.session.add(release)
    ctx.session.flush()
    for a in artifacts:
        ctx.session.add(ReleaseArtifact(release_id=release.id, system_id=system.id, **a))
    ctx.session.flush()
    ctx.record(
        "release.submitted",
        "release",
        release_ref(system, release),
        after={**snapshot(release, exclude=frozenset({"id"})), "artifacts": artifacts},
    )
    return system, release


# ----------------------------------------------------------------------------- stage requests and decisions


def request_stage(ctx: Ctx, system_key: str, version: int, data: StageRequest) -> ReleaseStage:
    ctx.require("releases:request")
    system, release = get_release(ctx.session, system_key, version)
    require_stage_allowed(ctx.session, system, data.stage)
    existing = stage_row(ctx.session, release.id, data.stage)
    if existing is not None:
        raise Conflict(
            f"release {version} was already requested for {data.stage}; its status there is '{existing.status}'",
            status_at_stage=existing.status,
        )
    row = new_stage_row(ctx, system, release, data.stage, data.reason)
    notices.approval_requested(ctx, system, release, data.stage, data.reason)
    return row


def decide(ctx: Ctx, system_key: str, version: int, data: DecisionIn) -> tuple[ReleaseApproval, ReleaseStage]:
    """Approve or reject a release for a stage. The requester never decides on their own release; the
    decision is bound to the release's content hash."""
    ctx.require("releases:approve")
    system, release = get_release(ctx.session, system_key, version)
    require_distinct(ctx.principal, release.requested_by_id, "approve or reject")
    if release.requested_by_id is None and release.requested_by == ctx.principal.name:
        raise PermissionDenied(
            "separation of duties: you cannot approve or reject your own work; another person must do it",
            rule="separation-of-duties",
        )
    row = stage_row(ctx.session, release.id, data.stage)
    if row is None:
        raise Conflict(
            f"release {version} has not been requested for {data.stage}; request it first "
            f"('charter release request {system_key} {version} --stage {data.stage}')"
        )
    if row.status not in DECIDABLE_STATUSES:
        raise Conflict(
            f"release {version} is '{row.status}' at {data.stage}; decisions are taken while it is "
            f"{' or '.join(sorted(DECIDABLE_STATUSES))}",
            status_at_stage=row.status,
        )
    already = ctx.session.execute(
        select(ReleaseApproval).where(
            ReleaseApproval.release_id == release.id,
            ReleaseApproval.stage == data.stage,
            ReleaseApproval.username == ctx.principal.name,
        )
    ).scalar_one_or_none()
    if already is not None:
        raise Conflict(f"you already decided '{already.decision}' on release {version} for {data.stage}")
    verify_content(ctx.session, release)
    decision = ReleaseApproval(
        release_id=release.id,
        stage=data.stage,
        user_id=ctx.principal.user_id,
        username=ctx.principal.name,
        role=ctx.principal.role,
        decision=data.decision,
        comment=data.comment,
        content_hash=release.content_hash,
        decided_at=ctx.now(),
    )
    ctx.session.add(decision)
    ctx.session.flush()
    ctx.record(
        f"release.{'approved' if data.decision == 'approve' else 'rejected'}",
        "release",
        release_ref(system, release),
        after=snapshot(decision, exclude=frozenset({"id"})),
        reason=data.comment or None,
    )
    if data.decision == "reject":
        set_status(ctx, system, release, row, "rejected", data.comment)
    elif row.status == "pending_approval" and approval_rules_pass(ctx, system, release, data.stage):
        set_status(ctx, system, release, row, "approved", "the stage's approval rules pass")
    notices.approval_decided(ctx, system, release, decision, row.status)
    return decision, row


# ----------------------------------------------------------------------------- stage settings


def set_stages(ctx: Ctx, system_key: str, data: StagesIn) -> StagesRead:
    """Choose the release stages a system goes through (policies:manage: it changes what gates apply)."""
    ctx.require("policies:manage")
    system = get_system(ctx.session, system_key)
    stages = ordered_stages(data.stages)
    config = ctx.session.get(ReleaseStageConfig, system.id)
    now = ctx.now()
    if config is None:
        config = ReleaseStageConfig(
            system_id=system.id, stages=stages, updated_at=now, updated_by=ctx.principal.actor, version=1
        )
        ctx.session.add(config)
        before = None
    else:
        if data.version != config.version:
            raise StaleVersion(f"release stages of '{system_key}'", data.version or 0, config.version)
        before = snapshot(config)
        config.stages = stages
        config.updated_at = now
        config.updated_by = ctx.principal.actor
        config.version += 1
    ctx.session.flush()
    ctx.record("release.stages.set", "system", system.key, before=before, after=snapshot(config), reason=data.reason)
    return read_stages(ctx, system_key)
