"""The evaluation runner: calls a target for every (sample, epoch) and hands each result to the caller.

asyncio with httpx: `concurrency` workers, each with its own transport and keep-alive connection (target_calls.py
says why), take the next (sample, epoch) when they are free, so at most `concurrency` requests are in flight.
Each attempt has a total deadline (`timeout_s`); 429, 5xx, timeouts and connection errors are retried with
exponential backoff and jitter from the injected RNG, waiting at least what `Retry-After` asks (up to a cap).
An item whose calls all failed, or whose answer cannot be read, is recorded as **errored** with the reason; it is
never scored as if it had an output.

Resumable: `done` holds the (sample id, epoch) pairs already recorded; `on_result` (sync or async) is awaited for
each result before the item counts, one call at a time, and a cancellation waits for a callback already running.
A run killed midway and started again with the recorded pairs as `done` records every item exactly once, provided
`on_result` records atomically (the integrator: one short transaction per call, no network inside it).

Secrets: the target's credential is resolved once when the run starts and lives only in request headers; reasons
and outputs have it masked, and a failure to resolve it names the reference, never a value.
"""

from __future__ import annotations

import asyncio
import inspect
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

import httpx

from charter.evaluation.datasets import Sample
from charter.evaluation.target_calls import Caller, Clock, Outcome, TargetCheck, mask, test_target, utcnow
from charter.evaluation.targets import ChatTarget, HttpTarget, OfflineTarget, PriceTable, resolve_secret

AnyTarget = ChatTarget | HttpTarget | OfflineTarget
OnResult = Callable[["ItemResult"], Awaitable[None] | None]
Sleep = Callable[[float], Awaitable[None]]
__all__ = ["ItemResult", "RunError", "RunSettings", "RunSummary", "TargetCheck", "run_evaluation", "test_target"]


class RunError(ValueError):
    """Run settings a run cannot start with."""


@dataclass(frozen=True, slots=True)
class RunSettings:
    concurrency: int = 8
    timeout_s: float = 60.0
    max_attempts: int = 4
    backoff_base_s: float = 1.0
    backoff_max_s: float = 60.0
    max_retry_after_s: float = 120.0
    epochs: int = 1

    def __post_init__(self) -> None:
        checks = {
            "concurrency": (self.concurrency, 1, 1024),
            "timeout_s": (self.timeout_s, 0.001, 3600),
            "max_attempts": (self.max_attempts, 1, 20),
            "backoff_base_s": (self.backoff_base_s, 0, 600),
            "backoff_max_s": (self.backoff_max_s, 0, 3600),
            "max_retry_after_s": (self.max_retry_after_s, 0, 86400),
            "epochs": (self.epochs, 1, 100),
        }
        for name, (value, low, high) in checks.items():
            if not low <= value <= high:
                raise RunError(f"{name} must be between {low} and {high}, got {value}")


@dataclass(frozen=True, slots=True)
class ItemResult:
    """One (sample, epoch): its output, or status 'errored' with the reason."""

    sample_id: str
    epoch: int
    status: Literal["completed", "errored"]
    output: str | None
    error: str | None
    attempts: int
    latency_ms: float | None  # of the last attempt
    tokens_in: int | None
    tokens_out: int | None
    cost: Decimal | None
    finish_reason: str | None
    started_at: datetime
    finished_at: datetime

    @property
    def key(self) -> tuple[str, int]:
        return (self.sample_id, self.epoch)


@dataclass(frozen=True, slots=True)
class RunSummary:
    planned: int  # samples x epochs
    skipped: int  # already done when the run started
    completed: int
    errored: int
    tokens_in: int
    tokens_out: int
    cost: Decimal | None
    wall_s: float


def backoff(settings: RunSettings, attempts: int, retry_after: float | None, rng: random.Random) -> float:
    """Seconds to wait before attempt `attempts + 1`: exponential steps with "equal jitter" (never less than half
    the step), and at least what Retry-After asked."""
    step = min(settings.backoff_max_s, settings.backoff_base_s * 2.0 ** (attempts - 1))
    return max(step / 2 + rng.random() * step / 2, retry_after or 0.0)


async def _item(
    caller: Caller,
    transport: httpx.AsyncHTTPTransport,
    sample: Sample,
    epoch: int,
    settings: RunSettings,
    rng: random.Random,
    sleep: Sleep,
    prices: PriceTable | None,
) -> ItemResult:
    started_at = caller.clock()
    attempts = 0
    while True:
        attempts += 1
        outcome = await caller.attempt(transport, sample)
        if outcome.reply is not None or not outcome.retryable or attempts >= settings.max_attempts:
            break
        if outcome.retry_after is not None and outcome.retry_after > settings.max_retry_after_s:
            asked = f"the server asked to retry after {outcome.retry_after:g} s"
            too_long = f"{outcome.error}; {asked}, more than the {settings.max_retry_after_s:g} s allowed"
            outcome = Outcome(None, too_long, False, outcome.latency_ms)
            break
        await sleep(backoff(settings, attempts, outcome.retry_after, rng))
    finished_at = caller.clock()
    reply = outcome.reply
    if reply is None:
        reason = outcome.error or "no answer"
        if outcome.retryable:
            reason = f"{reason} (gave up after {attempts} attempts)"
        return _errored(
            sample, epoch, mask(reason, caller.secret), attempts, started_at, finished_at, outcome.latency_ms
        )
    model = getattr(caller.target, "model", None)
    return ItemResult(
        sample_id=sample.id,
        epoch=epoch,
        status="completed",
        output=mask(reply.output, caller.secret),
        error=None,
        attempts=attempts,
        latency_ms=outcome.latency_ms,
        tokens_in=reply.tokens_in,
        tokens_out=reply.tokens_out,
        cost=prices.cost(model, reply.tokens_in, reply.tokens_out) if prices is not None else None,
        finish_reason=reply.finish_reason,
        started_at=started_at,
        finished_at=finished_at,
    )


def _errored(
    sample: Sample,
    epoch: int,
    reason: str | None,
    attempts: int,
    started_at: datetime,
    finished_at: datetime,
    latency_ms: float | None = None,
) -> ItemResult:
    return ItemResult(
        sample_id=sample.id,
        epoch=epoch,
        status="errored",
        output=None,
        error=reason,
        attempts=attempts,
        latency_ms=latency_ms,
        tokens_in=None,
        tokens_out=None,
        cost=None,
        finish_reason=None,
        started_at=started_at,
        finished_at=finished_at,
    )


def _offline(target: OfflineTarget, sample: Sample, epoch: int, clock: Clock) -> ItemResult:
    now = clock()
    output = target.outputs.get(sample.id)
    if output is None:
        return _errored(sample, epoch, f"no uploaded output for sample {sample.id}", 0, now, now)
    return ItemResult(
        sample_id=sample.id,
        epoch=epoch,
        status="completed",
        output=output,
        error=None,
        attempts=0,
        latency_ms=None,
        tokens_in=None,
        tokens_out=None,
        cost=None,
        finish_reason=None,
        started_at=now,
        finished_at=now,
    )


class _Recorder:
    """Hands results to on_result one at a time; a callback already running is let finish on cancellation."""

    def __init__(self, on_result: OnResult):
        self.on_result = on_result
        self.lock = asyncio.Lock()
        self.completed = self.errored = self.tokens_in = self.tokens_out = 0
        self.cost: Decimal | None = None

    async def record(self, result: ItemResult) -> None:
        async with self.lock:
            returned = self.on_result(result)
            if inspect.isawaitable(returned):
                task = asyncio.ensure_future(returned)
                try:
                    await asyncio.shield(task)
                except asyncio.CancelledError:
                    await task
                    raise
        if result.status == "completed":
            self.completed += 1
        else:
            self.errored += 1
        self.tokens_in += result.tokens_in or 0
        self.tokens_out += result.tokens_out or 0
        if result.cost is not None:
            self.cost = result.cost + (self.cost or Decimal(0))


async def run_evaluation(
    target: AnyTarget,
    samples: Iterable[Sample],
    on_result: OnResult,
    *,
    done: Collection[tuple[str, int]] = (),
    settings: RunSettings | None = None,
    prices: PriceTable | None = None,
    rng: random.Random | None = None,
    environ: Mapping[str, str] | None = None,
    clock: Clock = utcnow,
    sleep: Sleep = asyncio.sleep,
    timer: Callable[[], float] = time.perf_counter,
) -> RunSummary:
    """Run every (sample, epoch) not in `done` against the target; `on_result` records each result.

    Raises TargetError before any call if the credential cannot be resolved; re-raises what on_result raises
    (after stopping the other calls); on cancellation, stops the calls in flight (their items stay undone).
    """
    settings = settings or RunSettings()
    started = timer()
    pending_done = set(done)
    listed = list(samples)
    twice = sorted(i for i, n in Counter(sample.id for sample in listed).items() if n > 1)
    if twice:
        raise RunError(f"sample ids must be unique within a run; repeated: {', '.join(twice[:5])}")
    work = [(s, e) for e in range(1, settings.epochs + 1) for s in listed if (s.id, e) not in pending_done]
    planned = len(listed) * settings.epochs
    recorder = _Recorder(on_result)
    if isinstance(target, OfflineTarget):
        for sample, epoch in work:
            await recorder.record(_offline(target, sample, epoch, clock))
    elif work:
        secret = resolve_secret(target.secret_ref, environ) if target.secret_ref else None
        caller = Caller(target, secret, settings.timeout_s, clock, timer)
        chance = rng or random.Random()
        queue = iter(work)

        async def worker() -> None:
            async with caller.transport() as transport:
                for sample, epoch in queue:
                    result = await _item(caller, transport, sample, epoch, settings, chance, sleep, prices)
                    await recorder.record(result)

        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(min(settings.concurrency, len(work))):
                    group.create_task(worker())
        except BaseExceptionGroup as group_error:
            raise group_error.exceptions[0] from None
    return RunSummary(
        planned,
        planned - len(work),
        recorder.completed,
        recorder.errored,
        recorder.tokens_in,
        recorder.tokens_out,
        recorder.cost,
        timer() - started,
    )
