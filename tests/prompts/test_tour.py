"""docs/tour-prompts.md, executed: every `$ charter ...` line through the real CLI against a real server, and the
tour's application (`$ python app.py`) through the SDK against the same server.

The tour language is docs/tour-release.md's (tests/releases/test_tour.py interprets it), plus `$ python app.py`:
run the `python` block written above it, with the current person's URL and token in the environment.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.releases.conftest import cli  # noqa: F401  (the CLI against a real HTTP server)
from tests.releases.test_tour import PEOPLE, Step, Walk, parse

TOUR = Path(__file__).resolve().parents[2] / "docs" / "tour-prompts.md"


@pytest.fixture
def people(actors: Any) -> None:
    for name, role in PEOPLE.items():
        actors.add_user(name, role)


class PromptWalk(Walk):
    app: str = ""

    def application(self, step: Step, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("CHARTER_URL", self.cli.url)
        monkeypatch.setenv("CHARTER_TOKEN", self.cli.token(self.who))
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(self.app, "app.py", "exec"), {"__name__": "__main__"})
        self.cli.quiet()
        text = out.getvalue()
        self.log.append(f"[{self.who}] $ python app.py\n{text}")
        for expected in step.output:
            assert expected in text.splitlines(), f"python app.py: expected {expected!r} in:\n{text}"


def test_the_prompt_tour_runs_as_written(cli, clock, people, actors, tmp_path, monkeypatch) -> None:  # noqa: F811
    monkeypatch.chdir(tmp_path)
    markdown = TOUR.read_text()
    apps = re.findall(r"```python\n(.*?)```", markdown, flags=re.S)
    assert len(apps) == 1
    steps = parse(markdown)
    assert sum(1 for s in steps if s.kind == "run") > 30
    walk = PromptWalk(cli, clock)
    walk.app = apps[0]
    for step in steps:
        if step.kind == "as":
            walk.who = step.text
        elif step.text == "python app.py":
            walk.application(step, monkeypatch)
        else:
            walk.run(step)

    # The label history, as JSON: every move with its release, gate evaluation and approvals.
    history = json.loads(walk.charter("charter prompt history support-chatbot greeting --json"))
    assert [(h["label"], h["kind"], h["from_version"], h["to_version"], h["release"]) for h in history] == [
        ("production", "rollback", 2, 1, 1),
        ("production", "release", 1, 2, 2),
        ("production", "release", None, 1, 1),
        ("staging", "direct", None, 2, None),
    ]
    assert all(h["gate_evaluation_id"] for h in history[1:3]) and history[0]["gate_evaluation_id"] is None
    assert [a["user"] for a in history[1]["approvals"]] == ["alan", "grace"]

    # The refused direct move stored nothing; every move is in the ledger.
    from sqlalchemy import select

    from charter.ledger.models import LedgerEntry

    moves = actors.session.execute(
        select(LedgerEntry.action)
        .where(LedgerEntry.entity_id == "support-chatbot/greeting", LedgerEntry.action.like("prompt.label.%"))
        .order_by(LedgerEntry.seq)
    ).scalars()
    assert list(moves) == [
        "prompt.label.direct",
        "prompt.label.release",
        "prompt.label.release",
        "prompt.label.rollback",
    ]
