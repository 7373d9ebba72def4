"""Evaluation pages: runs with items side by side, the benchmark report with its interval, blind rating."""

from __future__ import annotations

import random
from typing import Any

from markupsafe import escape
from sqlalchemy import select

from charter.evaluation import benchmarks
from charter.evaluation.models import EvalBenchmarkTask, EvalRating
from tests.evaluation.conftest import chat, eval_env, runner, setup_run, system  # noqa: F401


def test_a_run_page_shows_items_side_by_side_and_a_rater_rates_blind(
    browser_for: Any,
    actors: Any,
    session: Any,
    system: Any,  # noqa: F811
    chat: Any,  # noqa: F811
    runner: Any,  # noqa: F811
) -> None:
    run_id = setup_run(actors, chat, pass_threshold=0.9)
    runner.execute_sync(run_id)
    actors.add_user("alan", "approver")
    actors.add_user("grace", "governance")
    bench = benchmarks.create_benchmark(
        actors.ctx("engineer"), "support-bot", "pilot", run_id, "grace", ["alan", "engineer"], rng=random.Random(3)
    )
    session.commit()
    viewer = browser_for("viewer")
    listing = viewer.get("/evaluation").text
    assert f'href="/evaluation/runs/{run_id}"' in listing and 'href="/evaluation"' in listing
    page = viewer.get(f"/evaluation/runs/{run_id}").text
    assert "question 3?" in page and "wrong 3" in page and "answer 3" in page  # input, output, expected
    assert "0.920 [" in page and "PASSED" in page
    alan = browser_for("alan")
    rate = alan.get(f"/evaluation/benchmarks/{bench.id}/rate").text
    assert "Answer A" in rate and "Answer B" in rate and "0 of 25 rated" in rate
    task = (
        session.execute(
            select(EvalBenchmarkTask)
            .where(EvalBenchmarkTask.benchmark_id == bench.id)
            .order_by(EvalBenchmarkTask.position)
        )
        .scalars()
        .first()
    )
    assert "ai_better" not in rate  # no labels
    assert escape(task.ai_answer) in rate and escape(task.human_answer) in rate
    posted = alan.submit(f"/evaluation/benchmarks/{bench.id}/rate", {"task_id": task.task_id, "choice": "tie"})
    assert posted.status_code == 303
    assert session.execute(select(EvalRating.verdict).where(EvalRating.rater == "alan")).scalars().all() == ["tie"]
    report = viewer.get(f"/evaluation/benchmarks/{bench.id}").text
    assert "win 0, tie 1, loss 0" in report and "not passed" in report
    refused = browser_for("grace").get(f"/evaluation/benchmarks/{bench.id}/rate")
    assert refused.status_code == 403
