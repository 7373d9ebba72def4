"""Helpers for the feedback tests: a production system, a queue, interactions."""

from __future__ import annotations

from typing import Any

import pytest

from tests.incidents.conftest import make_system

SYSTEM = "support-bot"


def interactions(n: int, start: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "interactions": [
            {"id": f"i-{k}", "input": f"question {k}", "output": f"answer {k}", "model": "gpt-x", "prompt": "faq@3",
             "user": f"u-{k % 7}", **extra}
            for k in range(start, start + n)
        ]
    }  # fmt: skip


@pytest.fixture
def system(actors: Any) -> Any:
    return make_system(actors, SYSTEM)
