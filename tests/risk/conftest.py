"""Risk-register fixtures: a registered system, risk helpers, and the CLI against the API."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from tests.conftest import AppTransport
from typer.testing import CliRunner, Result

from charter.access.schemas import TokenCreate
from charter.access.service import issue_token
from charter.inventory import service as inventory
from charter.inventory.models import AISystem
from charter.inventory.schemas import SystemCreate
from charter.risk import service
from charter.risk.models import Risk
from charter.risk.schemas import Assess, RiskCreate

CHATBOT = "support-chatbot"


def make_system(actors: Any, key: str = CHATBOT, name: str = "Customer Support Chatbot") -> AISystem:
    return inventory.create_system(
        actors.ctx("engineer"),
        SystemCreate(key=key, name=name, deployment_type="in_house_model", description="answers customers"),
    )


@pytest.fixture
def system(actors: Any) -> AISystem:
    return make_system(actors)


@pytest.fixture
def add_risk(actors: Any, system: AISystem) -> Callable[..., Risk]:
    """add_risk('title', likelihood=4, impact=5, role='engineer', owner=None, **fields)."""

    def make(title: str = "PII Leakage", role: str = "engineer", **fields: Any) -> Risk:
        body: dict[str, Any] = {"system": system.key, "title": title, "category": "privacy", **fields}
        return service.create_risk(actors.ctx(role), RiskCreate(**body))

    return make


@pytest.fixture
def treating(actors: Any, add_risk: Callable[..., Risk]) -> Callable[..., Risk]:
    """A risk owned by the engineer, assessed inherent LxI and residual RLxRI, moved to 'treating'."""

    def make(
        title: str = "Prompt injection", li: int = 4, im: int = 4, rli: int = 2, rim: int = 4, owner: str = "engineer"
    ) -> Risk:
        risk = add_risk(title, owner=owner, likelihood=li, impact=im)
        ctx = actors.ctx("engineer")
        service.assess_risk(ctx, risk.key, Assess(version=risk.version, residual_likelihood=rli, residual_impact=rim))
        from charter.risk.schemas import Transition

        service.transition_risk(ctx, risk.key, Transition(to="treating", version=risk.version))
        return risk

    return make


# ----------------------------------------------------------------------------- CLI against the API


@dataclass
class CliAgainstApi:
    actors: Any
    session: Any
    monkeypatch: pytest.MonkeyPatch
    runner: CliRunner
    tokens: dict[str, str]

    def token(self, username: str) -> str:
        if username not in self.tokens:
            _, clear = issue_token(
                self.actors.ctx("admin"), TokenCreate(name=f"cli-{username}", username=username), kind="personal"
            )
            self.session.commit()
            self.tokens[username] = clear
        return self.tokens[username]

    def __call__(self, username: str, *args: str) -> Result:
        """Run `charter <args>` as username; the CLI's HTTP client talks to the app."""
        from charter.cli.main import app

        self.monkeypatch.setenv("CHARTER_TOKEN", self.token(username))
        return self.runner.invoke(app, list(args))


@pytest.fixture
def cli(app: Any, actors: Any, session: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> CliAgainstApi:
    """`cli('engineer', 'risk', 'list')`: the real CLI and its HTTP client (charter.client.Client) against the app.

    The client's transport is the in-process ASGI transport of Starlette's TestClient: each request runs the
    whole app (including the unit-of-work teardown) before the CLI sees the answer, so requests never overlap
    on the test's shared database connection.
    """
    from charter import client as client_module

    transport = AppTransport(app)
    original = client_module.Client.__init__

    def init(self: Any, url: str | None = None, token: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("transport", transport)
        original(self, url or "http://testserver", token, **kwargs)

    monkeypatch.setattr(client_module.Client, "__init__", init)
    monkeypatch.setenv("CHARTER_CONFIG_DIR", str(tmp_path / "cli-config"))
    return CliAgainstApi(actors, session, monkeypatch, CliRunner(), {})
