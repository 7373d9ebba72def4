"""The evaluation sweep (charter.sweeps): hands the worker a tick — run the due continuous-validation schedules
and resume runs whose runner died. The sweep's own transaction only reads; every call to a target happens in the
worker's thread, between short transactions of its own (execute.py)."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy.orm import sessionmaker

from charter.context import Ctx
from charter.evaluation.execute import Runner, Worker
from charter.kit.principal import SYSTEM
from charter.sweeps import register_sweep

_workers: dict[int, Worker] = {}
_lock = threading.Lock()


def worker_for(ctx: Ctx) -> Worker:
    bind = ctx.session.get_bind()
    with _lock:
        worker = _workers.get(id(bind))
        if worker is None:
            factory = sessionmaker(bind=bind, expire_on_commit=False)
            worker = Worker(Runner(factory, SYSTEM, ctx.clock, ctx.settings))
            _workers[id(bind)] = worker
        return worker


def sweep(ctx: Ctx) -> dict[str, Any]:
    return {"worker_started": worker_for(ctx).tick()}


register_sweep("evaluation", sweep)
