"""Fixtures for the evaluation service, API and CLI tests: a system, a real chat-completions server, datasets."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from charter.evaluation import runs, service
from charter.evaluation.execute import Runner
from charter.evaluation.schemas import DatasetImport, RunCreate, TargetCreate
from charter.inventory.models import AISystem
from tests.evaluation.chat_server import ChatServer
from tests.releases.conftest import cli  # noqa: F401  (the CLI against a real server)

KEY = "sk-eval-test"
SYSTEM = "support-bot"


def answers(n: int, wrong: set[int] = frozenset()) -> dict[str, str]:  # type: ignore[assignment]
    return {f"question {i}?": (f"wrong {i}" if i in wrong else f"answer {i}") for i in range(n)}


def jsonl(n: int) -> str:
    import json

    return "".join(
        json.dumps(
            {
                "id": f"q{i}",
                "input": f"question {i}?",
                "expected": f"answer {i}",
                "reference": f"the expert's answer {i}",
            }
        )
        + "\n"
        for i in range(n)
    )


@pytest.fixture
def chat() -> Iterator[ChatServer]:
    with ChatServer(answers(25, wrong={3, 7}), api_key=KEY) as s:
        yield s


@pytest.fixture
def system(actors: Any) -> AISystem:
    from charter.inventory.schemas import SystemCreate
    from charter.inventory.service import create_system

    return create_system(
        actors.ctx("engineer"), SystemCreate(key=SYSTEM, name="Support bot", deployment_type="embedded")
    )


@pytest.fixture
def eval_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVAL_TEST_KEY", KEY)


@pytest.fixture
def runner(actors: Any, session_factory: Any, eval_env: None) -> Runner:
    return Runner(session_factory, actors.principal("engineer"), actors.clock, actors.settings)


def setup_run(actors: Any, chat: ChatServer, n: int = 25, **run: Any) -> int:
    ctx = actors.ctx("engineer")
    service.import_dataset(ctx, DatasetImport(system=SYSTEM, name="faq", format="jsonl", content=jsonl(n)))
    service.add_target(
        ctx,
        TargetCreate(
            name="bot",
            config={"kind": "openai_chat", "base_url": chat.base_url, "model": "m", "api_key": "env:EVAL_TEST_KEY"},
        ),
    )
    created = runs.create_run(ctx, RunCreate(system=SYSTEM, dataset="faq", target="bot", **run))
    actors.session.commit()
    return created.id
