"""The monitoring sweep (registered with charter.sweeps): rule evaluation for every monitored system
(for-durations, sliding windows, no-data), post-deployment windows, retention compaction."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import select

from charter.context import Ctx
from charter.inventory.models import AISystem
from charter.monitoring.alerts.evaluate import evaluate_system
from charter.monitoring.metrics.retention import compact
from charter.monitoring.models import MonitorState
from charter.monitoring.postdeploy import advance_watches
from charter.sweeps import register_sweep, sweep_lock


def sweep(ctx: Ctx) -> dict[str, Any]:
    """One round. Runs as the system principal in its own transaction (charter.sweeps.run_all)."""
    started = time.perf_counter()
    if not sweep_lock(ctx.session, "monitoring"):
        return {"skipped": "another process is sweeping"}
    systems = ctx.session.execute(
        select(AISystem).join(MonitorState, MonitorState.system_id == AISystem.id).order_by(AISystem.id)
    ).scalars()
    changes = []
    for system in list(systems):
        changes.extend(evaluate_system(ctx, system))
    result = {
        "alert_changes": [f"{c.system_key}/{c.rule_key}: {c.old_state or 'new'} -> {c.new_state}" for c in changes],
        "post_deploy": advance_watches(ctx),
        "compacted": compact(ctx),
    }
    return {**result, "seconds": round(time.perf_counter() - started, 4)}


def _register() -> None:
    register_sweep("monitoring", sweep)


_register()
