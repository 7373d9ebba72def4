"""docs/tour-data.md, executed: every `$ charter ...` line through the real CLI against a real server (the runner of
tests/releases/test_tour.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from charter.ledger.models import LedgerEntry
from tests.releases.test_tour import Walk, parse

TOUR = Path(__file__).resolve().parents[2] / "docs" / "tour-data.md"


@pytest.fixture
def people(actors: Any) -> None:
    actors.add_user("ada", "engineer")
    actors.add_user("grace", "governance")


def test_the_data_tour_runs_as_written(
    cli: Any, clock: Any, people: None, actors: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    steps = parse(TOUR.read_text())
    assert sum(1 for s in steps if s.kind == "run") >= 20
    walk = Walk(cli, clock)
    for step in steps:
        if step.kind == "as":
            walk.who = step.text
        elif step.kind == "wait":
            clock.advance(days=int(step.text))
        else:
            walk.run(step)

    # The ledger tells the dataset's story, and no guard record holds the e-mail address.
    actions = [
        a
        for (a,) in actors.session.execute(
            select(LedgerEntry.action).where(LedgerEntry.entity_type == "dataset").order_by(LedgerEntry.seq)
        )
    ]
    assert actions == ["dataset.registered", "dataset.expired", "dataset.deleted"]
    guards = actors.session.execute(select(LedgerEntry.after).where(LedgerEntry.action == "pii.guard")).scalars().all()
    assert len(guards) == 2  # pseudonymised, blocked; the unknown vendor left no record
    assert all("jane.doe" not in json.dumps(g) and "536-22" not in json.dumps(g) for g in guards)
