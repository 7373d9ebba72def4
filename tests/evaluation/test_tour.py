"""docs/tour-evaluation.md, executed: every `$ charter ...` line through the real CLI against a real server, with a
real local OpenAI-compatible endpoint answering the tour's tasks.

The console blocks use the subset tests/releases/test_tour.py interprets (`# as NAME`, `# wait N days`,
`VAR=$(charter ... --json | jq -r .field)`, `printf 'text' > file`, `# exit N`, output lines with `…`), plus
`cat > FILE <<'EOF'` ... `EOF` (write a file) and `# the model behind the endpoint regresses`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from charter.ledger.models import LedgerEntry
from charter.monitoring.models import Alert
from tests.evaluation.chat_server import ChatServer
from tests.releases.test_tour import Walk

TOUR = Path(__file__).resolve().parents[2] / "docs" / "tour-evaluation.md"
PEOPLE = {"ada": "engineer", "grace": "governance", "alan": "approver", "linus": "engineer", "barbara": "approver"}
WRONG_AT_FIRST = {"t04", "t17"}
WRONG_AFTER_REGRESSION = WRONG_AT_FIRST | {"t02", "t05", "t08", "t11", "t14", "t20", "t23", "t25"}


@dataclass
class Step:
    kind: str  # as | wait | regress | file | run
    text: str
    expect_exit: int = 0
    output: list[str] = field(default_factory=list)
    body: list[str] = field(default_factory=list)


def parse(markdown: str) -> list[Step]:
    steps: list[Step] = []
    for block in re.findall(r"```console\n(.*?)```", markdown, flags=re.S):
        writing: Step | None = None
        for line in block.splitlines():
            if writing is not None:
                if line == "EOF":
                    writing = None
                else:
                    writing.body.append(line)
            elif m := re.fullmatch(r"\$ cat > (\S+) <<'EOF'", line):
                writing = Step("file", m.group(1))
                steps.append(writing)
            elif m := re.fullmatch(r"# as (\w+)", line.strip()):
                steps.append(Step("as", m.group(1)))
            elif m := re.fullmatch(r"# wait (\d+) days?", line.strip()):
                steps.append(Step("wait", m.group(1)))
            elif line.strip() == "# the model behind the endpoint regresses":
                steps.append(Step("regress", ""))
            elif line.startswith("$ "):
                command, code = line[2:], 0
                if m := re.search(r"\s+# exit (\d+)$", command):
                    command, code = command[: m.start()], int(m.group(1))
                steps.append(Step("run", command, code))
            elif line.strip() and steps and steps[-1].kind == "run":
                steps[-1].output.append(line)
    return steps


class Model:
    """What the endpoint answers: the task's expected answer, except for the tasks it gets wrong."""

    def __init__(self, tasks: Path) -> None:
        self.tasks, self.wrong = tasks, set(WRONG_AT_FIRST)

    def __call__(self, prompt: str) -> str:
        if not self.tasks.exists():
            return "OK"
        for line in self.tasks.read_text().splitlines():
            task = json.loads(line)
            if task["input"] == prompt:
                return "I am not sure, please ask support." if task["id"] in self.wrong else task["expected"]
        return "OK"


@pytest.fixture
def endpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ChatServer, Model]]:
    model = Model(tmp_path / "tasks.jsonl")
    monkeypatch.setenv("SUPPORT_BOT_KEY", "sk-support-bot")
    with ChatServer(model, api_key="sk-support-bot") as server:
        yield server, model


def test_the_evaluation_tour_runs_as_written(
    cli: Any, clock: Any, actors: Any, endpoint: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    server, model = endpoint
    for name, role in PEOPLE.items():
        actors.add_user(name, role)
    steps = parse(TOUR.read_text())
    assert sum(1 for s in steps if s.kind == "run") >= 25
    walk = Walk(cli, clock, env={"ENDPOINT": server.base_url})
    for step in steps:
        if step.kind == "as":
            walk.who = step.text
        elif step.kind == "wait":
            clock.advance(days=int(step.text))
        elif step.kind == "regress":
            model.wrong = set(WRONG_AFTER_REGRESSION)
        elif step.kind == "file":
            Path(step.text).write_text("\n".join(step.body) + "\n")
        else:
            walk.run(step)  # type: ignore[arg-type]
    print("\n".join(walk.log))

    # The report the tour shows is the contract's JSON too.
    report = json.loads(walk.charter(f"charter eval benchmark report {walk.env['BENCH']} --json"))
    assert set(report["majority"]) >= {"win", "tie", "loss", "win_or_tie_rate", "win_or_tie_wilson95"}
    assert report["ratings"] == 75 and report["raters"] == 3 and report["tasks"] == 25
    assert report["majority"]["loss"] == 2  # t04 and t17, the answers the endpoint got wrong
    # The drop fired the schedule's alert, through monitoring, and every step is in the ledger.
    alert = actors.session.execute(select(Alert).where(Alert.rule_key == "eval-regression-nightly")).scalar_one()
    assert alert.state == "firing" and alert.severity == "critical"
    actions = set(actors.session.execute(select(LedgerEntry.action)).scalars())
    assert {
        "eval_dataset.version",
        "eval_run.completed",
        "eval_benchmark.rate",
        "eval_benchmark.import",
        "eval_judge.calibrate",
        "eval_schedule.judged",
        "alert.firing",
    } <= actions
