"""The compliance sweep (registered with charter.sweeps): coverage of every framework recorded once a day per
system, so coverage over time needs nobody to remember it."""

from __future__ import annotations

from typing import Any

from charter.compliance.service import record_due
from charter.context import Ctx
from charter.sweeps import register_sweep, sweep_lock


def sweep(ctx: Ctx) -> dict[str, Any]:
    """One round. Runs as the system principal in its own transaction (charter.sweeps.run_all)."""
    if not sweep_lock(ctx.session, "compliance"):
        return {"skipped": "another process is sweeping"}
    return {"coverage_recorded": record_due(ctx)}


def _register() -> None:
    register_sweep("compliance", sweep)


_register()
