"""Periodic sweeps: the work that happens because time passed (escalation timers, deadlines, deliveries).

A sweep is a function `fn(ctx) -> result` that reads its timers from the database, so a restart
loses nothing and any process can run it. Modules register sweeps with `register_sweep(name, fn)`,
usually from a `charter.<domain>.sweeps` module, which `discover()` imports.

`run_all(...)` runs every registered sweep once, each in its own transaction, as the built-in
system principal. `start_sweeper(app)` runs them every N seconds in a background thread for
`charter serve`; `charter incident sweep` runs them once (e.g. from cron).

One sweeper at a time: a sweep that must not run twice concurrently takes `sweep_lock(session, name)`
first — a transaction-scoped advisory lock on PostgreSQL; on SQLite every write transaction already
starts with BEGIN IMMEDIATE, which serialises writers.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from charter.context import Ctx
from charter.kit.clock import Clock
from charter.kit.principal import SYSTEM
from charter.kit.registry import DOMAINS, load
from charter.kit.settings import Settings

log = logging.getLogger("charter.sweeps")

SweepFn = Callable[["Ctx"], Any]
_REGISTRY: dict[str, SweepFn] = {}
_DISCOVERED = False


def register_sweep(name: str, fn: SweepFn) -> None:
    """Register (or replace) the sweep called `name`. Sweeps run in registration order."""
    _REGISTRY[name] = fn


def registered() -> dict[str, SweepFn]:
    discover()
    return dict(_REGISTRY)


def discover() -> None:
    """Import `charter.<domain>.sweeps` for every domain that has one (they register on import)."""
    global _DISCOVERED
    if _DISCOVERED:
        return

    for domain in DOMAINS:
        load(domain, "sweeps")
    _DISCOVERED = True


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for a sweep name."""
    return int.from_bytes(hashlib.sha256(f"charter.sweep:{name}".encode()).digest()[:8], "big", signed=True)


def sweep_lock(session: Session, name: str) -> bool:
    """Take the one-sweeper-at-a-time lock for `name` in the current transaction.

    PostgreSQL: pg_try_advisory_xact_lock, released at commit/rollback; False means another process
    is sweeping right now and the caller should skip this round. SQLite: the transaction's
    BEGIN IMMEDIATE already holds the database write lock, so this always succeeds.
    """
    if session.get_bind().dialect.name != "postgresql":
        return True
    got = session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": lock_key(name)}).scalar()
    return bool(got)


def run_all(
    session_factory: sessionmaker[Session],
    clock: Clock,
    settings: Settings,
    only: list[str] | None = None,
) -> dict[str, Any]:
    """Run every registered sweep once, each in its own transaction; a failing sweep is logged, not fatal."""
    results: dict[str, Any] = {}
    for name, fn in registered().items():
        if only is not None and name not in only:
            continue
        with session_factory() as session:
            ctx = Ctx(session=session, principal=SYSTEM, clock=clock, settings=settings, request_id=f"sweep:{name}")
            try:
                results[name] = fn(ctx)
                session.commit()
            except Exception as exc:  # one broken sweep must not stop the others
                session.rollback()
                log.exception("sweep %s failed", name)
                results[name] = {"error": f"{exc.__class__.__name__}: {exc}"}
    return results


@dataclass
class Sweeper:
    """A background thread that runs every registered sweep every `interval` seconds."""

    session_factory: sessionmaker[Session]
    clock: Clock
    settings: Settings
    interval: float = 30.0
    runs: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Sweeper:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="charter-sweeper", daemon=True)
            self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                run_all(self.session_factory, self.clock, self.settings)
            except Exception:  # pragma: no cover - run_all already isolates sweeps
                log.exception("sweeper round failed")
            self.runs += 1
            self._stop.wait(self.interval)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None


def start_sweeper(app: FastAPI, interval: float = 30.0) -> Sweeper:
    """Start the background sweeper for a served app (kept on app.state.sweeper; call .stop() at shutdown)."""
    existing = getattr(app.state, "sweeper", None)
    if existing is not None:
        return existing  # type: ignore[no-any-return]
    sweeper = Sweeper(
        session_factory=app.state.session_factory,
        clock=app.state.clock,
        settings=app.state.settings,
        interval=interval,
    ).start()
    app.state.sweeper = sweeper
    return sweeper
