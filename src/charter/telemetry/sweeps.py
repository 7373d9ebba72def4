"""The telemetry roll-up sweep (registered with charter.sweeps): closed buckets of spans -> monitoring metrics."""

from __future__ import annotations

from typing import Any

from charter.context import Ctx
from charter.sweeps import register_sweep, sweep_lock
from charter.telemetry.service import roll_up


def sweep(ctx: Ctx) -> dict[str, Any]:
    if not sweep_lock(ctx.session, "telemetry"):
        return {"skipped": "another process is rolling up"}
    return roll_up(ctx)


register_sweep("telemetry", sweep)
