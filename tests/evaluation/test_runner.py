"""The runner against a real OpenAI-compatible server on 127.0.0.1: results, retries, timeouts, errored items,
the concurrency limit, resuming after a cancellation or a kill, and secrets kept out of everything recorded."""

from __future__ import annotations

import asyncio
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from charter.evaluation.datasets import Sample
from charter.evaluation.runner import ItemResult, RunError, RunSettings, run_evaluation
from charter.evaluation.targets import ChatTarget, PriceTable
from tests.evaluation.chat_server import ChatServer, Fault

KEY = "sk-live-0123456789abcdefSECRET"
ENV = {"EVAL_KEY": KEY}
FAST = RunSettings(concurrency=4, timeout_s=2.0, max_attempts=3, backoff_base_s=0.01, backoff_max_s=0.05)


@pytest.fixture
def server() -> Iterator[ChatServer]:
    with ChatServer({"2+2?": "4", "capital of France?": "Paris"}, api_key=KEY) as s:
        yield s


def target_for(server: ChatServer, **overrides: Any) -> ChatTarget:
    fields: dict[str, Any] = {
        "base_url": server.base_url,
        "model": "gpt-test",
        "api_key": "env:EVAL_KEY",
        "parameters": {"temperature": 0, "max_tokens": 64},
    }
    return ChatTarget.model_validate({**fields, **overrides})


def tasks(n: int) -> list[Sample]:
    return [Sample(id=f"t{i}", input=f"task number {i}") for i in range(n)]


def run(target: Any, samples: list[Sample], **kwargs: Any) -> tuple[list[ItemResult], Any]:
    results: list[ItemResult] = []
    kwargs.setdefault("settings", FAST)
    kwargs.setdefault("environ", ENV)
    kwargs.setdefault("rng", random.Random(0))
    summary = asyncio.run(run_evaluation(target, samples, results.append, **kwargs))
    return sorted(results, key=lambda r: (r.sample_id, r.epoch)), summary


def test_each_item_records_output_tokens_cost_and_latency(server: ChatServer) -> None:
    prices = PriceTable.model_validate(
        {"prices": {"gpt-test": {"input_per_million": "2.5", "output_per_million": "10"}}}
    )
    samples = [
        Sample(id="a", input="2+2?"),
        Sample(
            id="b",
            input=[{"role": "system", "content": "Be terse."}, {"role": "user", "content": "capital of France?"}],
        ),
    ]
    results, summary = run(target_for(server), samples, prices=prices)
    a, b = results
    assert (a.status, a.output, a.attempts, a.error) == ("completed", "4", 1, None)
    assert (b.output, b.tokens_in, b.tokens_out, b.finish_reason) == ("Paris", 5, 1, "stop")
    assert b.cost == (Decimal(5) * Decimal("2.5") + Decimal(1) * Decimal(10)) / 1_000_000
    assert a.latency_ms is not None and a.latency_ms > 0
    assert summary.completed == 2 and summary.errored == 0 and summary.cost == a.cost + b.cost  # type: ignore[operator]
    sent = {r.prompt: r for r in server.requests}
    assert sent["2+2?"].body == {
        "model": "gpt-test",
        "messages": [{"role": "user", "content": "2+2?"}],
        "temperature": 0.0,
        "max_tokens": 64,
    }
    assert sent["capital of France?"].body["messages"][0] == {"role": "system", "content": "Be terse."}
    assert sent["2+2?"].headers["authorization"] == f"Bearer {KEY}"


def test_429_is_retried_after_what_retry_after_asks(server: ChatServer) -> None:
    server.fail("2+2?", Fault.rate_limited(retry_after="0.3"))
    (result,), _ = run(target_for(server), [Sample(id="a", input="2+2?")])
    assert (result.status, result.output, result.attempts) == ("completed", "4", 2)
    first, second = server.requests
    assert (first.status, second.status) == (429, 200)
    assert second.received_at - first.received_at >= 0.3


def test_backoff_is_exponential_with_jitter_from_the_injected_rng(server: ChatServer) -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    settings = RunSettings(concurrency=1, max_attempts=4, backoff_base_s=1.0, backoff_max_s=3.0)
    server.fail("2+2?", Fault.server_error(500), Fault.server_error(502), Fault.rate_limited(retry_after="2.9"))
    (result,), _ = run(target_for(server), [Sample(id="a", input="2+2?")], settings=settings, sleep=sleep)
    assert result.status == "completed" and result.attempts == 4
    rng = random.Random(0)
    expected = [0.5 + rng.random() * 0.5, 1.0 + rng.random() * 1.0, max(2.9, 1.5 + rng.random() * 1.5)]
    assert waits == pytest.approx(expected)
    assert 2.9 <= waits[2] <= 3.0


def test_5xx_until_the_last_attempt_marks_the_item_errored(server: ChatServer) -> None:
    server.fail("2+2?", *[Fault.server_error(503)] * 3)
    server.fail("capital of France?", Fault.server_error(500))
    results, summary = run(
        target_for(server), [Sample(id="a", input="2+2?"), Sample(id="b", input="capital of France?")]
    )
    a, b = results
    assert (a.status, a.output, a.attempts) == ("errored", None, 3)
    assert a.error == "HTTP 503: injected status 503 (gave up after 3 attempts)"
    assert (b.status, b.output, b.attempts) == ("completed", "Paris", 2)
    assert (summary.completed, summary.errored) == (1, 1)


def test_client_errors_are_not_retried(server: ChatServer) -> None:
    server.fail(None, Fault.status_code(400))
    (result,), _ = run(target_for(server), [Sample(id="a", input="2+2?")])
    assert (result.status, result.attempts) == ("errored", 1)
    assert result.error == "HTTP 400: injected status 400"
    assert len(server.requests) == 1


def test_a_retry_after_longer_than_allowed_gives_up_at_once(server: ChatServer) -> None:
    server.fail("2+2?", Fault.rate_limited(retry_after="3600"))
    settings = RunSettings(concurrency=1, max_attempts=5, max_retry_after_s=60)
    (result,), _ = run(target_for(server), [Sample(id="a", input="2+2?")], settings=settings)
    assert (result.status, result.attempts) == ("errored", 1)
    assert "asked to retry after 3600 s, more than the 60 s allowed" in (result.error or "")


def test_a_hanging_server_times_out_and_the_item_is_errored(server: ChatServer) -> None:
    server.fail("2+2?", Fault.hang(10), Fault.hang(10))
    settings = RunSettings(concurrency=2, timeout_s=0.3, max_attempts=2, backoff_base_s=0.01)
    started = time.monotonic()
    results, _ = run(
        target_for(server),
        [Sample(id="a", input="2+2?"), Sample(id="b", input="capital of France?")],
        settings=settings,
    )
    assert time.monotonic() - started < 3
    a, b = results
    assert (a.status, a.attempts, a.output) == ("errored", 2, None)
    assert a.error == "timed out after 0.3 s (gave up after 2 attempts)"
    assert b.output == "Paris"


def test_unparseable_answers_are_errored_never_scored(server: ChatServer) -> None:
    server.fail("2+2?", Fault.malformed())
    server.fail("capital of France?", Fault.incomplete())
    results, summary = run(
        target_for(server), [Sample(id="a", input="2+2?"), Sample(id="b", input="capital of France?")]
    )
    a, b = results
    assert (a.status, a.output, a.attempts) == ("errored", None, 1)
    assert a.error is not None and a.error.startswith("unreadable answer: the response is not JSON")
    assert (b.status, b.output) == ("errored", None)
    assert b.error == "unreadable answer: the response has no choices[0]: not a chat completion"
    assert summary.completed == 0 and summary.errored == 2


def test_connection_refused_is_retried_then_errored() -> None:
    with ChatServer(api_key=KEY) as gone:
        url = gone.base_url
    target = ChatTarget(base_url=url, model="m", api_key="env:EVAL_KEY")
    (result,), _ = run(target, [Sample(id="a", input="hi")])
    assert (result.status, result.attempts) == ("errored", 3)
    assert result.error is not None and result.error.startswith("connection failed: ConnectError")


def test_the_concurrency_limit_is_what_the_server_sees(server: ChatServer) -> None:
    server.latency = 0.05
    settings = RunSettings(concurrency=5, timeout_s=5)
    results, _ = run(target_for(server), tasks(40), settings=settings)
    assert len(results) == 40 and all(r.status == "completed" for r in results)
    assert server.max_in_flight == 5


def test_epochs_run_each_sample_n_times_and_done_pairs_are_skipped(server: ChatServer) -> None:
    settings = RunSettings(concurrency=3, epochs=3)
    results, summary = run(target_for(server), tasks(4), settings=settings, done={("t0", 1), ("t1", 3)})
    keys = [r.key for r in results]
    assert len(keys) == 10 and ("t0", 1) not in keys and ("t1", 3) not in keys and ("t3", 3) in keys
    assert (summary.planned, summary.skipped, summary.completed) == (12, 2, 10)
    assert len(server.requests) == 10


def test_results_are_handed_over_one_at_a_time_even_to_an_async_callback(server: ChatServer) -> None:
    active = peak = 0
    recorded: list[ItemResult] = []

    async def on_result(result: ItemResult) -> None:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.005)
        recorded.append(result)
        active -= 1

    settings = RunSettings(concurrency=8)
    asyncio.run(run_evaluation(target_for(server), tasks(30), on_result, settings=settings, environ=ENV))
    assert peak == 1 and len(recorded) == 30


def test_a_failing_callback_stops_the_run_and_its_error_reaches_the_caller(server: ChatServer) -> None:
    server.latency = 0.02

    def on_result(result: ItemResult) -> None:
        if result.sample_id == "t3":
            raise RuntimeError("database is locked")

    with pytest.raises(RuntimeError, match="database is locked"):
        asyncio.run(
            run_evaluation(target_for(server), tasks(50), on_result, settings=RunSettings(concurrency=2), environ=ENV)
        )
    stopped = time.monotonic()
    time.sleep(0.1)
    assert not [r for r in server.requests if r.received_at > stopped]
    assert len(server.requests) < 10


def test_a_cancelled_run_resumes_and_records_each_item_exactly_once(server: ChatServer) -> None:
    server.latency = 0.02
    store: dict[tuple[str, int], ItemResult] = {}
    writes: list[tuple[str, int]] = []
    started: list[tuple[str, int]] = []

    async def on_result(result: ItemResult) -> None:
        started.append(result.key)
        await asyncio.sleep(0.01)  # a transaction in progress when the cancellation comes
        store[result.key] = result
        writes.append(result.key)

    cancelled_at: list[float] = []

    async def first_run() -> None:
        task = asyncio.create_task(
            run_evaluation(target_for(server), tasks(40), on_result, settings=RunSettings(concurrency=6), environ=ENV)
        )
        while len(started) < 10:
            await asyncio.sleep(0.001)
        task.cancel()
        cancelled_at.append(time.monotonic())
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(first_run())
    recorded_before = len(writes)
    assert 10 <= recorded_before < 40
    assert started == writes  # the write in progress was let finish, none was cut in half
    time.sleep(0.1)
    assert not [r for r in server.requests if r.received_at > cancelled_at[0] + 0.005]  # nothing calls out any more

    summary = asyncio.run(run_evaluation(target_for(server), tasks(40), on_result, done=set(store), environ=ENV))
    assert summary.skipped == recorded_before
    assert sorted(writes) == sorted({("t" + str(i), 1) for i in range(40)})  # every item, each exactly once
    assert len(writes) == len(set(writes)) == 40


CHILD = textwrap.dedent(
    """
    import asyncio, sqlite3, sys
    from charter.evaluation.datasets import Sample
    from charter.evaluation.runner import RunSettings, run_evaluation
    from charter.evaluation.targets import ChatTarget

    base_url, db_path = sys.argv[1], sys.argv[2]
    db = sqlite3.connect(db_path, isolation_level=None)
    db.execute(
        "create table if not exists results (sample_id text, epoch int, output text, primary key (sample_id, epoch))"
    )
    done = {(row[0], row[1]) for row in db.execute("select sample_id, epoch from results")}

    def on_result(result):
        with db:  # one short transaction per result, no network inside
            db.execute("begin")
            db.execute("insert into results values (?, ?, ?)", (result.sample_id, result.epoch, result.output))
        print("recorded", flush=True)

    target = ChatTarget(base_url=base_url, model="m", api_key="env:EVAL_KEY")
    samples = [Sample(id=f"t{i}", input=f"task number {i}") for i in range(60)]
    settings = RunSettings(concurrency=4, epochs=2)
    asyncio.run(run_evaluation(target, samples, on_result, done=done, settings=settings))
    print("finished", flush=True)
    """
)


def test_a_run_killed_midway_completes_each_item_exactly_once_when_restarted(
    server: ChatServer, tmp_path: Path
) -> None:
    server.latency = 0.01
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    db_path = tmp_path / "results.sqlite"
    env = {"EVAL_KEY": KEY, "PATH": "/usr/bin:/bin"}
    child = subprocess.Popen(
        [sys.executable, str(script), server.base_url, str(db_path)], stdout=subprocess.PIPE, text=True, env=env
    )
    assert child.stdout is not None
    for _ in range(25):
        assert child.stdout.readline().strip() == "recorded"
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    with sqlite3.connect(db_path) as db:
        partial = db.execute("select count(*) from results").fetchone()[0]
    assert 25 <= partial < 120

    rerun = subprocess.run(
        [sys.executable, str(script), server.base_url, str(db_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stdout.count("recorded") == 120 - partial and rerun.stdout.endswith("finished\n")
    with sqlite3.connect(db_path) as db:
        rows = db.execute("select sample_id, epoch, output from results").fetchall()
    assert len(rows) == 120  # the primary key would have refused a second record of any item
    assert {(s, e) for s, e, _ in rows} == {(f"t{i}", e) for i in range(60) for e in (1, 2)}
    assert all(output == f"echo: task number {s[1:]}" for s, _, output in rows)


def test_secrets_never_appear_in_results_or_errors(server: ChatServer) -> None:
    leaky = ChatServer({"leak": f"the key is {KEY}"}, api_key=KEY).start()
    try:
        results, _ = run(target_for(leaky), [Sample(id="a", input="leak")])
        assert results[0].output == "the key is [redacted]"
        wrong = target_for(server, api_key="env:OTHER_KEY")
        bad, _ = run(wrong, [Sample(id="b", input="2+2?")], environ={"OTHER_KEY": "sk-wrong-key-value"})
        assert bad[0].status == "errored" and bad[0].error == "HTTP 401: Incorrect API key provided."
        with pytest.raises(ValueError) as missing:
            run(target_for(server), [Sample(id="c", input="2+2?")], environ={})
        assert str(missing.value) == "credential env:EVAL_KEY: environment variable EVAL_KEY is not set or empty"
        everything = repr(results) + repr(bad) + str(missing.value) + repr(target_for(server).model_dump())
        assert KEY not in everything and "sk-wrong-key-value" not in repr(bad)
    finally:
        leaky.stop()


def test_run_settings_out_of_range_are_refused_with_the_allowed_range() -> None:
    with pytest.raises(RunError, match="concurrency must be between 1 and 1024, got 0"):
        RunSettings(concurrency=0)
    with pytest.raises(RunError, match="epochs must be between 1 and 100"):
        RunSettings(epochs=0)
