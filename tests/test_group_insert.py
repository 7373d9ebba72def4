"""Group commit (charter.kit.group_insert): concurrent rows share transactions; a bad row fails alone."""

from __future__ import annotations

import asyncio
import threading

from sqlalchemy import Column, Integer, MetaData, String, Table, select
from sqlalchemy.exc import IntegrityError

from charter.kit.group_insert import GroupInsert


def _probe_table(connection) -> Table:  # type: ignore[no-untyped-def]
    table = Table(
        "group_insert_probe",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("value", String(20), nullable=False),
    )
    table.create(connection)  # inside the test's transaction: gone after the test
    return table


def _held(inserter: GroupInsert, opened: threading.Event) -> None:
    real = inserter._factory

    def held():  # type: ignore[no-untyped-def]
        opened.wait(10)
        return real()

    inserter._factory = held  # type: ignore[assignment]


def test_rows_handed_in_together_are_written_together_each_with_its_id(session_factory, connection) -> None:
    table = _probe_table(connection)
    inserter = GroupInsert(session_factory, table, idle_seconds=1)
    opened = threading.Event()
    _held(inserter, opened)
    values = [f"row-{i}" for i in range(20)]

    async def run() -> list[int]:
        tasks = [asyncio.ensure_future(inserter.insert({"value": v})) for v in values]
        while inserter.submitted < len(values):
            await asyncio.sleep(0.01)
        opened.set()
        return await asyncio.gather(*tasks)

    ids = asyncio.run(run())
    stored = dict(connection.execute(select(table.c.id, table.c.value)).all())
    assert [stored[i] for i in ids] == values  # every caller got the id of its own row
    assert inserter.rows == 20 and inserter.batches <= 2


def test_a_row_the_database_refuses_fails_only_its_own_caller(session_factory, connection) -> None:
    table = _probe_table(connection)
    inserter = GroupInsert(session_factory, table, idle_seconds=1)
    opened = threading.Event()
    _held(inserter, opened)
    values = ["first", "second", None, "fourth"]  # value is NOT NULL

    async def run() -> list[int | BaseException]:
        tasks = [asyncio.ensure_future(inserter.insert({"value": v})) for v in values]
        while inserter.submitted < len(values):
            await asyncio.sleep(0.01)
        opened.set()
        return await asyncio.gather(*tasks, return_exceptions=True)

    outcome = asyncio.run(run())
    assert isinstance(outcome[2], IntegrityError)
    good = [outcome[0], outcome[1], outcome[3]]
    assert all(isinstance(i, int) for i in good)
    stored = dict(connection.execute(select(table.c.id, table.c.value)).all())
    assert sorted(stored.values()) == ["first", "fourth", "second"]
    assert [stored[i] for i in good] == ["first", "second", "fourth"]  # type: ignore[index]


def test_the_writer_thread_ends_when_idle_and_starts_again(session_factory, connection) -> None:
    table = _probe_table(connection)
    inserter = GroupInsert(session_factory, table, idle_seconds=0.05)
    first = asyncio.run(inserter.insert({"value": "a"}))
    thread = inserter._thread
    assert thread is not None
    thread.join(2)
    assert not thread.is_alive() and inserter._thread is None
    second = asyncio.run(inserter.insert({"value": "b"}))
    assert second != first
