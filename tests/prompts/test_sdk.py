"""The SDK's prompt cache against a real server (uvicorn in the fixture): a fresh entry answers without a request,
a stale one revalidates with its ETag (304), and a server that is down leaves the last known good prompt or the
given default in service."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient

from charter.access.schemas import TokenCreate
from charter.access.service import issue_token
from charter.client import Client, ClientError
from charter.prompts.cache import PromptUnavailableError
from charter.prompts.errors import MissingVariablesError
from tests.prompts.conftest import BASE, SYSTEM, create
from tests.releases.conftest import Serialised, _free_port


@dataclass
class Seen:
    """Every request that reached the server: (path, If-None-Match, status)."""

    requests: list[tuple[str, str | None, int]] = field(default_factory=list)

    def prompts(self) -> list[tuple[str | None, int]]:
        return [(etag, status) for path, etag, status in self.requests if "/prompts/" in path]


class Counting:
    def __init__(self, app: Any, seen: Seen) -> None:
        self.app = app
        self.seen = seen

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        etag = dict(scope["headers"]).get(b"if-none-match")
        status: list[int] = []

        async def capture(message: Any) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        await self.app(scope, receive, capture)
        self.seen.requests.append((scope["path"], etag.decode() if etag else None, status[0] if status else 0))


@dataclass
class Server:
    url: str
    seen: Seen
    server: uvicorn.Server
    thread: threading.Thread
    serialised: Serialised

    def quiet(self) -> None:
        assert self.serialised.idle.wait(30)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def server(app: Any, system: Any) -> Iterator[Server]:
    port = _free_port()
    seen = Seen()
    serialised = Serialised(app)
    srv = uvicorn.Server(
        uvicorn.Config(Counting(serialised, seen), host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the test server did not start"
        time.sleep(0.02)
    running = Server(f"http://127.0.0.1:{port}", seen, srv, thread, serialised)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def token(actors: Any, session: Any) -> str:
    _, clear = issue_token(
        actors.ctx("admin"), TokenCreate(name="app", username="engineer", scopes=["prompts:read"]), kind="machine"
    )
    session.commit()
    return clear


@pytest.fixture
def staged(eng: TestClient) -> None:
    create(eng, "greeting", "Hello {{ name }}!")
    create(eng, "greeting", "Hi {{ name }}, welcome to {{ product }}.")
    assert eng.put(f"{BASE}/prompts/greeting/labels/staging", json={"version": 1}).status_code == 200


def test_a_fresh_prompt_is_served_from_the_cache_without_a_request(server: Server, token: str, staged: None) -> None:
    with Client(server.url, token, prompt_ttl=60) as sdk:
        first = sdk.get_prompt(SYSTEM, "greeting", label="staging")
        server.quiet()
        assert first.name_at_version == "greeting@1" and first.label == "staging" and first.system == SYSTEM
        assert first.render(name="Ada") == "Hello Ada!"
        before = len(server.seen.requests)
        for _ in range(100):
            assert sdk.get_prompt(SYSTEM, "greeting", label="staging") is first
        assert len(server.seen.requests) == before
        assert sdk.prompt_cache().stats.hits == 100 and sdk.prompt_cache().stats.fetches == 1


def test_a_stale_prompt_is_revalidated_with_its_etag_and_follows_a_label_move(
    server: Server, token: str, staged: None, eng: TestClient
) -> None:
    with Client(server.url, token, prompt_ttl=0) as sdk:
        first = sdk.get_prompt(SYSTEM, "greeting", label="staging")
        server.quiet()
        etag = server.seen.prompts()[-1]
        assert etag == (None, 200)
        assert sdk.get_prompt(SYSTEM, "greeting", label="staging") is first  # stale: answered at once
        assert sdk.prompt_cache().wait_idle()
        server.quiet()
        sent, status = server.seen.prompts()[-1]
        assert status == 304 and sent is not None and sent.startswith('"')
        assert sdk.prompt_cache().stats.not_modified == 1
        moved = eng.put(f"{BASE}/prompts/greeting/labels/staging", json={"version": 2, "current": 1})
        assert moved.status_code == 200
        sdk.get_prompt(SYSTEM, "greeting", label="staging")
        assert sdk.prompt_cache().wait_idle()
        server.quiet()
        assert server.seen.prompts()[-1][1] == 200
        now = sdk.get_prompt(SYSTEM, "greeting", label="staging")
        assert now.name_at_version == "greeting@2"
        assert now.render(name="Ada", product="Charter") == "Hi Ada, welcome to Charter."
        with pytest.raises(MissingVariablesError, match=r"greeting@2 template: missing variable: product"):
            now.render(name="Ada")


def test_when_the_server_is_down_the_last_known_good_prompt_or_the_default_is_served(
    server: Server, token: str, staged: None
) -> None:
    with Client(server.url, token, prompt_ttl=0, prompt_retry_after=0) as sdk:
        known = sdk.get_prompt(SYSTEM, "greeting", label="staging")
        server.quiet()
        server.stop()
        assert sdk.get_prompt(SYSTEM, "greeting", label="staging") is known
        assert sdk.prompt_cache().wait_idle()
        assert sdk.prompt_cache().refresh(SYSTEM, "greeting", label="staging") is known
        stats = sdk.prompt_cache().stats
        assert stats.fallbacks >= 1 and "Charter unreachable" in (stats.last_error or "")
        fallback = sdk.get_prompt(SYSTEM, "farewell", label="production", default="Goodbye {{ name }}.")
        assert fallback.is_fallback and fallback.name_at_version == "farewell@fallback"
        assert fallback.render(name="Ada") == "Goodbye Ada."
        with pytest.raises(PromptUnavailableError, match="Charter cannot be reached"):
            sdk.get_prompt(SYSTEM, "other", label="production")


def test_a_version_never_expires_and_an_unknown_prompt_is_a_clear_error(
    server: Server, token: str, staged: None
) -> None:
    with Client(server.url, token, prompt_ttl=0) as sdk:
        pinned = sdk.get_prompt(SYSTEM, "greeting", version=2)
        server.quiet()
        count = len(server.seen.requests)
        assert sdk.get_prompt(SYSTEM, "greeting", version=2) is pinned
        assert len(server.seen.requests) == count
        with pytest.raises(ClientError, match="no prompt named 'nope'") as err:
            sdk.get_prompt(SYSTEM, "nope")
        assert err.value.status == 404
