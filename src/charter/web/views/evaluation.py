"""Evaluation: runs and benchmarks, a run's items side by side with their scores, the benchmark report with its
interval, and the blinded rating page (answers A and B, no labels)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from sqlalchemy import select

from charter.evaluation import benchmarks, queries
from charter.evaluation.models import EvalBenchmark
from charter.inventory.models import AISystem
from charter.web.actions import run_and_redirect
from charter.web.deps import Form, WebCtx, WebRoute, field
from charter.web.render import render

router = APIRouter(route_class=WebRoute, include_in_schema=False)


@router.get("/evaluation")
def evaluation_page(request: Request, ctx: WebCtx) -> Response:
    runs = queries.list_runs(ctx, limit=100)
    rows = ctx.session.execute(
        select(EvalBenchmark, AISystem.key)
        .join(AISystem, AISystem.id == EvalBenchmark.system_id)
        .order_by(EvalBenchmark.id.desc())
        .limit(100)
    ).all()
    return render(
        request, "evaluation/list.html", runs=runs, benchmarks=[(b, key) for b, key in rows], me=ctx.principal.name
    )


@router.get("/evaluation/runs/{run_id}")
def run_page(request: Request, ctx: WebCtx, run_id: int) -> Response:
    return render(request, "evaluation/run.html", run=queries.read_run(ctx, run_id, items=True))


@router.get("/evaluation/benchmarks/{benchmark_id}")
def benchmark_page(request: Request, ctx: WebCtx, benchmark_id: int) -> Response:
    report = benchmarks.read_report(ctx, benchmark_id)
    return render(
        request, "evaluation/benchmark.html", report=report, is_rater=ctx.principal.name in report["raters_assigned"]
    )


@router.get("/evaluation/benchmarks/{benchmark_id}/rate")
def rate_page(request: Request, ctx: WebCtx, benchmark_id: int) -> Response:
    return render(
        request, "evaluation/rate.html", benchmark_id=benchmark_id, shown=benchmarks.next_task(ctx, benchmark_id)
    )


@router.post("/evaluation/benchmarks/{benchmark_id}/rate")
def rate(request: Request, ctx: WebCtx, form: Form, benchmark_id: int) -> Response:
    task, choice = field(form, "task_id"), field(form, "choice")
    back = f"/evaluation/benchmarks/{benchmark_id}/rate"
    return run_and_redirect(
        request,
        ctx,
        lambda: benchmarks.rate(ctx, benchmark_id, task, choice),
        back=back,
        ok=lambda p: f"rated: {p['rated']} of {p['total']}",
    )
