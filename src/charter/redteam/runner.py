"""Running probe suites against a target: the worker job that owns its commits.

claim → call → record, never a transaction around a call: the run is marked running in a short transaction;
attempts go to the target with no database work in flight; finished attempts are stored in batches, each in
its own short transaction; the end (summary, findings, risks, ledger) is one last transaction. A run that was
interrupted (a crash, a restart) resumes where it stopped: the attempts already stored are skipped (their ids
are content hashes of what is sent and of the run's seed, so the plan is the same every time).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import anyio
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from charter.context import Ctx
from charter.evaluation.datasets import ChatMessage, Sample
from charter.evaluation.target_calls import Caller, mask
from charter.evaluation.targets import ChatTarget, HttpTarget, TargetError, parse_target, resolve_secret
from charter.inventory.models import AISystem
from charter.kit.clock import Clock
from charter.kit.principal import SYSTEM
from charter.kit.settings import Settings
from charter.redteam.models import RedteamAttempt, RedteamRun
from charter.redteam.probing import AttemptRecord, build_detectors, observations, plan, run_attempts, summarize
from charter.redteam.service import (
    ProbeMeta,
    apply_observations,
    attempt_row,
    hitting_hashes,
    run_summary,
    store_attempts,
)
from charter.redteam.suites import SuiteSpec, content_hash, shipped_suites

log = logging.getLogger(__name__)

FLUSH_EVERY = 50
RETRIES = 3


@dataclass(frozen=True)
class RunEnv:
    session_factory: sessionmaker[Session]
    settings: Settings
    clock: Clock


class TargetFailed(RuntimeError):
    """The target answered with an error (kept as the attempt's error text, secrets masked)."""


@contextlib.contextmanager
def _unit(env: RunEnv) -> Iterator[Ctx]:
    session = env.session_factory()
    try:
        yield Ctx(session=session, principal=SYSTEM, clock=env.clock, settings=env.settings, request_id="redteam-run")
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def suites_of(config: dict[str, Any]) -> list[SuiteSpec]:
    """The suites a run was created with, by key and version, checked against their recorded content hash."""
    by_id = {(s.key, s.version): s for s in shipped_suites()}
    out = []
    for ref in config["suites"]:
        suite = by_id.get((ref["key"], ref["version"]))
        if suite is None or content_hash(suite) != ref["content_hash"]:
            raise TargetError(f"suite {ref['key']} version {ref['version']} is no longer installed as it was")
        out.append(suite)
    return out


def probe_meta(suites: Sequence[SuiteSpec]) -> dict[str, ProbeMeta]:
    return {
        s.qualified(p): ProbeMeta(p.title, p.impact, tuple(p.classification.owasp_2025), tuple(p.classification.atlas))
        for s in suites
        for p in s.probes
    }


def _start(env: RunEnv, run_id: int) -> tuple[dict[str, Any], set[str]] | None:
    with _unit(env) as ctx:
        run = ctx.session.get(RedteamRun, run_id, with_for_update=True)
        if run is None or run.status not in ("queued", "running"):
            return None
        if run.status == "queued":
            run.status = "running"
            ctx.record("redteam.run_started", "redteam_run", run.id, after=run_summary(run))
        done = set(
            ctx.session.execute(select(RedteamAttempt.dedup_key).where(RedteamAttempt.run_id == run_id)).scalars()
        )
        config = dict(run.config)
        ctx.commit()
        return config, done


def _row(run: RedteamRun, record: AttemptRecord, now: Any, secret: str | None) -> dict[str, Any]:
    a = record.attempt
    return attempt_row(
        run,
        now,
        key=a.attempt_id,
        content_hash=a.attempt_id,
        probe=a.probe,
        prompt=a.prompt,
        converters=[a.converters] if a.converters else [],
        outputs=[mask(record.output, secret)],
        scores={name: [value] for name, value in record.scores.items()},
        hit=record.hit,
        error=mask(record.error, secret),
    )


def _store(env: RunEnv, run_id: int, records: list[AttemptRecord], secret: str | None) -> None:
    with _unit(env) as ctx:
        run = ctx.session.get(RedteamRun, run_id)
        assert run is not None
        now = ctx.now()
        store_attempts(ctx, [_row(run, r, now, secret) for r in records])
        ctx.commit()


def _finish(env: RunEnv, run_id: int, suites: Sequence[SuiteSpec]) -> None:
    with _unit(env) as ctx:
        run = ctx.session.get(RedteamRun, run_id, with_for_update=True)
        assert run is not None
        rows = ctx.session.execute(
            select(RedteamAttempt.probe, RedteamAttempt.scores, RedteamAttempt.content_hash, RedteamAttempt.hit,
                   RedteamAttempt.error)
            .where(RedteamAttempt.run_id == run_id)
        ).all()  # fmt: skip
        flat = [{"probe": p, "scores": {d: v[0] for d, v in scores.items()}} for p, scores, _, _, _ in rows]
        meta = probe_meta(suites)
        classification = {probe: m.owasp_2025 for probe, m in meta.items()}
        now = ctx.now()
        run.results = [r.as_json() for r in summarize(flat, classification)]
        run.classification = {p: list(ids) for p, ids in classification.items()}
        run.attempts_total = run.attempts_new = len(rows)
        run.hits = sum(1 for r in rows if r[3])
        run.errors = sum(1 for r in rows if r[4])
        run.status = "completed"
        run.finished_at = now
        ctx.session.flush()
        ctx.record("redteam.run_completed", "redteam_run", run.id, after=run_summary(run))
        system = ctx.session.get(AISystem, run.system_id)
        assert system is not None
        observed = observations(flat, run_id=str(run.id), finished_at=now)
        apply_observations(ctx, system, run, observed, meta, hitting_hashes((r[0], r[2], r[3]) for r in rows))
        ctx.commit()


def _fail(env: RunEnv, run_id: int, message: str) -> None:
    with _unit(env) as ctx:
        run = ctx.session.get(RedteamRun, run_id, with_for_update=True)
        if run is None or run.status in ("completed", "failed"):
            return
        run.status = "failed"
        run.error = message[:2000]
        run.finished_at = ctx.now()
        ctx.session.flush()
        ctx.record("redteam.run_failed", "redteam_run", run.id, after=run_summary(run), reason=run.error)
        ctx.commit()


def _sender(caller: Caller, pool: asyncio.Queue[Any], sleep: Any = asyncio.sleep) -> Any:
    async def send(messages: list[dict[str, str]]) -> str:
        sample = Sample(id="attempt", input=tuple(ChatMessage(role=m["role"], content=m["content"]) for m in messages))
        transport = await pool.get()
        try:
            for attempt in range(RETRIES + 1):
                outcome = await caller.attempt(transport, sample)
                if outcome.reply is not None:
                    return outcome.reply.output
                if not outcome.retryable or attempt == RETRIES:
                    raise TargetFailed(mask(outcome.error, caller.secret) or "no answer")
                await sleep(min(outcome.retry_after or 0.5 * 2**attempt, 30.0))
            raise AssertionError("unreachable")
        finally:
            pool.put_nowait(transport)

    return send


async def execute(env: RunEnv, run_id: int) -> None:
    """Run (or resume) one red-team run to its end; a configuration or target failure marks it failed."""
    started = await anyio.to_thread.run_sync(_start, env, run_id)
    if started is None:
        return
    config, done = started
    try:
        suites = suites_of(config)
        planned = plan(suites, seed=config["seed"], repeats=config["repeats"], probes=config.get("probes"))
        detectors = build_detectors(suites)
        target = parse_target(config["target"])
        if not isinstance(target, ChatTarget | HttpTarget):
            raise TargetError("an offline target has no endpoint to attack; give an openai_chat or http_json target")
        secret = resolve_secret(target.secret_ref) if target.secret_ref else None
    except (TargetError, ValueError) as exc:
        await anyio.to_thread.run_sync(_fail, env, run_id, str(exc))
        return
    caller = Caller(target, secret, float(config["timeout_s"]))
    concurrency = int(config["concurrency"])
    transports = [caller.transport() for _ in range(concurrency)]
    pool: asyncio.Queue[Any] = asyncio.Queue()
    for t in transports:
        pool.put_nowait(t)
    buffer: list[AttemptRecord] = []

    async def on_record(record: AttemptRecord) -> None:
        buffer.append(record)
        if len(buffer) >= FLUSH_EVERY:
            batch = buffer[:]
            buffer.clear()
            await anyio.to_thread.run_sync(_store, env, run_id, batch, secret)

    try:
        await run_attempts(
            planned,
            _sender(caller, pool),
            detectors,
            on_record=on_record,
            done=done,
            concurrency=concurrency,
            rate_per_second=config.get("rate_per_second"),
            timeout_s=float(config["timeout_s"]) * (RETRIES + 1),
        )
        if buffer:
            await anyio.to_thread.run_sync(_store, env, run_id, buffer[:], secret)
            buffer.clear()
    finally:
        for t in transports:
            await t.aclose()
    await anyio.to_thread.run_sync(_finish, env, run_id, suites)


class Worker:
    """The server's red-team worker: one thread with its own event loop, running submitted runs one after
    another (each run has its own concurrency). Started on the first submission; a run interrupted by a
    restart is resumed with `charter redteam resume RUN` (its stored attempts are not sent again)."""

    def __init__(self, env: RunEnv) -> None:
        self.env = env
        self._loop = asyncio.new_event_loop()
        self._queue: asyncio.Queue[int] | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name="charter-redteam", daemon=True)
        self._thread.start()
        self._ready.wait(10)

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._queue = asyncio.Queue()
        self._ready.set()
        self._loop.run_until_complete(self._serve())

    async def _serve(self) -> None:
        assert self._queue is not None
        while True:
            run_id = await self._queue.get()
            try:
                await execute(self.env, run_id)
            except Exception as exc:  # a bug must not kill the worker: the run is marked failed, with the reason
                log.exception("red-team run %s failed", run_id)
                await anyio.to_thread.run_sync(_fail, self.env, run_id, f"internal error: {type(exc).__name__}: {exc}")

    def submit(self, run_id: int) -> None:
        assert self._queue is not None
        self._loop.call_soon_threadsafe(self._queue.put_nowait, run_id)


_workers_lock = threading.Lock()


def worker_for(state: Any) -> Worker:
    """The app's worker (app.state), created on first use."""
    with _workers_lock:
        worker = getattr(state, "redteam_worker", None)
        if worker is None:
            worker = Worker(RunEnv(state.session_factory, state.settings, state.clock))
            state.redteam_worker = worker
        return worker
