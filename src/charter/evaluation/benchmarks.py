"""Blinded expert benchmark use cases: create from a run, rate blind, import ratings, report.

For each task a rater sees the task and two answers labelled A and B, in an order drawn (injected RNG) when the
benchmark was created, and chooses A, B or tie; the stored verdict is ai_better / tie / human_better. The expert
who wrote the reference answers (and the author named in a sample's metadata) cannot rate, and a rater sees no
label, no author and no score. Ratings are never changed (one per rater, task and criterion).
"""

from __future__ import annotations

import csv
import io
import random
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from charter.evaluation.benchmark import BenchmarkInputError, benchmark_report
from charter.evaluation.models import (
    EvalBenchmark,
    EvalBenchmarkRater,
    EvalBenchmarkTask,
    EvalDatasetVersion,
    EvalRating,
    EvalRunItem,
)
from charter.evaluation.queries import get_run
from charter.evaluation.rules import check_name
from charter.inventory.models import AISystem
from charter.inventory.queries import get_system
from charter.kit.errors import Conflict, NotFound, PermissionDenied, ValidationFailed

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from charter.context import Ctx

CHOICES = ("A", "B", "tie")


def get_benchmark(session: Session, benchmark_id: int) -> EvalBenchmark:
    found = session.get(EvalBenchmark, benchmark_id)
    if found is None:
        raise NotFound(f"no expert benchmark {benchmark_id}", entity="eval_benchmark")
    return found


def _prompt(sample_input: Any) -> str:
    if isinstance(sample_input, str):
        return sample_input
    return "\n".join(f"{m['role']}: {m['content']}" for m in sample_input)


def create_benchmark(
    ctx: Ctx,
    system_key: str,
    name: str,
    run_id: int,
    expert: str,
    raters: list[str],
    *,
    min_raters: int = 2,
    pass_threshold: float = 0.5,
    rng: random.Random | None = None,
) -> EvalBenchmark:
    """A benchmark over the completed items of a run whose samples carry the expert's reference answer."""
    ctx.require("evals:write")
    system = get_system(ctx.session, system_key)
    if problem := check_name(name, "benchmark"):
        raise ValidationFailed(problem)
    run = get_run(ctx.session, run_id)
    if run.system_id != system.id or run.status != "completed":
        raise Conflict(f"run {run_id} is not a completed run of {system.key}; benchmark a completed run")
    if len(set(raters)) < min_raters:
        raise ValidationFailed(f"a benchmark needs at least {min_raters} distinct raters, got {len(set(raters))}")
    if expert in raters:
        raise ValidationFailed(f"rater {expert!r} wrote the reference answers and cannot rate them")
    version = ctx.session.get(EvalDatasetVersion, run.dataset_version_id)
    assert version is not None
    samples = {s["id"]: s for s in version.samples}
    items = (
        ctx.session.execute(
            select(EvalRunItem)
            .where(EvalRunItem.run_id == run.id, EvalRunItem.epoch == 1, EvalRunItem.status == "completed")
            .order_by(EvalRunItem.sample_id)
        )
        .scalars()
        .all()
    )
    missing = [i.sample_id for i in items if not samples[i.sample_id].get("reference")]
    if missing:
        raise ValidationFailed(
            f"tasks without the expert's reference answer cannot be compared: {', '.join(missing[:5])}"
        )
    if not items:
        raise ValidationFailed(f"run {run_id} has no completed item to compare")
    chance = rng or random.SystemRandom()
    benchmark = EvalBenchmark(
        system_id=system.id,
        name=name,
        run_id=run.id,
        dataset_version_id=version.id,
        expert=expert,
        criteria=[],
        min_raters=min_raters,
        pass_threshold=pass_threshold,
        status="open",
        created_at=ctx.now(),
        created_by=ctx.principal.actor,
    )
    ctx.session.add(benchmark)
    ctx.session.flush()
    order = list(items)
    chance.shuffle(order)
    for position, item in enumerate(order, start=1):
        sample = samples[item.sample_id]
        ctx.session.add(
            EvalBenchmarkTask(
                benchmark_id=benchmark.id,
                task_id=item.sample_id,
                position=position,
                prompt=_prompt(sample["input"]),
                ai_first=chance.random() < 0.5,
                ai_answer=item.output or "",
                human_answer=sample["reference"],
            )
        )
    for username in sorted(set(raters)):
        ctx.session.add(EvalBenchmarkRater(benchmark_id=benchmark.id, username=username, assigned_at=ctx.now()))
    ctx.session.flush()
    ctx.record(
        "eval_benchmark.create",
        "eval_benchmark",
        benchmark.id,
        after={
            "system": system.key,
            "name": name,
            "run": run.id,
            "tasks": len(order),
            "expert": expert,
            "raters": sorted(set(raters)),
            "min_raters": min_raters,
            "pass_threshold": pass_threshold,
        },
    )
    return benchmark


def authors(session: Session, benchmark: EvalBenchmark) -> dict[str, set[str]]:
    """Who wrote an answer of each task: the expert, and an `author` in the sample's metadata."""
    version = session.get(EvalDatasetVersion, benchmark.dataset_version_id)
    assert version is not None
    out: dict[str, set[str]] = {}
    for s in version.samples:
        named = (s.get("metadata") or {}).get("author")
        out[s["id"]] = {benchmark.expert} | ({str(named)} if named else set())
    return out


def _tasks(session: Session, benchmark_id: int) -> dict[str, EvalBenchmarkTask]:
    rows = session.execute(
        select(EvalBenchmarkTask)
        .where(EvalBenchmarkTask.benchmark_id == benchmark_id)
        .order_by(EvalBenchmarkTask.position)
    ).scalars()
    return {t.task_id: t for t in rows}


def _raters(session: Session, benchmark_id: int) -> list[str]:
    return list(
        session.execute(
            select(EvalBenchmarkRater.username)
            .where(EvalBenchmarkRater.benchmark_id == benchmark_id)
            .order_by(EvalBenchmarkRater.username)
        ).scalars()
    )


def _rated(session: Session, benchmark_id: int, rater: str | None = None) -> list[EvalRating]:
    stmt = select(EvalRating).where(EvalRating.benchmark_id == benchmark_id)
    if rater is not None:
        stmt = stmt.where(EvalRating.rater == rater)
    return list(session.execute(stmt.order_by(EvalRating.id)).scalars())


def _check_rater(ctx: Ctx, benchmark: EvalBenchmark) -> str:
    ctx.require("evals:rate")
    me = ctx.principal.name
    if me not in _raters(ctx.session, benchmark.id):
        raise PermissionDenied(
            f"{me} is not a rater of benchmark {benchmark.id}; raters: {', '.join(_raters(ctx.session, benchmark.id))}"
        )
    return me


def next_task(ctx: Ctx, benchmark_id: int) -> dict[str, Any]:
    """The rater's next unrated task, blinded: the prompt and answers A and B, no labels. (A read.)"""
    benchmark = get_benchmark(ctx.session, benchmark_id)
    me = _check_rater(ctx, benchmark)
    tasks = _tasks(ctx.session, benchmark.id)
    done = {r.task_id for r in _rated(ctx.session, benchmark.id, me)}
    writers = authors(ctx.session, benchmark)
    todo = [t for t in tasks.values() if t.task_id not in done and me not in writers.get(t.task_id, set())]
    progress = {"rated": len(done), "total": len(tasks)}
    if not todo:
        return {"benchmark": benchmark.id, "task": None, "progress": progress}
    t = todo[0]
    first, second = (t.ai_answer, t.human_answer) if t.ai_first else (t.human_answer, t.ai_answer)
    return {
        "benchmark": benchmark.id,
        "task": {"task_id": t.task_id, "prompt": t.prompt, "A": first, "B": second},
        "progress": progress,
    }


def _verdict(task: EvalBenchmarkTask, choice: str) -> str:
    if choice == "tie":
        return "tie"
    first_better = choice == "A"
    return "ai_better" if first_better == task.ai_first else "human_better"


def rate(ctx: Ctx, benchmark_id: int, task_id: str, choice: str) -> dict[str, Any]:
    """Record the signed-in rater's blind choice (A, B or tie) on one task."""
    benchmark = get_benchmark(ctx.session, benchmark_id)
    me = _check_rater(ctx, benchmark)
    if benchmark.status != "open":
        raise Conflict(f"benchmark {benchmark.id} is {benchmark.status}; ratings are closed")
    if choice not in CHOICES:
        raise ValidationFailed(f"choice {choice!r} is not allowed; choose A, B or tie")
    task = _tasks(ctx.session, benchmark.id).get(task_id)
    if task is None:
        raise NotFound(f"task {task_id!r} is not in benchmark {benchmark.id}", entity="eval_benchmark_task")
    if me in authors(ctx.session, benchmark).get(task_id, set()):
        raise PermissionDenied(f"{me} wrote an answer of task {task_id!r} and cannot rate it")
    if any(r.task_id == task_id for r in _rated(ctx.session, benchmark.id, me)):
        raise Conflict(f"{me} has rated task {task_id!r} already; a rating is not changed")
    ctx.session.add(
        EvalRating(
            benchmark_id=benchmark.id,
            task_id=task_id,
            rater=me,
            criterion="",
            verdict=_verdict(task, choice),
            source="blind",
            created_at=ctx.now(),
        )
    )
    ctx.session.flush()
    ctx.record(
        "eval_benchmark.rate", "eval_benchmark", benchmark.id, after={"task": task_id, "rater": me, "choice": choice}
    )
    progress: dict[str, Any] = next_task(ctx, benchmark_id)["progress"]
    return progress


def parse_ratings(text: str) -> list[dict[str, str]]:
    """Rows of a CSV `task_id,rater,verdict[,criterion]`; errors name the line."""
    reader = csv.DictReader(io.StringIO(text))
    allowed = {"task_id", "rater", "verdict", "criterion"}
    header = set(reader.fieldnames or [])
    if not {"task_id", "rater", "verdict"} <= header or header - allowed:
        raise ValidationFailed(
            f"ratings file: columns must be task_id, rater, verdict (and optionally criterion); got "
            f"{', '.join(reader.fieldnames or []) or 'none'}"
        )
    return [{k: v for k, v in row.items() if k in allowed and v not in (None, "")} for row in reader]


def import_ratings(ctx: Ctx, benchmark_id: int, text: str) -> dict[str, Any]:
    """Store ratings gathered elsewhere, all or nothing: unknown tasks, authors rating their own answers, repeats
    (also of stored ratings) and unknown verdicts are refused naming the line."""
    ctx.require("evals:write")
    benchmark = get_benchmark(ctx.session, benchmark_id)
    rows = parse_ratings(text)
    stored = [{"task_id": r.task_id, "rater": r.rater, "verdict": r.verdict} for r in _rated(ctx.session, benchmark.id)]
    try:
        benchmark_report(
            stored + rows,
            known_tasks=set(_tasks(ctx.session, benchmark.id)),
            authors=authors(ctx.session, benchmark),
            min_raters=benchmark.min_raters,
        )
    except BenchmarkInputError as exc:
        line = None if exc.index is None or exc.index < len(stored) else exc.index - len(stored) + 2
        message = str(exc).split(": ", 1)[-1] if exc.index is not None else str(exc)
        raise ValidationFailed(f"ratings file line {line}: {message}" if line else f"ratings: {message}") from None
    for r in rows:
        ctx.session.add(
            EvalRating(
                benchmark_id=benchmark.id,
                task_id=r["task_id"].strip(),
                rater=r["rater"].strip(),
                criterion="",
                verdict=r["verdict"].strip().lower(),
                source="import",
                created_at=ctx.now(),
            )
        )
    ctx.session.flush()
    ctx.record("eval_benchmark.import", "eval_benchmark", benchmark.id, after={"ratings": len(rows)})
    return {"imported": len(rows)}


def report(session: Session, benchmark: EvalBenchmark) -> dict[str, Any]:
    """The benchmark report (benchmark.py) and whether it passes: every task rated by min_raters and the lower
    Wilson bound of the majority win-or-tie rate at or above the pass threshold."""
    ratings = [{"task_id": r.task_id, "rater": r.rater, "verdict": r.verdict} for r in _rated(session, benchmark.id)]
    tasks = _tasks(session, benchmark.id)
    system = session.get(AISystem, benchmark.system_id)
    head = {
        "id": benchmark.id,
        "name": benchmark.name,
        "system": system.key if system else None,
        "tasks_total": len(tasks),
        "raters_assigned": _raters(session, benchmark.id),
        "pass_threshold": benchmark.pass_threshold,
        "min_raters": benchmark.min_raters,
    }
    if not ratings:
        return {**head, "passed": False, "complete": False, "ratings": 0}
    data = benchmark_report(ratings, min_raters=benchmark.min_raters).as_dict()
    counts: dict[str, int] = {}
    for r in ratings:
        counts[r["task_id"]] = counts.get(r["task_id"], 0) + 1
    complete = all(counts.get(t, 0) >= benchmark.min_raters for t in tasks)
    lower = data["majority"]["win_or_tie_wilson95"][0]
    return {**head, **data, "complete": complete, "passed": complete and lower >= benchmark.pass_threshold}


def read_report(ctx: Ctx, benchmark_id: int) -> dict[str, Any]:
    ctx.require("evals:read")
    return report(ctx.session, get_benchmark(ctx.session, benchmark_id))
