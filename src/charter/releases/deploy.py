"""Deployment pointer moves: promote (behind the gate), rollback, withdraw.

Exactly one release is deployed per (system, stage) at any time:
- every move first takes the (system, stage) row of `deployment_pointers` under lock (PostgreSQL:
  SELECT ... FOR UPDATE after an INSERT ... ON CONFLICT DO NOTHING; SQLite: BEGIN IMMEDIATE already
  serialises writers), so concurrent promotions queue and the later one supersedes the earlier;
- a partial unique index on release_stages (system_id, stage) WHERE status = 'deployed' refuses a
  second deployed row even if code went wrong;
- every move appends a `deployments` row (who, when, from, to, why, kind) and a ledger entry.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from charter.context import Ctx
from charter.inventory.models import AISystem
from charter.inventory.queries import get_system
from charter.kit.errors import CharterError, Conflict
from charter.ledger.chain import snapshot
from charter.procedures.service import start_run
from charter.releases import hooks
from charter.releases.gate import run_gate
from charter.releases.models import Deployment, DeploymentPointer, GateEvaluation, Release, ReleaseStage
from charter.releases.rules import PROMOTABLE_STATUSES, ROLLBACK_TARGET_STATUSES
from charter.releases.schemas import PromoteIn, RollbackIn, WithdrawIn
from charter.releases.service import new_stage_row, set_status
from charter.releases.store import get_release, require_stage_allowed, stage_row, verify_content

LIFECYCLE_ORDER = {"proposed": 0, "sandbox": 1, "pilot": 2, "production": 3}


class GateRefused(Conflict):
    """Promotion refused: the gate failed at the moment of promotion. Lists the failing rules."""

    type_slug = "gate-refused"
    title = "Gate refused"

    def __init__(self, evaluation: GateEvaluation, version: int) -> None:
        failed = [r for r in evaluation.results if not r["passed"]]
        lines = "; ".join(f"{r['rule']}: {r['reason']}" for r in failed)
        super().__init__(
            f"the gate to {evaluation.stage} refused release {version}: {len(failed)} rule"
            f"{'s' if len(failed) != 1 else ''} failed — {lines}",
            gate_evaluation_id=evaluation.id,
            failed_rules=[{"policy": r["policy"], "rule": r["rule"], "reason": r["reason"]} for r in failed],
        )
        self.evaluation = evaluation


def lock_pointer(session: Session, system_id: int, stage: str, now: datetime) -> DeploymentPointer:
    """Create the (system, stage) pointer if missing and return it locked for this transaction."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            pg_insert(DeploymentPointer)
            .values(system_id=system_id, stage=stage, release_id=None, moves=0, updated_at=now)
            .on_conflict_do_nothing(index_elements=["system_id", "stage"])
        )
        stmt = select(DeploymentPointer).with_for_update()
    else:
        session.execute(
            sqlite_insert(DeploymentPointer)
            .values(system_id=system_id, stage=stage, release_id=None, moves=0, updated_at=now)
            .on_conflict_do_nothing(index_elements=["system_id", "stage"])
        )
        stmt = select(DeploymentPointer)
    stmt = stmt.where(DeploymentPointer.system_id == system_id, DeploymentPointer.stage == stage)
    return session.execute(stmt.execution_options(populate_existing=True)).scalar_one()


def _advance_lifecycle(ctx: Ctx, system: AISystem, stage: str, version: int) -> None:
    """Deploying to a stage beyond the system's lifecycle stage moves the system there (one ledger entry)."""
    ctx.session.refresh(system)  # a concurrent promotion may have moved it while we waited for the pointer lock
    if LIFECYCLE_ORDER.get(system.stage, 99) >= LIFECYCLE_ORDER[stage]:
        return
    before = snapshot(system, exclude=frozenset({"id"}))
    now = ctx.now()
    system.stage = stage
    system.stage_changed_at = now
    system.updated_at = now
    system.version += 1
    ctx.session.flush()
    ctx.record(
        f"system.stage.{stage}",
        "system",
        system.key,
        before=before,
        after=snapshot(system, exclude=frozenset({"id"})),
        reason=f"release {version} deployed to {stage}",
    )


def _move(
    ctx: Ctx,
    system: AISystem,
    pointer: DeploymentPointer,
    target: Release | None,
    kind: str,
    old_status: str,
    reason: str | None,
    **extra: Any,
) -> Deployment:
    """Move the locked pointer to `target` (None: empty the stage); statuses, history and ledger follow."""
    now = ctx.now()
    old = ctx.session.get(Release, pointer.release_id) if pointer.release_id is not None else None
    if old is not None:
        old_row = stage_row(ctx.session, old.id, pointer.stage, fresh=True)
        if old_row is not None and old_row.status == "deployed":
            set_status(ctx, system, old, old_row, old_status, reason)  # flushed before the new row is deployed
    if target is not None:
        row = stage_row(ctx.session, target.id, pointer.stage, fresh=True) or new_stage_row(
            ctx, system, target, pointer.stage, reason
        )
        set_status(ctx, system, target, row, "deployed", reason)
    pointer.release_id = target.id if target is not None else None
    pointer.moves += 1
    pointer.updated_at = now
    move = Deployment(
        system_id=system.id,
        stage=pointer.stage,
        from_release_id=old.id if old is not None else None,
        to_release_id=target.id if target is not None else None,
        kind=kind,
        actor=ctx.principal.actor,
        user_id=ctx.principal.user_id,
        at=now,
        reason=reason,
        **extra,
    )
    ctx.session.add(move)
    ctx.session.flush()
    ctx.record(
        f"deployment.{kind}",
        "deployment",
        f"{system.key}/{pointer.stage}",
        before={"stage": pointer.stage, "version": old.version if old else None},
        after={
            "stage": pointer.stage,
            "version": target.version if target else None,
            "deployment_id": move.id,
            **{k: v for k, v in extra.items() if v is not None},
        },
        reason=reason,
    )
    hooks.deployment_moved(
        ctx,
        hooks.DeploymentMoved(
            system_id=system.id,
            system_key=system.key,
            stage=pointer.stage,
            kind=kind,
            from_release_id=old.id if old is not None else None,
            from_version=old.version if old is not None else None,
            to_release_id=target.id if target is not None else None,
            to_version=target.version if target is not None else None,
            deployment_id=move.id,
            gate_evaluation_id=extra.get("gate_evaluation_id"),
            reason=reason,
        ),
    )
    if target is not None:
        _advance_lifecycle(ctx, system, pointer.stage, target.version)
    return move


def promote(ctx: Ctx, system_key: str, version: int, data: PromoteIn) -> tuple[Deployment, GateEvaluation]:
    """Deploy a release to a stage if the gate passes *now*; otherwise GateRefused (409) with the failing
    rules. The evaluation is stored either way (the API commits it before answering 409)."""
    ctx.require("releases:deploy")
    system, release = get_release(ctx.session, system_key, version)
    require_stage_allowed(ctx.session, system, data.stage)
    if system.stage == "retired":
        raise Conflict(f"system '{system_key}' is retired; nothing is deployed any more")
    row = stage_row(ctx.session, release.id, data.stage)
    if row is not None and row.status == "deployed":
        raise Conflict(f"release {version} is already deployed at {data.stage}")
    if row is not None and row.status not in PROMOTABLE_STATUSES:
        hint = "; redeploy it with 'charter release rollback --to'" if row.status in ROLLBACK_TARGET_STATUSES else ""
        raise Conflict(
            f"release {version} is '{row.status}' at {data.stage}; only a release that is "
            f"{' or '.join(sorted(PROMOTABLE_STATUSES))} there can be promoted{hint}",
            status_at_stage=row.status,
        )
    verify_content(ctx.session, release)
    pointer = lock_pointer(ctx.session, system.id, data.stage, ctx.now())
    evaluation = run_gate(ctx, system, release, data.stage, "promotion")
    if not evaluation.passed:
        raise GateRefused(evaluation, version)
    if pointer.release_id == release.id:  # promoted concurrently while we waited for the lock
        raise Conflict(f"release {version} is already deployed at {data.stage}")
    move = _move(ctx, system, pointer, release, "promote", "superseded", data.reason, gate_evaluation_id=evaluation.id)
    return move, evaluation


def _last_deployed_before(ctx: Ctx, system: AISystem, stage: str, current_id: int) -> Release | None:
    moves = ctx.session.execute(
        select(Deployment.to_release_id)
        .where(Deployment.system_id == system.id, Deployment.stage == stage, Deployment.to_release_id.is_not(None))
        .order_by(Deployment.at.desc(), Deployment.id.desc())
    ).scalars()
    for release_id in moves:
        if release_id is None or release_id == current_id:
            continue
        row = stage_row(ctx.session, release_id, stage)
        if row is not None and row.status == "superseded":
            return ctx.session.get(Release, release_id)
    return None


def _runbook(ctx: Ctx, system: AISystem, target: Release, data: RollbackIn) -> dict[str, Any]:
    """Start the 'rollback' runbook (procedures module). A rollback never waits on it: a failure to start
    is recorded, not raised."""
    try:
        with ctx.session.begin_nested():
            run = start_run(ctx, "rollback", "release", target.id)
    except CharterError as exc:
        return {"started": False, "error": exc.detail}
    run_id = getattr(run, "id", None)
    return {
        "started": True,
        "template": "rollback",
        "run_id": run_id,
        "subject": f"release {system.key}@{target.version}",
    }


def rollback(ctx: Ctx, system_key: str, data: RollbackIn) -> Deployment:
    """Redeploy the release deployed before the current one (or the named one, which must have been
    deployed or approved at that stage). No gate and no approvals: the target passed them before."""
    ctx.require("releases:deploy")
    system = get_system(ctx.session, system_key)
    require_stage_allowed(ctx.session, system, data.stage)
    pointer = lock_pointer(ctx.session, system.id, data.stage, ctx.now())
    if pointer.release_id is None:
        raise Conflict(f"nothing is deployed at {data.stage} for '{system_key}'; there is nothing to roll back")
    if data.to_version is not None:
        _s, target = get_release(ctx.session, system_key, data.to_version)
        if target.id == pointer.release_id:
            raise Conflict(f"release {data.to_version} is the one deployed at {data.stage}; roll back to another")
        row = stage_row(ctx.session, target.id, data.stage)
        if row is None or row.status not in ROLLBACK_TARGET_STATUSES:
            candidates = _candidates(ctx.session, system, data.stage)
            raise Conflict(
                f"release {data.to_version} is '{row.status if row else 'not requested'}' at {data.stage}; a rollback "
                f"target must have been deployed or approved there before. Candidates: {candidates or 'none'}"
            )
    else:
        found = _last_deployed_before(ctx, system, data.stage, pointer.release_id)
        if found is None:
            raise Conflict(
                f"no earlier release was deployed at {data.stage} for '{system_key}'; name one with --to "
                f"(candidates: {_candidates(ctx.session, system, data.stage) or 'none'})"
            )
        target = found
    verify_content(ctx.session, target)
    kind = "emergency" if data.emergency else "rollback"
    runbook = _runbook(ctx, system, target, data)
    return _move(
        ctx, system, pointer, target, kind, "rolled_back", data.reason, incident_key=data.incident, runbook=runbook
    )


def _candidates(session: Session, system: AISystem, stage: str) -> str:
    rows = session.execute(
        select(Release.version)
        .join(ReleaseStage, ReleaseStage.release_id == Release.id)
        .where(
            ReleaseStage.system_id == system.id,
            ReleaseStage.stage == stage,
            ReleaseStage.status.in_(ROLLBACK_TARGET_STATUSES),
        )
        .order_by(Release.version)
    ).scalars()
    return ", ".join(str(v) for v in rows)


def withdraw_deployed(ctx: Ctx, system: AISystem, release: Release, row: ReleaseStage, reason: str) -> Deployment:
    ctx.require("releases:deploy")
    pointer = lock_pointer(ctx.session, system.id, row.stage, ctx.now())
    if pointer.release_id != release.id:
        raise Conflict(f"release {release.version} is no longer deployed at {row.stage}")
    return _move(ctx, system, pointer, None, "withdraw", "withdrawn", reason)


def withdraw(ctx: Ctx, system_key: str, version: int, data: WithdrawIn) -> ReleaseStage:
    """Take a release back from a stage. A deployed release leaves the stage empty (releases:deploy)."""
    ctx.require("releases:request")
    system, release = get_release(ctx.session, system_key, version)
    row = stage_row(ctx.session, release.id, data.stage)
    if row is None:
        raise Conflict(f"release {version} was never requested for {data.stage}; there is nothing to withdraw")
    if row.status == "deployed":
        withdraw_deployed(ctx, system, release, row, data.reason)
        return row
    set_status(ctx, system, release, row, "withdrawn", data.reason)
    return row
