"""Continuous validation: schedules that re-run a pinned dataset version against the release deployed at a stage.

A schedule pins `dataset@version` when it is added, and gets a monitoring alert rule of its own
(`eval-regression-<name>`: metric `eval_regression` with label schedule=<name>, critical). Each due round:
queue the run (short transaction) -> run it (execute.py: claim, call, record) -> judge it (short transaction):
its pass rate against the baseline (rules.regression: a drop beyond `max_drop`, or a Wilson interval wholly
below the baseline) is pushed as monitoring metrics — `eval_regression` 1/0 and `accuracy` — so the alert fires
through monitoring's own rules. The first run sets the baseline when none was given.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from charter.evaluation import rules
from charter.evaluation.models import EvalDataset, EvalDatasetVersion, EvalRun, EvalSchedule, EvalTarget
from charter.evaluation.queries import get_target, get_version
from charter.evaluation.runs import create_run, scorer_configs
from charter.evaluation.schemas import RunCreate, ScheduleCreate, ScheduleRead
from charter.inventory.models import AISystem
from charter.inventory.queries import get_system
from charter.kit.errors import Conflict, ValidationFailed
from charter.monitoring.alerts.rules import parse_duration
from charter.monitoring.alerts.service import create_rule
from charter.monitoring.metrics.service import ingest
from charter.monitoring.schemas import RuleCreate
from charter.releases.models import DeploymentPointer, Release

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from charter.context import Ctx


def schedule_read(session: Session, s: EvalSchedule) -> ScheduleRead:
    version = session.get(EvalDatasetVersion, s.dataset_version_id)
    assert version is not None
    dataset = session.get(EvalDataset, version.dataset_id)
    target = session.get(EvalTarget, s.target_id)
    system = session.get(AISystem, s.system_id)
    assert dataset is not None and target is not None and system is not None
    return ScheduleRead(
        name=s.name,
        system=system.key,
        dataset=dataset.name,
        dataset_version=version.version,
        target=target.name,
        stage=s.stage,
        scorer=s.scorer,
        interval_seconds=s.interval_seconds,
        max_drop=s.max_drop,
        baseline=s.baseline,
        enabled=s.enabled,
        next_run_at=s.next_run_at,
        last_run_id=s.last_run_id,
        version=s.version,
    )


def add_schedule(ctx: Ctx, data: ScheduleCreate) -> EvalSchedule:
    ctx.require("evals:write")
    system = get_system(ctx.session, data.system)
    if problem := rules.check_name(data.name, "schedule"):
        raise ValidationFailed(problem)
    _dataset, version = get_version(ctx.session, system.id, data.dataset)
    target = get_target(ctx.session, data.target)
    scorer = scorer_configs([data.scorer])[0]
    try:
        interval = parse_duration(data.every)
    except ValueError as exc:
        raise ValidationFailed(f"every: {exc}") from None
    if interval < 60:
        raise ValidationFailed(f"every: at least 60 seconds between runs, got {interval}")
    exists = ctx.session.execute(
        select(EvalSchedule.id).where(EvalSchedule.system_id == system.id, EvalSchedule.name == data.name)
    ).scalar_one_or_none()
    if exists:
        raise Conflict(f"{system.key} has a schedule named '{data.name}' already")
    schedule = EvalSchedule(
        system_id=system.id,
        name=data.name,
        dataset_version_id=version.id,
        target_id=target.id,
        stage=data.stage,
        scorer=scorer,
        interval_seconds=interval,
        max_drop=data.max_drop,
        baseline=data.baseline,
        enabled=True,
        next_run_at=ctx.now(),
        last_run_id=None,
        created_at=ctx.now(),
        created_by=ctx.principal.actor,
    )
    ctx.session.add(schedule)
    ctx.session.flush()
    ctx.record(
        "eval_schedule.add",
        "eval_schedule",
        f"{system.key}/{data.name}",
        after=schedule_read(ctx.session, schedule).model_dump(mode="json"),
    )
    create_rule(
        ctx,
        system.key,
        RuleCreate.model_validate(
            {
                "key": f"eval-regression-{data.name}"[:60],
                "kind": "threshold",
                "severity": "critical",
                "description": f"continuous validation '{data.name}': the pass rate dropped against its baseline",
                "metric": "eval_regression",
                "aggregation": "last",
                "window": "7d",
                "comparison": ">",
                "threshold": 0.5,
                "for": 0,
                "labels": {"schedule": data.name},
            }
        ),
    )
    return schedule


def list_schedules(ctx: Ctx, system_key: str) -> list[ScheduleRead]:
    ctx.require("evals:read")
    system = get_system(ctx.session, system_key)
    rows = ctx.session.execute(
        select(EvalSchedule).where(EvalSchedule.system_id == system.id).order_by(EvalSchedule.name)
    ).scalars()
    return [schedule_read(ctx.session, s) for s in rows]


def queue_due(ctx: Ctx) -> list[int]:
    """Queue a run for every enabled schedule that is due (against the release deployed at its stage) and move
    its next time on. Returns the queued run ids; nothing is called here."""
    now = ctx.now()
    due = (
        ctx.session.execute(
            select(EvalSchedule)
            .where(EvalSchedule.enabled.is_(True), EvalSchedule.next_run_at <= now)
            .order_by(EvalSchedule.id)
        )
        .scalars()
        .all()
    )
    queued = []
    for s in due:
        system = ctx.session.get(AISystem, s.system_id)
        version = ctx.session.get(EvalDatasetVersion, s.dataset_version_id)
        target = ctx.session.get(EvalTarget, s.target_id)
        assert system is not None and version is not None and target is not None
        dataset = ctx.session.get(EvalDataset, version.dataset_id)
        assert dataset is not None
        pointer = ctx.session.get(DeploymentPointer, (s.system_id, s.stage))
        run = create_run(
            ctx,
            RunCreate(
                system=system.key, dataset=f"{dataset.name}@{version.version}", target=target.name, scorers=[s.scorer]
            ),
            schedule_id=s.id,
            release=pointer.release_id if pointer else None,
        )
        s.last_run_id = run.id
        while s.next_run_at <= now:
            s.next_run_at = s.next_run_at + timedelta(seconds=s.interval_seconds)
        s.version += 1
        queued.append(run.id)
    ctx.session.flush()
    return queued


def judge_run(ctx: Ctx, run_id: int) -> dict[str, Any] | None:
    """After a scheduled run: compare with the baseline, push the metrics the alert rule reads."""
    run = ctx.session.get(EvalRun, run_id)
    if run is None or run.schedule_id is None or run.status != "completed":
        return None
    schedule = ctx.session.get(EvalSchedule, run.schedule_id)
    system = ctx.session.get(AISystem, run.system_id)
    assert schedule is not None and system is not None
    name = rules.scorer_names([schedule.scorer])[0]
    summary = (run.summary or {})[name]
    passes, n = int(summary["passed"]), int(run.planned)
    rate = passes / n if n else 0.0
    if schedule.baseline is None:
        schedule.baseline = rate
        schedule.version += 1
        ctx.record(
            "eval_schedule.baseline",
            "eval_schedule",
            f"{system.key}/{schedule.name}",
            after={"baseline": rate, "run": run.id},
        )
    verdict = rules.regression(schedule.baseline, passes, n, schedule.max_drop)
    release = ctx.session.get(Release, run.release_id) if run.release_id else None
    labels = {"schedule": schedule.name}
    ts = ctx.now().isoformat()
    ingest(
        ctx,
        system.key,
        {
            "batch_id": f"eval-run-{run.id}",
            "points": [
                {"name": "eval_regression", "value": 1.0 if verdict.dropped else 0.0, "ts": ts, "labels": labels},
                {"name": "accuracy", "value": rate, "ts": ts, "labels": {**labels, "source": "evaluation"}},
            ],
        },
    )
    ctx.record(
        "eval_schedule.judged",
        "eval_schedule",
        f"{system.key}/{schedule.name}",
        after={
            "run": run.id,
            "release": release.version if release else None,
            "pass_rate": rate,
            "baseline": schedule.baseline,
            "dropped": verdict.dropped,
            "reason": verdict.reason,
        },
    )
    return {
        "run": run.id,
        "pass_rate": rate,
        "baseline": schedule.baseline,
        "dropped": verdict.dropped,
        "reason": verdict.reason,
    }
