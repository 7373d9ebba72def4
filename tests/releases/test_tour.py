"""docs/tour-release.md, executed: every `$ charter ...` line through the real CLI against a real server.

The tour's console blocks use a small, shell-compatible subset that this test interprets:
`# as NAME` (switch person), `# wait N days` (move the clock), `$ charter ...` (run; `# exit N` at the end
expects that exit code), `$ VAR=$(charter ... --json | jq -r .field)`, `$ for X in a b; do cmd; cmd; done`,
`$ printf 'text' > file`, and output lines checked as substrings of the command's output (`…`: anything).
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

TOUR = Path(__file__).resolve().parents[2] / "docs" / "tour-release.md"
PEOPLE = {"ada": "engineer", "alan": "approver", "grace": "governance"}


@dataclass
class Step:
    kind: str  # as | wait | run
    text: str
    expect_exit: int = 0
    output: list[str] = field(default_factory=list)


def parse(markdown: str) -> list[Step]:
    steps: list[Step] = []
    for block in re.findall(r"```console\n(.*?)```", markdown, flags=re.S):
        for line in block.splitlines():
            if m := re.fullmatch(r"# as (\w+)", line.strip()):
                steps.append(Step("as", m.group(1)))
            elif m := re.fullmatch(r"# wait (\d+) days?", line.strip()):
                steps.append(Step("wait", m.group(1)))
            elif line.startswith("$ "):
                command, code = line[2:], 0
                if m := re.search(r"\s+# exit (\d+)$", command):
                    command, code = command[: m.start()], int(m.group(1))
                steps.append(Step("run", command, code))
            elif line.strip() and steps and steps[-1].kind == "run":
                steps[-1].output.append(line)
    return steps


def argv(command: str, env: dict[str, str]) -> list[str]:
    words = shlex.split(re.sub(r"\$(\w+)", lambda m: env[m.group(1)], command))
    assert words[0] == "charter", command
    args = words[1:]
    return args


@dataclass
class Walk:
    cli: Any
    clock: Any
    env: dict[str, str] = field(default_factory=dict)
    who: str = "ada"
    log: list[str] = field(default_factory=list)

    def charter(self, command: str, expect: int = 0) -> str:
        result = self.cli(self.who, *argv(command, self.env))
        self.log.append(f"[{self.who}] $ {command}\n{result.output}")
        assert result.exit_code == expect, f"{command}\nexit {result.exit_code}, expected {expect}:\n{result.output}"
        return str(result.output)

    def run(self, step: Step) -> None:
        text = step.text
        if m := re.fullmatch(r"(\w+)=\$\((charter .*) --json \| jq -r \.(\w+)\)", text):
            self.env[m.group(1)] = str(json.loads(self.charter(m.group(2) + " --json"))[m.group(3)])
            return
        if m := re.fullmatch(r"for (\w+) in (.*?); do (.*); done", text):
            var, values, body = m.groups()
            for value in values.split():
                self.env[var] = value
                for command in body.split("; "):
                    self.charter(command)
            return
        if m := re.fullmatch(r"printf '([^']*)' > (\S+)", text):
            Path(m.group(2)).write_text(m.group(1))
            return
        out = self.charter(text, step.expect_exit)
        for expected in step.output:
            expected = re.sub(r"\$(\w+)", lambda m: self.env[m.group(1)], expected)
            pattern = ".*".join(re.escape(part) for part in expected.split("…"))
            assert re.search(pattern, out), f"{text}: expected a line like\n  {expected}\nin:\n{out}"


@pytest.fixture
def people(actors: Any) -> None:
    for name, role in PEOPLE.items():
        actors.add_user(name, role)


def test_the_release_tour_runs_as_written(cli, clock, people, actors, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    steps = parse(TOUR.read_text())
    assert sum(1 for s in steps if s.kind == "run") > 40
    walk = Walk(cli, clock)
    start = clock.now()
    for step in steps:
        if step.kind == "as":
            walk.who = step.text
        elif step.kind == "wait":
            clock.advance(days=int(step.text))
        else:
            walk.run(step)

    # The history shows every production pointer move, with actor, time and reason.
    history = json.loads(walk.charter("charter release history support-chatbot --stage production --json"))
    assert [(h["kind"], h["from_version"], h["to_version"], h["actor"]) for h in history] == [
        ("promote", None, 1, "user:ada"),
        ("promote", 1, 2, "user:ada"),
        ("rollback", 2, 1, "user:ada"),
    ]
    assert history[2]["reason"] == "billing answers regressed after the retrain"
    assert history[2]["incident"] == "INC-0001"
    assert history[2]["runbook"]["started"] is True
    assert [h["at"] for h in history] == sorted(h["at"] for h in history)
    assert history[0]["at"] > start.isoformat()[:19]

    # What was in production just before release 2 went out: release 1.
    before_2 = history[1]["at"].replace("Z", "+00:00")
    from datetime import datetime, timedelta

    moment = (datetime.fromisoformat(before_2) - timedelta(seconds=1)).isoformat()
    at = json.loads(walk.charter(f"charter release deployed support-chatbot --stage production --at {moment} --json"))
    assert at["version"] == 1

    # Every move is in the ledger.
    from sqlalchemy import select

    from charter.ledger.models import LedgerEntry

    moves = actors.session.execute(
        select(LedgerEntry.action, LedgerEntry.actor)
        .where(LedgerEntry.entity_id == "support-chatbot/production")
        .order_by(LedgerEntry.seq)
    ).all()
    assert [tuple(m) for m in moves] == [
        ("deployment.promote", "user:ada"),
        ("deployment.promote", "user:ada"),
        ("deployment.rollback", "user:ada"),
    ]
