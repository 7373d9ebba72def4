"""Helpers for the incident tests: a production system, opening incidents, a two-level escalation policy."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from click.testing import Result
from sqlalchemy import select
from typer.testing import CliRunner

from charter.access.schemas import TokenCreate
from charter.access.service import issue_token
from charter.incidents import escalation, service
from charter.incidents.models import Incident
from charter.incidents.schemas import IncidentCreate
from charter.inventory import service as inventory
from charter.inventory.schemas import SystemCreate, Transition
from charter.ledger.models import LedgerEntry
from tests.conftest import AppTransport
from tests.notifications.receiver import Receiver

SYSTEM = "support-bot"

# Level 1: the system owner (engineer); level 2: governance; CRITICAL 15 min, HIGH 1 h; no repeat.
TWO_LEVELS: dict[str, Any] = {
    "key": "two-levels",
    "name": "Owner, then governance",
    "systems": [SYSTEM],
    "ack_timeouts": {"CRITICAL": "15m", "HIGH": "1h", "MEDIUM": "4h", "LOW": None},
    "repeat": 0,
    "levels": [{"notify": [{"system_owner": True}]}, {"notify": [{"role": "governance"}]}],
}


def make_system(actors: Any, key: str = SYSTEM, stage: str = "production", tier: str = "high") -> Any:
    ctx = actors.ctx("admin")
    system = inventory.create_system(
        ctx,
        SystemCreate(
            key=key,
            name=key.replace("-", " ").title(),
            deployment_type="in_house_model",
            owner="engineer",
            risk_tier=tier,
            risk_tier_reason="Annex III use" if tier != "unclassified" else "",
        ),
    )
    for step in ("sandbox", "pilot", "production"):
        if system.stage == stage:
            break
        inventory.transition_system(ctx, key, Transition(to=step, version=system.version))
    return system


@pytest.fixture
def system(actors: Any) -> Any:
    return make_system(actors)


@pytest.fixture
def policy(actors: Any, system: Any) -> dict[str, Any]:
    return escalation.install_policy(actors.ctx("admin"), TWO_LEVELS)


@pytest.fixture
def open_incident(actors: Any, system: Any) -> Any:
    """open_incident(severity='CRITICAL', role='engineer', **fields) -> Incident (service layer, not committed)."""

    def make(severity: str = "CRITICAL", role: str = "engineer", **fields: Any) -> Incident:
        body = {"title": "Model generating harmful content", "system": system.key, "severity": severity, **fields}
        return service.open_incident(actors.ctx(role), IncidentCreate(**body))

    return make


def ledger(session: Any, key: str) -> list[LedgerEntry]:
    return list(
        session.scalars(
            select(LedgerEntry)
            .where(LedgerEntry.entity_type == "incident", LedgerEntry.entity_id == key)
            .order_by(LedgerEntry.seq)
        )
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    try:
        yield r
    finally:
        r.stop()


@dataclass
class Cli:
    actors: Any
    session: Any
    monkeypatch: pytest.MonkeyPatch
    runner: CliRunner
    tokens: dict[str, str]

    def __call__(self, username: str, *args: str) -> Result:
        from charter.cli.main import app

        if username not in self.tokens:
            _, clear = issue_token(
                self.actors.ctx("admin"), TokenCreate(name=f"cli-{username}", username=username), kind="personal"
            )
            self.session.commit()
            self.tokens[username] = clear
        self.monkeypatch.setenv("CHARTER_TOKEN", self.tokens[username])
        return self.runner.invoke(app, list(args))


@pytest.fixture
def cli(app: Any, actors: Any, session: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Cli:
    """`cli('engineer', 'incident', 'list')`: the real CLI over its HTTP client, against the in-process app."""
    from charter import client as client_module

    transport = AppTransport(app)
    original = client_module.Client.__init__

    def init(self: Any, url: str | None = None, token: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("transport", transport)
        original(self, url or "http://testserver", token, **kwargs)

    monkeypatch.setattr(client_module.Client, "__init__", init)
    monkeypatch.setenv("CHARTER_CONFIG_DIR", str(tmp_path / "cli-config"))
    return Cli(actors, session, monkeypatch, CliRunner(), {})
