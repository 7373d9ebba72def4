"""The data sweep (registered with charter.sweeps): datasets past their retention period are flagged expired, and
vault entries past their TTL are deleted."""

from __future__ import annotations

from typing import Any

from charter.context import Ctx
from charter.data.pii_service import purge_expired
from charter.data.service import expire_due
from charter.sweeps import register_sweep, sweep_lock


def sweep(ctx: Ctx) -> dict[str, Any]:
    """One round. Runs as the system principal in its own transaction (charter.sweeps.run_all)."""
    if not sweep_lock(ctx.session, "data"):
        return {"skipped": "another process is sweeping"}
    return {"expired_datasets": expire_due(ctx), "vault_entries_purged": purge_expired(ctx)}


def _register() -> None:
    register_sweep("data", sweep)


_register()
