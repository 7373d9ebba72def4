"""Run use cases: create a run, claim it (start or resume), record one item, finish it.

No outside I/O happens here: execute.py calls these in short transactions of their own around the calls to the
target (claim -> call -> record). Items are the run's content: each is stored once (unique run, sample, epoch);
the ledger gets the run's creation, each start or resume, and its end with the summary and a SHA-256 over every
item recorded (docs/decisions.md, D41).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from charter.evaluation import rules
from charter.evaluation.datasets import DatasetVersion
from charter.evaluation.models import EvalDatasetVersion, EvalRun, EvalRunItem, EvalTarget
from charter.evaluation.queries import get_run, get_target, get_version, samples_of
from charter.evaluation.runner import ItemResult, RunSettings
from charter.evaluation.schemas import RunCreate
from charter.evaluation.scorer_config import LlmJudgeConfig, ScorerConfigError, parse_scorer_config
from charter.evaluation.scorers import Scorer, ScorerInputError, build_scorer
from charter.evaluation.targets import ChatTarget, HttpTarget, OfflineTarget, parse_target
from charter.inventory.queries import get_system
from charter.kit.errors import Conflict, IllegalTransition, NotFound, ValidationFailed
from charter.releases.models import Release

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from charter.context import Ctx


def scorer_configs(raw: list[dict[str, Any] | str]) -> list[dict[str, Any]]:
    """Validated scorer configurations (by alias, as stored); LLM judges are not run inside runs yet."""
    if not raw:
        raise ValidationFailed("scorers: give at least one scorer, e.g. 'exact'")
    out = []
    for i, config in enumerate(raw):
        try:
            parsed = parse_scorer_config(config)
        except ScorerConfigError as exc:
            raise ValidationFailed(f"scorers[{i}]: {exc}", errors=[{"loc": ["scorers", i], "msg": str(exc)}]) from None
        if isinstance(parsed, LlmJudgeConfig):
            raise ValidationFailed(
                f"scorers[{i}]: an llm_judge is calibrated and reported through 'charter eval calibrate'; "
                "inside runs use the deterministic scorers: exact, normalised, contains, regex, numeric, "
                "json_schema, similarity, refusal"
            )
        out.append(parsed.model_dump(mode="json", by_alias=True))
    return out


def release_id(session: Session, system_id: int, version: int | None) -> int | None:
    if version is None:
        return None
    found = session.execute(
        select(Release.id).where(Release.system_id == system_id, Release.version == version)
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(f"this system has no release {version}", entity="release")
    return found


def create_run(ctx: Ctx, data: RunCreate, *, schedule_id: int | None = None, release: int | None = None) -> EvalRun:
    """A queued run of `dataset[@version]` against a target. Nothing is called yet."""
    ctx.require("evals:write")
    system = get_system(ctx.session, data.system)
    _dataset, version = get_version(ctx.session, system.id, data.dataset)
    target = get_target(ctx.session, data.target)
    configs = scorer_configs(data.scorers)
    settings = {
        "concurrency": data.concurrency,
        "timeout_s": data.timeout_s,
        "max_attempts": data.max_attempts,
        "epochs": data.epochs,
    }
    run = EvalRun(
        system_id=system.id,
        dataset_version_id=version.id,
        target_id=target.id,
        release_id=release if release is not None else release_id(ctx.session, system.id, data.release),
        schedule_id=schedule_id,
        scorers=configs,
        settings=settings,
        pass_threshold=data.pass_threshold,
        status="queued",
        planned=version.sample_count * data.epochs,
        completed=0,
        errored=0,
        created_at=ctx.now(),
        created_by=ctx.principal.actor,
    )
    ctx.session.add(run)
    ctx.session.flush()
    ctx.record(
        "eval_run.create",
        "eval_run",
        run.id,
        after={
            "system": system.key,
            "dataset_hash": version.content_hash,
            "target": target.name,
            "scorers": configs,
            "settings": settings,
            "pass_threshold": data.pass_threshold,
        },
    )
    return run


@dataclass(frozen=True)
class Plan:
    """What execute.py needs to call the target, read in the claim transaction."""

    run_id: int
    target: ChatTarget | HttpTarget | OfflineTarget
    samples: DatasetVersion
    done: set[tuple[str, int]]
    settings: RunSettings
    scorers: dict[str, Scorer]


def _move(run: EvalRun, target: str) -> None:
    allowed = rules.RUN_TRANSITIONS[run.status]
    if target not in allowed:
        raise IllegalTransition(f"evaluation run {run.id}", run.status, target, allowed)


def claim(ctx: Ctx, run_id: int) -> Plan:
    """Start a queued run, or resume one that failed or whose runner stopped being heard from (its lease ran out).
    A run another runner is working on is a 409."""
    ctx.require("evals:write")
    run = get_run(ctx.session, run_id)
    now = ctx.now()
    if run.status == "running" and run.lease_until is not None and run.lease_until > now:
        raise Conflict(
            f"evaluation run {run.id} is being run now (lease until {run.lease_until.isoformat()}); "
            "it can be resumed once the lease runs out"
        )
    _move(run, "running")
    resumed = run.started_at is not None
    run.status, run.error = "running", None
    run.started_at = run.started_at or now
    run.lease_until = now + timedelta(seconds=rules.LEASE_SECONDS)
    run.version += 1
    ctx.session.flush()
    version = ctx.session.get(EvalDatasetVersion, run.dataset_version_id)
    target = ctx.session.get(EvalTarget, run.target_id)
    assert version is not None and target is not None
    done = {
        (s, e)
        for s, e in ctx.session.execute(
            select(EvalRunItem.sample_id, EvalRunItem.epoch).where(EvalRunItem.run_id == run.id)
        )
    }
    ctx.record(
        "eval_run.resume" if resumed else "eval_run.start",
        "eval_run",
        run.id,
        after={"done": len(done), "planned": run.planned},
    )
    names = rules.scorer_names(run.scorers)
    settings = RunSettings(**run.settings)
    return Plan(
        run.id,
        parse_target(target.config),
        samples_of(version),
        done,
        settings,
        {n: build_scorer(c) for n, c in zip(names, run.scorers, strict=True)},
    )


def score(result: ItemResult, sample: Any, scorers: dict[str, Scorer]) -> tuple[str, str | None, dict[str, Any]]:
    """(status, error, scores) of one result: a scorer that cannot score the item marks it errored."""
    if result.status != "completed" or result.output is None:
        return "errored", result.error, {}
    scores: dict[str, Any] = {}
    for name, scorer in scorers.items():
        try:
            s = scorer.score(result.output, sample)
        except ScorerInputError as exc:
            return "errored", f"scorer {name}: {exc}", {}
        scores[name] = {"value": s.value, "passed": s.passed, "explanation": s.explanation}
    return "completed", None, scores


def record_item(session: Session, plan: Plan, result: ItemResult, lease: timedelta) -> None:
    """Store one result (its own short transaction, committed by the caller) and extend the run's lease."""
    status, error, scores = score(result, plan.samples.get(result.sample_id), plan.scorers)
    session.add(
        EvalRunItem(
            run_id=plan.run_id,
            sample_id=result.sample_id,
            epoch=result.epoch,
            status=status,
            output=result.output,
            error=error,
            attempts=result.attempts,
            latency_ms=result.latency_ms,
            tokens_in=result.tokens_in,
            tokens_out=result.tokens_out,
            cost=str(result.cost) if result.cost is not None else None,
            scores=scores,
            finished_at=result.finished_at,
        )
    )
    counter = EvalRun.completed if status == "completed" else EvalRun.errored
    session.execute(
        update(EvalRun)
        .where(EvalRun.id == plan.run_id)
        .values({counter.key: counter + 1, "lease_until": result.finished_at + lease})
        .execution_options(synchronize_session=False)
    )


def items_digest(session: Session, run_id: int) -> str:
    digest = hashlib.sha256()
    rows = session.execute(
        select(EvalRunItem.sample_id, EvalRunItem.epoch, EvalRunItem.status, EvalRunItem.output, EvalRunItem.scores)
        .where(EvalRunItem.run_id == run_id)
        .order_by(EvalRunItem.sample_id, EvalRunItem.epoch)
    )
    for row in rows:
        digest.update(json.dumps(list(row), sort_keys=True, default=str).encode() + b"\n")
    return f"sha256:{digest.hexdigest()}"


def finish(ctx: Ctx, run_id: int, error: str | None = None) -> EvalRun:
    """Close a run: completed with its summary when every item is recorded, else failed with the reason."""
    run = get_run(ctx.session, run_id)
    ctx.session.refresh(run)
    items = ctx.session.execute(
        select(EvalRunItem.status, EvalRunItem.scores).where(EvalRunItem.run_id == run.id)
    ).all()
    names = rules.scorer_names(run.scorers)
    summary = rules.summarise((rules.ItemScores(s, sc or {}) for s, sc in items), names, run.planned)
    recorded = len(items)
    target = "completed" if error is None and recorded >= run.planned else "failed"
    if target == "failed" and error is None:
        error = f"{recorded} of {run.planned} items recorded"
    _move(run, target)
    run.status, run.error, run.summary = target, error, summary
    run.passed = rules.run_passed(summary, run.pass_threshold) if target == "completed" else None
    run.finished_at, run.lease_until = ctx.now(), None
    run.version += 1
    ctx.session.flush()
    ctx.record(
        f"eval_run.{target}",
        "eval_run",
        run.id,
        after={
            "summary": summary,
            "passed": run.passed,
            "completed": run.completed,
            "errored": run.errored,
            "items_sha256": items_digest(ctx.session, run.id),
            "error": error,
        },
    )
    return run
