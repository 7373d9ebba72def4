"""Evaluation API: /eval/datasets, /eval/targets, /eval/runs, /eval/agreement (benchmarks: benchmarks_api.py)."""

from __future__ import annotations

import asyncio
import io
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse

from charter.access.deps import CtxDep
from charter.evaluation import benchmarks, queries, runs, schedules, service
from charter.evaluation.agreement import calibrate
from charter.evaluation.dataset_files import write_samples
from charter.evaluation.datasets import DatasetError
from charter.evaluation.execute import Runner
from charter.evaluation.schemas import (
    AgreementIn,
    BenchmarkCreate,
    CalibrationCreate,
    CalibrationRead,
    DatasetImport,
    DatasetRead,
    DatasetVersionRead,
    Format,
    RatingIn,
    RatingsImport,
    RunCreate,
    RunDetail,
    RunRead,
    ScheduleCreate,
    ScheduleRead,
    TargetCreate,
    TargetRead,
    TargetTestRead,
)
from charter.evaluation.stats import StatisticsInputError
from charter.evaluation.target_calls import test_target
from charter.evaluation.targets import parse_target
from charter.kit.errors import ValidationFailed
from charter.kit.principal import SYSTEM
from charter.kit.routing import API

router = APIRouter(prefix=f"{API}/eval", tags=["evaluation"])
_BACKGROUND: set[asyncio.Task[Any]] = set()  # runs started with wait=false (kept referenced until they end)


def runner_for(request: Request, ctx: Any) -> Runner:
    state = request.app.state
    return Runner(state.session_factory, ctx.principal, state.clock, state.settings)


# ----------------------------------------------------------------------------- datasets


@router.post("/datasets", status_code=201, summary="Import a dataset file as a new immutable version")
def import_dataset(body: DatasetImport, ctx: CtxDep) -> DatasetVersionRead:
    result = service.import_dataset(ctx, body)
    ctx.commit()
    return result


@router.get("/datasets", summary="The evaluation datasets of a system with their versions")
def list_datasets(ctx: CtxDep, system: str) -> list[DatasetRead]:
    return queries.list_datasets(ctx, system)


@router.get("/datasets/{system}/{name}", summary="One dataset with its versions")
def read_dataset(system: str, name: str, ctx: CtxDep) -> DatasetRead:
    return queries.read_dataset(ctx, system, name)


@router.get("/datasets/{system}/{ref}/export", response_class=PlainTextResponse, summary="A dataset version as a file")
def export_dataset(system: str, ref: str, ctx: CtxDep, format: Format = "jsonl") -> PlainTextResponse:
    read, samples = queries.dataset_samples(ctx, system, ref)
    out = io.StringIO(newline="")
    try:
        write_samples(samples, format, out)
    except DatasetError as exc:
        raise ValidationFailed(f"cannot export as {format}: {exc}") from None
    headers = {"X-Content-Hash": read.content_hash, "X-Dataset-Version": str(read.version)}
    return PlainTextResponse(out.getvalue(), headers=headers)


# ----------------------------------------------------------------------------- targets


@router.post("/targets", status_code=201, summary="Add a target (credentials by reference only)")
def add_target(body: TargetCreate, ctx: CtxDep) -> TargetRead:
    target = service.add_target(ctx, body)
    ctx.commit()
    return queries.target_read(ctx.session, target)


@router.get("/targets", summary="Every evaluation target")
def list_targets(ctx: CtxDep) -> list[TargetRead]:
    return queries.list_targets(ctx)


@router.get("/targets/{name}", summary="One target with its latest judge calibration")
def read_target(name: str, ctx: CtxDep) -> TargetRead:
    return queries.read_target(ctx, name)


@router.post("/targets/{name}/test", summary="Call the target once and say whether it answers")
async def check_target(name: str, ctx: CtxDep) -> TargetTestRead:
    ctx.require("evals:write")
    config = queries.get_target(ctx.session, name).config
    ctx.session.rollback()  # no transaction stays open while the target is called
    check = await test_target(parse_target(config))
    return TargetTestRead(name=name, reachable=check.reachable, detail=check.detail, latency_ms=check.latency_ms)


@router.post("/targets/{name}/calibrations", status_code=201, summary="Calibrate a judge against human labels")
def add_calibration(name: str, body: CalibrationCreate, ctx: CtxDep) -> CalibrationRead:
    result = service.store_calibration(ctx, name, body)
    ctx.commit()
    return result


@router.post("/agreement", summary="Calibration statistics of paired human and judge labels (nothing stored)")
def agreement(body: AgreementIn, ctx: CtxDep) -> dict[str, Any]:
    ctx.require("evals:read")
    try:
        return calibrate(body.human, body.judge, body.scale).as_dict()
    except StatisticsInputError as exc:
        raise ValidationFailed(f"labels: {exc}") from None


# ----------------------------------------------------------------------------- runs


@router.post("/runs", status_code=201, summary="Start a run: dataset@version against a target, scored")
async def start_run(body: RunCreate, ctx: CtxDep, request: Request) -> RunRead:
    run = runs.create_run(ctx, body)
    ctx.commit()
    runner = runner_for(request, ctx)
    if body.wait:
        await runner.execute(run.id)
    else:  # runs on in the server process; if that dies, the sweeper resumes it once its lease runs out
        task = asyncio.get_running_loop().create_task(runner.execute(run.id))
        _BACKGROUND.add(task)
        task.add_done_callback(_BACKGROUND.discard)
    ctx.session.expire_all()
    return queries.run_read(ctx.session, queries.get_run(ctx.session, run.id))


@router.post("/runs/{run_id}/resume", summary="Resume a run whose runner stopped: only missing items are called")
async def resume_run(run_id: int, ctx: CtxDep, request: Request) -> RunRead:
    ctx.require("evals:write")
    ctx.session.rollback()
    runner = runner_for(request, ctx)
    await runner.execute(run_id)
    ctx.session.expire_all()
    return queries.run_read(ctx.session, queries.get_run(ctx.session, run_id))


@router.get("/runs", summary="Evaluation runs, newest first")
def list_runs(
    ctx: CtxDep, system: str | None = None, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> list[RunRead]:
    return queries.list_runs(ctx, system, limit)


@router.get("/runs/{run_id}", summary="One run (items=true: every item side by side with its scores)")
def read_run(run_id: int, ctx: CtxDep, items: bool = False) -> RunRead | RunDetail:
    return queries.read_run(ctx, run_id, items=items)


# ----------------------------------------------------------------------------- blinded expert benchmarks


@router.post("/benchmarks", status_code=201, summary="Create a blinded benchmark of a run against the expert")
def create_benchmark(body: BenchmarkCreate, ctx: CtxDep) -> dict[str, Any]:
    created = benchmarks.create_benchmark(
        ctx,
        body.system,
        body.name,
        body.run,
        body.expert,
        body.raters,
        min_raters=body.min_raters,
        pass_threshold=body.pass_threshold,
    )
    ctx.commit()
    return benchmarks.report(ctx.session, created)


@router.get("/benchmarks/{benchmark_id}/next", summary="The signed-in rater's next task, blinded (answers A and B)")
def next_task(benchmark_id: int, ctx: CtxDep) -> dict[str, Any]:
    return benchmarks.next_task(ctx, benchmark_id)


@router.post("/benchmarks/{benchmark_id}/ratings", status_code=201, summary="Rate one task blind: A, B or tie")
def rate(benchmark_id: int, body: RatingIn, ctx: CtxDep) -> dict[str, Any]:
    progress = benchmarks.rate(ctx, benchmark_id, body.task_id, body.choice)
    ctx.commit()
    return progress


@router.post("/benchmarks/{benchmark_id}/ratings/import", status_code=201, summary="Import ratings (CSV), all or none")
def import_ratings(benchmark_id: int, body: RatingsImport, ctx: CtxDep) -> dict[str, Any]:
    result = benchmarks.import_ratings(ctx, benchmark_id, body.content)
    ctx.commit()
    return result


@router.get("/benchmarks/{benchmark_id}", summary="The benchmark report: win/tie/loss, Wilson interval, agreement")
def benchmark_report(benchmark_id: int, ctx: CtxDep) -> dict[str, Any]:
    return benchmarks.read_report(ctx, benchmark_id)


# ----------------------------------------------------------------------------- continuous validation


@router.post("/schedules", status_code=201, summary="Add a continuous-validation schedule (with its alert rule)")
def add_schedule(body: ScheduleCreate, ctx: CtxDep) -> ScheduleRead:
    schedule = schedules.add_schedule(ctx, body)
    ctx.commit()
    return schedules.schedule_read(ctx.session, schedule)


@router.get("/schedules", summary="The continuous-validation schedules of a system")
def list_schedules(ctx: CtxDep, system: str) -> list[ScheduleRead]:
    return schedules.list_schedules(ctx, system)


@router.post("/schedules/run-due", summary="Run the due schedules now (what the sweeper does each round)")
async def run_due(ctx: CtxDep, request: Request) -> list[dict[str, Any]]:
    ctx.require("evals:write")
    ctx.session.rollback()
    state = request.app.state
    return await Runner(state.session_factory, SYSTEM, state.clock, state.settings).run_due()
