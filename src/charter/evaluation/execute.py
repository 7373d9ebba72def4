"""Running an evaluation: claim (short transaction) -> call the target (no transaction) -> record each item (a short
transaction of its own) -> finish (short transaction). Used by the API (in the server process), the sweeper
(schedules, and runs whose runner died) and the tests.

A run killed midway keeps every item already recorded; `execute` on it again (after its lease ran out, or at once
after a failure) calls the target only for the items still missing.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from charter.context import Ctx
from charter.evaluation import rules
from charter.evaluation.models import EvalRun
from charter.evaluation.runner import ItemResult, RunError, run_evaluation
from charter.evaluation.runs import Plan, claim, finish, record_item
from charter.evaluation.schedules import judge_run, queue_due
from charter.evaluation.targets import TargetError
from charter.kit.clock import Clock
from charter.kit.principal import Principal
from charter.kit.settings import Settings

log = logging.getLogger("charter.evaluation")


class Runner:
    """Everything a run needs besides its id: where to store, as whom, which clock, whose environment."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        principal: Principal,
        clock: Clock,
        settings: Settings,
        *,
        environ: Mapping[str, str] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.factory, self.principal, self.clock, self.settings = factory, principal, clock, settings
        self.environ, self.rng = environ, rng

    def _ctx(self, session: Session) -> Ctx:
        return Ctx(session=session, principal=self.principal, clock=self.clock, settings=self.settings)

    def claim(self, run_id: int) -> Plan:
        with self.factory() as session:
            plan = claim(self._ctx(session), run_id)
            session.commit()
        return plan

    def record(self, plan: Plan, result: ItemResult) -> None:
        with self.factory() as session:
            record_item(session, plan, result, timedelta(seconds=rules.LEASE_SECONDS))
            session.commit()

    def finish(self, run_id: int, error: str | None) -> EvalRun:
        with self.factory() as session:
            run = finish(self._ctx(session), run_id, error)
            session.commit()
        return run

    async def execute(self, run_id: int) -> EvalRun:
        """Claim, run every missing item, finish. A credential that cannot be resolved, or bad run settings, end
        the run as failed with the reason (resumable once fixed)."""
        plan = self.claim(run_id)
        error: str | None = None
        try:
            await run_evaluation(
                plan.target,
                plan.samples,
                lambda result: self.record(plan, result),
                done=plan.done,
                settings=plan.settings,
                rng=self.rng,
                environ=self.environ,
                clock=self.clock.now,
            )
        except (TargetError, RunError) as exc:
            error = str(exc)
        return self.finish(run_id, error)

    def execute_sync(self, run_id: int) -> EvalRun:
        """Run to the end from synchronous code; from a thread whose event loop is running (a caller that is
        itself async, or a test session that keeps one), in a thread of its own."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.execute(run_id))
        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(asyncio.run, self.execute(run_id)).result()

    async def run_due(self) -> list[dict[str, Any]]:
        """One round of continuous validation: queue the due schedules' runs, run each, judge each."""
        with self.factory() as session:
            queued = queue_due(self._ctx(session))
            session.commit()
        verdicts = []
        for run_id in queued:
            await self.execute(run_id)
            with self.factory() as session:
                verdict = judge_run(self._ctx(session), run_id)
                session.commit()
            verdicts.append(verdict or {"run": run_id, "dropped": None, "reason": "the run did not complete"})
        return verdicts

    async def resume_stale(self) -> list[int]:
        """Resume every run whose runner stopped being heard from (its lease ran out): a killed server's runs."""
        with self.factory() as session:
            now = self.clock.now()
            stale = list(
                session.execute(
                    select(EvalRun.id).where(EvalRun.status == "running", EvalRun.lease_until < now)
                ).scalars()
            )
        for run_id in stale:
            await self.execute(run_id)
            with self.factory() as session:
                judge_run(self._ctx(session), run_id)
                session.commit()
        return stale


class Worker:
    """The sweeper's evaluation worker: one thread with its own event loop; each tick runs the due schedules
    and resumes stale runs, never inside the sweeper's transaction."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self._busy = threading.Lock()

    def tick(self) -> bool:
        """Start a round in the background unless one is running; True when started."""
        if not self._busy.acquire(blocking=False):
            return False
        threading.Thread(target=self._round, name="charter-eval-worker", daemon=True).start()
        return True

    def _round(self) -> None:
        try:
            asyncio.run(self._both())
        except Exception:  # a bug must not kill the sweeper; the runs stay resumable
            log.exception("evaluation worker round failed")
        finally:
            self._busy.release()

    async def _both(self) -> None:
        await self.runner.resume_stale()
        await self.runner.run_due()
