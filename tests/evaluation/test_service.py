"""Evaluation use cases on a real database with a real chat-completions server: import, targets, runs, resume."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from sqlalchemy import func, select

from charter.evaluation import queries, runs, service
from charter.evaluation.execute import Runner
from charter.evaluation.models import EvalDatasetVersion, EvalRunItem
from charter.evaluation.schemas import DatasetImport, TargetCreate
from charter.kit.errors import Conflict, PermissionDenied, ValidationFailed
from charter.ledger.models import LedgerEntry
from tests.evaluation.chat_server import ChatServer, Fault
from tests.evaluation.conftest import SYSTEM, jsonl, setup_run


def test_importing_the_same_content_twice_adds_no_version(actors: Any, system: Any) -> None:
    ctx = actors.ctx("engineer")
    first = service.import_dataset(ctx, DatasetImport(system=SYSTEM, name="faq", format="jsonl", content=jsonl(3)))
    again = service.import_dataset(ctx, DatasetImport(system=SYSTEM, name="faq", format="jsonl", content=jsonl(3)))
    more = service.import_dataset(ctx, DatasetImport(system=SYSTEM, name="faq", format="jsonl", content=jsonl(4)))
    assert (first.version, first.new, again.version, again.new, more.version) == (1, True, 1, False, 2)
    assert first.content_hash == again.content_hash != more.content_hash
    _read, samples = queries.dataset_samples(ctx, SYSTEM, "faq@1")
    assert [s.id for s in samples] == ["q0", "q1", "q2"]


def test_a_malformed_dataset_names_line_and_column_and_stores_nothing(actors: Any, system: Any) -> None:
    ctx = actors.ctx("engineer")
    bad_csv = "id,input,expected\nq1,hello,hi\nq2,,x\n"
    with pytest.raises(ValidationFailed, match=r"line 3, column 2 \(input\): the input is empty"):
        service.import_dataset(ctx, DatasetImport(system=SYSTEM, name="faq", format="csv", content=bad_csv))
    with pytest.raises(ValidationFailed, match=r"unknown column|not allowed|colour"):
        service.import_dataset(
            ctx, DatasetImport(system=SYSTEM, name="faq", format="csv", content="id,input,colour\n1,a,b\n")
        )
    assert actors.session.execute(select(func.count()).select_from(EvalDatasetVersion)).scalar_one() == 0


def test_a_target_never_stores_a_key_only_a_reference(actors: Any, system: Any) -> None:
    ctx = actors.ctx("engineer")
    config = {"kind": "openai_chat", "base_url": "http://127.0.0.1:9/v1", "model": "m", "api_key": "sk-live-123"}
    with pytest.raises(ValidationFailed, match="by reference only") as caught:
        service.add_target(ctx, TargetCreate(name="bot", config=config))
    assert "sk-live-123" not in str(caught.value)
    with pytest.raises(PermissionDenied):
        service.add_target(actors.ctx("viewer"), TargetCreate(name="bot", config={**config, "api_key": "env:K"}))


def test_a_run_scores_every_item_and_records_its_summary(
    actors: Any, system: Any, chat: ChatServer, runner: Runner
) -> None:
    run_id = setup_run(actors, chat, scorers=["exact"], pass_threshold=0.9, concurrency=4)
    run = runner.execute_sync(run_id)
    assert (run.status, run.completed, run.errored) == ("completed", 25, 0)
    exact = run.summary["exact"]
    assert (exact["passed"], exact["n"]) == (23, 25)
    assert exact["pass_rate"] == pytest.approx(0.92)
    assert exact["pass_rate_wilson95"][0] < 0.92 < exact["pass_rate_wilson95"][1]
    assert run.passed is True
    actions = (
        actors.session.execute(
            select(LedgerEntry.action).where(LedgerEntry.entity_type == "eval_run").order_by(LedgerEntry.seq)
        )
        .scalars()
        .all()
    )
    assert actions == ["eval_run.create", "eval_run.start", "eval_run.completed"]


def test_an_unparseable_answer_is_errored_never_scored(
    actors: Any, system: Any, chat: ChatServer, runner: Runner
) -> None:
    run_id = setup_run(actors, chat, max_attempts=1)
    chat.fail("question 5?", Fault.malformed())
    chat.fail("question 6?", Fault.server_error(503))
    run = runner.execute_sync(run_id)
    items = {
        i.sample_id: i
        for i in actors.session.execute(select(EvalRunItem).where(EvalRunItem.run_id == run_id)).scalars()
    }
    assert items["q5"].status == "errored" and "unreadable answer" in (items["q5"].error or "")
    assert items["q6"].status == "errored" and "HTTP 503" in (items["q6"].error or "")
    assert items["q5"].scores == {} and items["q5"].output is None
    assert run.errored == 2 and run.summary["exact"]["passed"] == 21


def test_a_killed_run_resumes_calling_only_the_missing_items(
    actors: Any, system: Any, chat: ChatServer, runner: Runner
) -> None:
    run_id = setup_run(actors, chat, concurrency=1)
    chat.latency = 0.02

    async def killed() -> None:
        task = asyncio.ensure_future(runner.execute(run_id))
        while actors.session.execute(select(func.count()).where(EvalRunItem.run_id == run_id)).scalar_one() < 5:
            await asyncio.sleep(0.005)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(killed())
    recorded = actors.session.execute(select(func.count()).where(EvalRunItem.run_id == run_id)).scalar_one()
    assert 5 <= recorded < 25
    with pytest.raises(Conflict, match="being run now"):  # its lease has not run out yet
        runner.execute_sync(run_id)
    actors.clock.advance(seconds=301)
    time.sleep(0.1)  # the call in flight when the run was killed reaches the server's log
    kept = set(actors.session.execute(select(EvalRunItem.sample_id).where(EvalRunItem.run_id == run_id)).scalars())
    calls_before = len(chat.requests)
    run = runner.execute_sync(run_id)
    assert run.status == "completed" and run.completed == 25
    asked = [r.prompt for r in chat.requests[calls_before:]]
    assert sorted(asked) == sorted(f"question {i[1:]}?" for i in {f"q{n}" for n in range(25)} - kept)
    per_item = actors.session.execute(
        select(EvalRunItem.sample_id, func.count()).where(EvalRunItem.run_id == run_id).group_by(EvalRunItem.sample_id)
    ).all()
    assert len(per_item) == 25 and all(n == 1 for _, n in per_item)


def test_a_missing_credential_fails_the_run_with_the_reference_named(
    actors: Any, system: Any, chat: ChatServer, session_factory: Any
) -> None:
    run_id = setup_run(actors, chat)
    runner = Runner(session_factory, actors.principal("engineer"), actors.clock, actors.settings, environ={})
    run = runner.execute_sync(run_id)
    assert run.status == "failed"
    assert run.error == "credential env:EVAL_TEST_KEY: environment variable EVAL_TEST_KEY is not set or empty"
    assert chat.requests == []


def test_an_llm_judge_in_a_run_is_refused_with_the_scorers_allowed(actors: Any, system: Any, chat: ChatServer) -> None:
    with pytest.raises(ValidationFailed, match="deterministic scorers"):
        runs.scorer_configs([{"type": "llm_judge", "judge": "j"}])
    with pytest.raises(ValidationFailed, match="unknown scorer 'exactly'"):
        runs.scorer_configs(["exactly"])


def test_the_sweeper_resumes_a_run_whose_runner_died(
    actors: Any, system: Any, chat: ChatServer, runner: Runner
) -> None:
    run_id = setup_run(actors, chat)
    runner.claim(run_id)  # a runner claimed it, then its process died: nothing recorded, the lease is held
    assert asyncio.run(runner.resume_stale()) == []  # the lease has not run out: nobody else may take it
    actors.clock.advance(seconds=301)
    assert asyncio.run(runner.resume_stale()) == [run_id]
    run = queries.get_run(actors.session, run_id)
    actors.session.refresh(run)
    assert (run.status, run.completed) == ("completed", 25)
    actions = (
        actors.session.execute(
            select(LedgerEntry.action).where(LedgerEntry.entity_type == "eval_run").order_by(LedgerEntry.seq)
        )
        .scalars()
        .all()
    )
    assert actions == ["eval_run.create", "eval_run.start", "eval_run.resume", "eval_run.completed"]
