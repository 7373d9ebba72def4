"""Policy tests share the release fixtures (a system, release helpers, the CLI against a server)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from charter.kit.cache import clear_all
from charter.policy.facts import FactsRequest, register_facts_provider, unregister_facts_provider
from tests.releases.conftest import cli, system  # noqa: F401  (fixtures)


@pytest.fixture
def counted_facts() -> Iterator[list[str]]:
    """A cacheable facts provider 'counter' ({checks: int}); the list holds the stage of each computation."""
    clear_all()
    calls: list[str] = []

    def counting(request: FactsRequest) -> dict[str, Any]:
        calls.append(request.stage)
        return {"checks": len(calls)}

    register_facts_provider("counter", counting, {"checks": "int"}, cacheable=True)
    try:
        yield calls
    finally:
        unregister_facts_provider("counter")
        clear_all()
