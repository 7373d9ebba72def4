"""Prompt registry fixtures: a system with the chatbot's key, and helpers to create versions over HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from charter.inventory import service as inventory
from charter.inventory.models import AISystem
from charter.inventory.schemas import SystemCreate

SYSTEM = "support-chatbot"
BASE = f"/api/v1/systems/{SYSTEM}"


@pytest.fixture
def system(actors: Any) -> AISystem:
    made = inventory.create_system(
        actors.ctx("admin"),
        SystemCreate(
            key=SYSTEM,
            name="Customer Support Chatbot",
            deployment_type="in_house_model",
            owner="engineer",
            risk_tier="limited",
            risk_tier_reason="interacts with natural persons",
        ),
    )
    actors.session.commit()
    return made


@pytest.fixture
def eng(client_for: Any, system: AISystem) -> TestClient:
    c: TestClient = client_for("engineer")
    return c


def create(c: TestClient, name: str, template: str, **extra: Any) -> dict[str, Any]:
    r = c.post(f"{BASE}/prompts", json={"name": name, "template": template, **extra})
    assert r.status_code in (200, 201), r.text
    body: dict[str, Any] = r.json()
    return body
