"""docs/tour-feedback.md, executed: every `$ charter ...` line through the real CLI against the app."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from charter.feedback.models import Review
from charter.incidents.models import Incident
from tests.incidents.conftest import cli  # noqa: F401  (the CLI-over-the-app fixture)
from tests.releases.test_tour import Walk, parse

TOUR = Path(__file__).resolve().parents[2] / "docs" / "tour-feedback.md"
PEOPLE = {"ada": "engineer", "alan": "approver", "grace": "governance"}


@pytest.fixture
def people(actors: Any) -> None:
    for name, role in PEOPLE.items():
        actors.add_user(name, role)


def test_the_feedback_tour_runs_as_written(cli, clock, people, actors, tmp_path, monkeypatch) -> None:  # noqa: F811
    monkeypatch.chdir(tmp_path)
    steps = parse(TOUR.read_text())
    assert sum(1 for s in steps if s.kind == "run") > 25
    walk = Walk(cli, clock)
    for step in steps:
        if step.kind == "as":
            walk.who = step.text
        elif step.kind == "wait":
            clock.advance(days=int(step.text))
        else:
            walk.run(step)
    reviews = actors.session.execute(select(Review.reviewer, Review.action).order_by(Review.id)).all()
    assert [tuple(r) for r in reviews] == [("user:grace", "approve"), ("user:alan", "edit"), ("user:grace", "edit")]
    spikes = list(actors.session.scalars(select(Incident).where(Incident.source == "user_feedback")))
    assert len(spikes) == 1
