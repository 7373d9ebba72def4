"""No outside I/O inside a database transaction: a webhook receiver that takes 5 s to answer must not hold
up anybody else's writes while a delivery job talks to it (claim → send → record)."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine

from charter.access.schemas import TokenCreate
from charter.access.service import bootstrap_admin, issue_token
from charter.context import Ctx
from charter.http.app import create_app
from charter.kit.clock import SystemClock
from charter.kit.db import make_session_factory
from charter.kit.principal import SYSTEM
from charter.kit.settings import Settings
from tests.releases.conftest import _free_port

SLOW = 5.0  # seconds the receiver sleeps before answering


class SlowReceiver(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        self.arrived = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                owner.arrived.set()
                time.sleep(SLOW)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                return

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/hook"


@pytest.fixture
def live(own_database: Engine, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A real server on its own database; yields (base URL, admin token)."""
    settings = Settings(env="test", data_dir=tmp_path / "data", webhook_allow="127.0.0.1")
    with make_session_factory(own_database)() as session:
        ctx = Ctx(session=session, principal=SYSTEM, clock=SystemClock(), settings=settings)
        created = bootstrap_admin(ctx, "an administrator password")
        assert created is not None
        _, token = issue_token(ctx, TokenCreate(name="test", username="admin"), kind="personal")
        ctx.commit()
    port = _free_port()
    app = create_app(settings, engine=own_database)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", token
    finally:
        server.should_exit = True
        thread.join(10)


def test_a_slow_webhook_receiver_does_not_hold_up_concurrent_writes(live: tuple[str, str]) -> None:
    url, token = live
    receiver = SlowReceiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=30) as http:
        channel = http.post(
            "/api/v1/notifications/channels",
            json={"name": "slow", "kind": "webhook", "target": receiver.url, "organisation": True},
        )
        assert channel.status_code == 201, channel.text
        assert http.post(f"/api/v1/notifications/channels/{channel.json()['id']}/test").status_code in (200, 201, 202)

        delivered: dict[str, Any] = {}

        def deliver() -> None:
            with httpx.Client(base_url=url, headers=headers, timeout=60) as own:
                delivered["report"] = own.post("/api/v1/notifications/deliver").json()

        job = threading.Thread(target=deliver)
        job.start()
        assert receiver.arrived.wait(10), "the delivery never reached the receiver"
        latencies: list[float] = []
        errors: list[str] = []

        def writer(worker: int) -> None:
            with httpx.Client(base_url=url, headers=headers, timeout=30) as own:
                for i in range(15):
                    started = time.perf_counter()
                    answer = own.post(
                        "/api/v1/systems",
                        json={
                            "key": f"sys-{worker}-{i}",
                            "name": f"System {worker}/{i}",
                            "deployment_type": "embedded",
                        },
                    )
                    latencies.append(time.perf_counter() - started)
                    if answer.status_code != 201:
                        errors.append(answer.text)

        writers = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
        for w in writers:
            w.start()
        for w in writers:
            w.join()
        still_sending = job.is_alive()
        job.join(30)
    receiver.shutdown()
    assert errors == []
    assert still_sending, "the writes must have run while the receiver was still answering"
    p95 = statistics.quantiles(latencies, n=20)[-1]
    assert p95 < 0.200, f"p95 of writes during a 5 s webhook call: {p95 * 1000:.0f} ms"
    assert delivered["report"]["attempted"] == 1
