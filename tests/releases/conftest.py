"""Release fixtures: a system, release helpers, the risk and procedure set-up a gate needs, and the CLI
against a real HTTP server."""

from __future__ import annotations

import asyncio
import hashlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn
from typer.testing import CliRunner, Result

from charter.access.schemas import TokenCreate
from charter.access.service import issue_token
from charter.inventory import service as inventory
from charter.inventory.models import AISystem
from charter.inventory.schemas import SystemCreate
from charter.releases import service
from charter.releases.models import Release
from charter.releases.schemas import ReleaseCreate

CHATBOT = "support-chatbot"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def make_system(actors: Any, key: str = CHATBOT, tier: str = "limited") -> AISystem:
    return inventory.create_system(
        actors.ctx("admin"),
        SystemCreate(
            key=key,
            name="Customer Support Chatbot",
            deployment_type="in_house_model",
            owner="engineer",
            risk_tier=tier,
            risk_tier_reason="interacts with natural persons" if tier != "unclassified" else "",
        ),
    )


@pytest.fixture
def system(actors: Any) -> AISystem:
    return make_system(actors)


def release_body(tag: str = "v1", change_type: str = "new_model", **change: Any) -> ReleaseCreate:
    return ReleaseCreate.model_validate(
        {
            "artifacts": [
                {
                    "kind": "model",
                    "name": "classifier",
                    "uri": f"s3://models/clf-{tag}.bin",
                    "sha256": sha(f"model-{tag}"),
                },
                {
                    "kind": "prompt",
                    "name": "system-prompt",
                    "uri": f"git://prompts@{tag}",
                    "sha256": sha(f"prompt-{tag}"),
                },
            ],
            "change": {"summary": f"release {tag}", "type": change_type, **change},
        }
    )


def submit(actors: Any, key: str = CHATBOT, tag: str = "v1", role: str = "engineer", **change: Any) -> Release:
    _system, release = service.submit_release(actors.ctx(role), key, release_body(tag, **change))
    return release


def approve_procedure(actors: Any, template: str, subject_type: str, subject_id: int) -> int:
    """Run a procedure to approval: every item answered not_applicable with a justification by the engineer
    (or the item's first answer role), submitted, and signed off by someone who answered fewest items."""
    from charter.procedures import service as procedures
    from charter.procedures import workflow

    run = procedures.start_run(actors.ctx("engineer"), template, subject_type, subject_id)
    read = procedures.read_run(actors.ctx("engineer"), run.id)
    answered: dict[str, int] = {}
    for section in read.sections:
        for item in section.items:
            role = item.answer_roles[0] if item.answer_roles else "engineer"
            answered[role] = answered.get(role, 0) + 1
            from sqlalchemy import select

            from charter.procedures.models import RunItem

            version = actors.session.execute(
                select(RunItem.version).where(RunItem.run_id == run.id, RunItem.item_id == item.item_id)
            ).scalar_one()
            procedures.answer_item(
                actors.ctx(role), run.id, item.item_id, "not_applicable", version=version,
                justification="covered by the pilot's scope statement",
            )  # fmt: skip
    run_read = procedures.read_run(actors.ctx("engineer"), run.id)
    workflow.submit_run(actors.ctx("engineer"), run.id, version=run_read.version)
    run_read = procedures.read_run(actors.ctx("engineer"), run.id)
    signer = next(r for r in ("governance", "approver") if r not in run_read.excluded_signers)
    workflow.signoff_run(actors.ctx(signer), run.id, "approve", version=run_read.version)
    return run.id


def critical_risk(actors: Any, key: str = CHATBOT) -> str:
    from charter.risk import service as risks
    from charter.risk.schemas import RiskCreate

    risk = risks.create_risk(
        actors.ctx("engineer"),
        RiskCreate(
            system=key, title="Harmful advice", category="safety", likelihood=5, impact=5,
            residual_likelihood=1, residual_impact=2, owner="engineer",
        ),
    )  # fmt: skip
    return risk.key


def close_risk(actors: Any, risk_key: str) -> None:
    """Treat the risk: a done mitigation, mitigated, closed."""
    from charter.risk import mitigations
    from charter.risk import service as risks
    from charter.risk.schemas import MitigationCreate, Transition

    ctx = actors.ctx("engineer")
    risk = risks.get_risk(actors.session, risk_key)
    risks.transition_risk(ctx, risk_key, Transition(to="treating", version=risk.version))
    mitigations.add_mitigation(ctx, risk_key, MitigationCreate(description="output filter", status="done"))
    risk = risks.get_risk(actors.session, risk_key)
    risks.transition_risk(ctx, risk_key, Transition(to="mitigated", version=risk.version))
    risk = risks.get_risk(actors.session, risk_key)
    risks.transition_risk(ctx, risk_key, Transition(to="closed", version=risk.version, reason="mitigated"))


# ----------------------------------------------------------------------------- CLI against a real server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Serialised:
    """ASGI wrapper: one request at a time, and an `idle` event the test thread waits for.

    The server thread and the test share one database connection (each test's transaction); a request's
    session teardown must not overlap the next request or the test's own use of the connection.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.idle = threading.Event()
        self.idle.set()
        self._lock: asyncio.Lock | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self._lock = self._lock or asyncio.Lock()
        async with self._lock:
            self.idle.clear()
            try:
                await self.app(scope, receive, send)
            finally:
                self.idle.set()


@dataclass
class Cli:
    url: str
    actors: Any
    session: Any
    monkeypatch: pytest.MonkeyPatch
    runner: CliRunner
    tokens: dict[str, str]
    server: Serialised | None = None

    def quiet(self) -> None:
        """Wait until the server has finished its last request (teardown included)."""
        if self.server is not None:
            assert self.server.idle.wait(30), "the test server did not finish its request"

    def token(self, username: str, scopes: list[str] | None = None) -> str:
        name = username if scopes is None else f"{username}:{','.join(scopes)}"
        if name not in self.tokens:
            self.quiet()
            _, clear = issue_token(
                self.actors.ctx("admin"),
                TokenCreate(name=f"cli-{len(self.tokens)}", username=username, scopes=scopes),
                kind="personal" if scopes is None else "machine",
            )
            self.session.commit()
            self.tokens[name] = clear
        return self.tokens[name]

    def __call__(self, username: str, *args: str, scopes: list[str] | None = None) -> Result:
        """Run `charter <args>` as username (or a machine token of theirs with scopes) against the server."""
        from charter.cli.main import app

        self.monkeypatch.setenv("CHARTER_URL", self.url)
        self.monkeypatch.setenv("CHARTER_TOKEN", self.token(username, scopes))
        result = self.runner.invoke(app, list(args))
        self.quiet()
        return result


@pytest.fixture
def cli(app: Any, actors: Any, session: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Iterator[Cli]:
    port = _free_port()
    serialised = Serialised(app)
    server = uvicorn.Server(
        uvicorn.Config(serialised, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    monkeypatch.setenv("CHARTER_CONFIG_DIR", str(tmp_path / "cli-config"))
    try:
        yield Cli(f"http://127.0.0.1:{port}", actors, session, monkeypatch, CliRunner(), {}, serialised)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


# ----------------------------------------------------------------------------- walking a release forward


def promote(actors: Any, version: int, stage: str, role: str = "engineer", key: str = CHATBOT) -> Any:
    from charter.releases import deploy
    from charter.releases.schemas import PromoteIn

    move, _evaluation = deploy.promote(actors.ctx(role), key, version, PromoteIn(stage=stage))
    return move


def request_and_approve(actors: Any, version: int, stage: str, roles: tuple[str, ...], key: str = CHATBOT) -> None:
    from charter.releases.schemas import DecisionIn, StageRequest

    service.request_stage(actors.ctx("engineer"), key, version, StageRequest(stage=stage))
    for role in roles:
        service.decide(actors.ctx(role), key, version, DecisionIn(stage=stage, decision="approve", comment="ok"))


def governed(actors: Any, system: AISystem) -> None:
    """The system-level facts the default gates want: an approved ethical review."""
    approve_procedure(actors, "ethical-review", "system", system.id)


def to_production(actors: Any, clock: Any, system: AISystem, version: int) -> None:
    """Walk a release sandbox → pilot → (14 days) → production on the default policies."""
    from sqlalchemy import select

    from charter.releases.models import Release

    release = actors.session.execute(
        select(Release).where(Release.system_id == system.id, Release.version == version)
    ).scalar_one()
    promote(actors, version, "sandbox")
    request_and_approve(actors, version, "pilot", ("approver",))
    promote(actors, version, "pilot")
    clock.advance(days=14)
    approve_procedure(actors, "deployment-approval", "release", release.id)
    request_and_approve(actors, version, "production", ("approver", "governance"))
    promote(actors, version, "production")
