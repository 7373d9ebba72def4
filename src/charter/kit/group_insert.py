"""Group commit for write-once rows written on a hot path (gate evaluations).

Concurrent requests hand their row to one writer thread, which inserts everything queued so far in one
transaction (one multi-row INSERT ... RETURNING) and answers each request with its row id once the
transaction has committed. Under load, N concurrent writes cost one transaction instead of N, and on
SQLite they no longer queue for the write lock one by one. Alone, a row is written at once (no waiting
for company). See docs/decisions.md (D8).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger("charter")

_Pending = tuple[dict[str, Any], "asyncio.Future[int]", asyncio.AbstractEventLoop]


class GroupInsert:
    """Insert rows of `table` in batches from one thread; `await insert(values)` returns the new id.

    The thread starts with the first row and ends after `idle_seconds` without work. A batch that fails is
    retried row by row, so one bad row fails only its own request."""

    def __init__(
        self, factory: sessionmaker[Session], table: Table, *, max_batch: int = 256, idle_seconds: float = 30.0
    ) -> None:
        self._factory = factory
        self._table = table
        self._stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        self._max_batch = max_batch
        self._idle = idle_seconds
        self._pending: list[_Pending] = []
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self.submitted = 0  # rows handed in, rows written, transactions committed (tests and benchmarks)
        self.rows = 0
        self.batches = 0

    async def insert(self, values: dict[str, Any]) -> int:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int] = loop.create_future()
        with self._cond:
            self._pending.append((values, future, loop))
            self.submitted += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=f"insert-{self._table.name}", daemon=True)
                self._thread.start()
            self._cond.notify()
        return await future

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending:
                    if not self._cond.wait(timeout=self._idle) and not self._pending:
                        self._thread = None
                        return
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
            try:
                self._write(batch)
            except Exception as exc:  # never leave a caller waiting
                log.exception("writing a batch into %s failed", self._table.name)
                self._deliver(batch, [exc] * len(batch))

    def _write(self, batch: list[_Pending]) -> None:
        try:
            ids: list[int | BaseException] = list(self._insert([values for values, _f, _l in batch]))
        except Exception as exc:
            if len(batch) == 1:
                ids = [exc]
            else:
                log.warning("batch insert into %s failed (%s); retrying row by row", self._table.name, exc)
                ids = []
                for values, _future, _loop in batch:
                    try:
                        ids.extend(self._insert([values]))
                    except Exception as row_exc:
                        ids.append(row_exc)
        self._deliver(batch, ids)

    @staticmethod
    def _deliver(batch: list[_Pending], outcomes: list[int | BaseException]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[int], int | BaseException]]] = {}
        for (_values, future, loop), outcome in zip(batch, outcomes, strict=True):
            by_loop.setdefault(loop, []).append((future, outcome))
        for loop, settled in by_loop.items():
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
                loop.call_soon_threadsafe(_settle, settled)

    def _insert(self, rows: list[dict[str, Any]]) -> list[int]:
        with self._factory() as session:
            ids = [int(row[0]) for row in session.execute(self._stmt, rows)]
            session.commit()
        self.batches += 1
        self.rows += len(rows)
        return ids


def _settle(settled: list[tuple[asyncio.Future[int], int | BaseException]]) -> None:
    for future, outcome in settled:
        if future.done():  # the request was cancelled (client gone); the row is stored all the same
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)
