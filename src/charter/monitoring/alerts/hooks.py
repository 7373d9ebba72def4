"""Subscribe to alert state changes. The incidents module opens incidents from firing alerts this way:

    from charter.monitoring.alerts.hooks import AlertChange, on_alert_change

    @on_alert_change
    def open_incident(ctx: Ctx, change: AlertChange) -> None:
        if change.new_state == "firing" and change.severity == "critical":
            ...

A hook runs inside the transaction that changed the alert (it commits with it), after the ledger entry,
inside a savepoint: a hook that raises is logged and rolled back alone; the alert change still stands.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from charter.context import Ctx
from charter.kit.registry import DOMAINS, load

log = logging.getLogger("charter.monitoring")


@dataclass(frozen=True)
class AlertChange:
    alert_id: int
    system_id: int
    system_key: str
    rule_key: str
    severity: str
    labels: dict[str, str]
    old_state: str | None  # None: the alert is new
    new_state: str  # pending | firing | resolved
    value: float | None
    summary: str
    at: datetime


AlertHook = Callable[["Ctx", AlertChange], None]
_hooks: list[AlertHook] = []


def on_alert_change(fn: AlertHook) -> AlertHook:
    """Register `fn(ctx, change)` for every alert state change (usable as a decorator). Idempotent."""
    if fn not in _hooks:
        _hooks.append(fn)
    return fn


def remove_alert_hook(fn: AlertHook) -> None:
    if fn in _hooks:
        _hooks.remove(fn)


_discovered = False


def discover() -> None:
    """Import every other domain's `charter.<domain>.alerts` module: subscribers register on import, so
    whether a firing alert opens an incident never depends on which modules happened to be imported."""
    global _discovered
    if _discovered:
        return

    for domain in DOMAINS:
        if domain != "monitoring":
            load(domain, "alerts")
    _discovered = True


def emit(ctx: Ctx, change: AlertChange) -> None:
    discover()
    for fn in list(_hooks):
        try:
            with ctx.session.begin_nested():
                fn(ctx, change)
        except Exception:  # a subscriber's failure must not undo the alert change or stop the others
            log.exception("alert hook %s failed for alert %s", getattr(fn, "__qualname__", fn), change.alert_id)
