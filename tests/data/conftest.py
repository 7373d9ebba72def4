"""Data fixtures: AI systems to link datasets to, and the CLI against a real HTTP server (from the release tests)."""

from __future__ import annotations

from typing import Any

import pytest

from charter.data import service
from charter.data.models import Dataset
from charter.data.schemas import DatasetCreate
from charter.inventory import service as inventory
from charter.inventory.schemas import SystemCreate
from tests.releases.conftest import cli  # noqa: F401  (the real-server CLI fixture)


def make_system(actors: Any, key: str) -> None:
    inventory.create_system(
        actors.ctx("admin"), SystemCreate(key=key, name=key.title(), deployment_type="in_house_model")
    )


def register(
    actors: Any, name: str = "raw", namespace: str = "s3://acme-lake", role: str = "engineer", **more: Any
) -> Dataset:
    body = {
        "namespace": namespace,
        "name": name,
        "legal_basis": "contract",
        "classification": "confidential",
        "purpose": "support tickets for the chatbot",
        **more,
    }
    return service.register_dataset(actors.ctx(role), DatasetCreate.model_validate(body))


@pytest.fixture
def systems(actors: Any) -> None:
    for key in ("support-chatbot", "churn-model"):
        make_system(actors, key)
