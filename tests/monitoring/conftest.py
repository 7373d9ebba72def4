"""Helpers for the monitoring tests: a registered system, pushing points through the service, reading the ledger."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from charter.inventory import service as inventory
from charter.inventory.models import AISystem
from charter.inventory.schemas import SystemCreate
from charter.ledger.models import LedgerEntry
from charter.monitoring.metrics import service as ingest
from charter.monitoring.schemas import BatchResult

# Seed 002's example reading of a healthy system.
SEED_HEALTHY = {
    "accuracy": 0.92,
    "latency_ms": 250,
    "throughput_qps": 100,
    "error_rate": 0.02,
    "bias_score": 0.15,
    "hallucination_rate": 0.05,
    "user_satisfaction": 4.2,
}

_batch_ids = itertools.count(1)


def points(values: dict[str, float], ts: datetime | None = None, **labels: str) -> list[dict[str, Any]]:
    return [
        {"name": name, "value": value, **({"ts": ts.isoformat()} if ts else {}), "labels": dict(labels)}
        for name, value in values.items()
    ]


@pytest.fixture
def system(actors) -> AISystem:  # type: ignore[no-untyped-def]
    created = inventory.create_system(
        actors.ctx("admin"),
        SystemCreate(key="support-bot", name="Support bot", deployment_type="in_house_model"),
    )
    actors.session.flush()
    return created


@pytest.fixture
def push(actors, system):  # type: ignore[no-untyped-def]
    """push({'accuracy': 0.8}, role='engineer', batch_id=None, ts=None, **labels) -> BatchResult."""

    def send(
        values: dict[str, float] | list[dict[str, Any]],
        *,
        role: str = "engineer",
        batch_id: str | None = None,
        ts: datetime | None = None,
        key: str = "support-bot",
        **labels: str,
    ) -> BatchResult:
        pts = values if isinstance(values, list) else points(values, ts, **labels)
        body = {"batch_id": batch_id or f"b-{next(_batch_ids)}", "points": pts}
        return ingest.ingest(actors.ctx(role), key, body)

    return send


def ledger_actions(session, prefix: str) -> list[str]:  # type: ignore[no-untyped-def]
    return list(
        session.execute(
            select(LedgerEntry.action).where(LedgerEntry.action.like(f"{prefix}%")).order_by(LedgerEntry.seq)
        ).scalars()
    )


def count(session, model) -> int:  # type: ignore[no-untyped-def]
    return int(session.execute(select(func.count()).select_from(model)).scalar_one())
