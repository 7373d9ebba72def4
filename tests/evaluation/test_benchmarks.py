"""Blinded benchmark, calibration and gate facts on a real database, over a run against a real chat server."""

from __future__ import annotations

import random
from typing import Any

import pytest
from sqlalchemy import func, select

from charter.evaluation import benchmarks, service
from charter.evaluation.execute import Runner
from charter.evaluation.gate_facts import gate_facts
from charter.evaluation.models import EvalBenchmarkTask, EvalRating
from charter.evaluation.schemas import CalibrationCreate
from charter.kit.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from tests.evaluation.chat_server import ChatServer
from tests.evaluation.conftest import setup_run


@pytest.fixture
def bench(actors: Any, system: Any, chat: ChatServer, runner: Runner) -> int:
    for name in ("alan", "linus", "grace"):
        actors.add_user(name, "approver")
    run_id = setup_run(actors, chat, pass_threshold=0.9)
    runner.execute_sync(run_id)
    b = benchmarks.create_benchmark(
        actors.ctx("engineer"), "support-bot", "pilot", run_id, "grace", ["alan", "linus"], rng=random.Random(7)
    )
    actors.session.commit()
    return b.id


def test_raters_see_answers_blind_and_their_choice_becomes_a_verdict(actors: Any, bench: int) -> None:
    alan = actors.ctx("alan")
    shown = benchmarks.next_task(alan, bench)
    assert set(shown["task"]) == {"task_id", "prompt", "A", "B"}  # no label, author or score
    task = actors.session.execute(
        select(EvalBenchmarkTask).where(
            EvalBenchmarkTask.benchmark_id == bench, EvalBenchmarkTask.task_id == shown["task"]["task_id"]
        )
    ).scalar_one()
    ai_label = "A" if task.ai_first else "B"
    assert shown["task"][ai_label] == task.ai_answer
    benchmarks.rate(alan, bench, task.task_id, ai_label)
    stored = actors.session.execute(select(EvalRating.verdict).where(EvalRating.task_id == task.task_id)).scalar_one()
    assert stored == "ai_better"
    with pytest.raises(Conflict, match=r"rated task .* already"):
        benchmarks.rate(alan, bench, task.task_id, "tie")
    orders = set(
        actors.session.execute(
            select(EvalBenchmarkTask.ai_first).where(EvalBenchmarkTask.benchmark_id == bench)
        ).scalars()
    )
    assert orders == {True, False}  # both orders occur over 25 tasks


def test_authors_outsiders_and_unknown_tasks_are_refused_and_nothing_is_stored(actors: Any, bench: int) -> None:
    with pytest.raises(PermissionDenied, match="grace is not a rater"):
        benchmarks.rate(actors.ctx("grace"), bench, "q1", "A")
    with pytest.raises(NotFound, match="task 'q99' is not in benchmark"):
        benchmarks.rate(actors.ctx("alan"), bench, "q99", "A")
    ctx = actors.ctx("engineer")
    with pytest.raises(ValidationFailed, match=r"line 3: .*task 'q99' is not in the benchmark"):
        benchmarks.import_ratings(ctx, bench, "task_id,rater,verdict\nq1,alan,tie\nq99,alan,tie\n")
    with pytest.raises(ValidationFailed, match=r"line 2: .*'grace' wrote an answer of task 'q1'"):
        benchmarks.import_ratings(ctx, bench, "task_id,rater,verdict\nq1,grace,tie\n")
    with pytest.raises(ValidationFailed, match="unknown verdict 'better'"):
        benchmarks.import_ratings(ctx, bench, "task_id,rater,verdict\nq1,alan,better\n")
    with pytest.raises(ValidationFailed, match="columns must be task_id, rater, verdict"):
        benchmarks.import_ratings(ctx, bench, "task,who,verdict\nq1,alan,tie\n")
    assert actors.session.execute(select(func.count()).select_from(EvalRating)).scalar_one() == 0


def test_gate_facts_carry_the_benchmark_the_suite_and_the_judge(actors: Any, system: Any, bench: int) -> None:
    ctx = actors.ctx("engineer")
    ids = [f"q{i}" for i in range(25)]
    rows = "".join(
        f"{t},{r},{'human_better' if t in ('q3', 'q7') else 'tie'}\n" for t in ids for r in ("alan", "linus")
    )
    benchmarks.import_ratings(ctx, bench, "task_id,rater,verdict\n" + rows)
    from charter.evaluation.schemas import TargetCreate

    service.add_target(ctx, TargetCreate(name="judge", config={"kind": "offline", "outputs": {}}))
    service.store_calibration(ctx, "judge", CalibrationCreate(human=[1, 0, 1, 1], judge=[1, 0, 1, 0], scale="binary"))
    facts = gate_facts(actors.session, system.id, actors.clock.now())
    assert facts["benchmark_tasks"] == 25 and facts["benchmark_passed"] is True
    assert facts["benchmark_win_or_tie_lower"] == pytest.approx(0.750, abs=1e-3)
    assert facts["suites_passed"] == ["faq"] and facts["pass_rate"]["faq"] == pytest.approx(0.92)
    assert facts["dataset_hash"]["faq"].startswith("sha256:")
    assert facts["judges_calibrated"] == ["judge"] and facts["judge_n"]["judge"] == 4
    with pytest.raises(ValidationFailed, match="differ in length"):
        service.store_calibration(ctx, "judge", CalibrationCreate(human=[1, 0], judge=[1], scale="binary"))
