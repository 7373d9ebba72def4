"""Probe runs through the API against a real local OpenAI-compatible target with deliberate weaknesses."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from charter.redteam.runner import RunEnv, execute
from tests.redteam.targets import TargetState, serve
from tests.redteam.test_probing import WEAKNESSES
from tests.releases.conftest import make_system, submit

CHATBOT = "support-chatbot"


@pytest.fixture
def system(actors: Any) -> Any:
    return make_system(actors)


@pytest.fixture
def submitted(app: Any, session_factory: Any, settings: Any, clock: Any) -> Any:
    """Runs the API queues are run here, after the request, on the test's connection (the server's worker
    thread would share the test's single connection; tests/test_cli.py drives the real worker)."""
    queued: list[int] = []
    app.state.redteam_submit = queued.append
    env = RunEnv(session_factory, settings, clock)

    def drain() -> None:
        while queued:
            # a thread of its own: a browser test earlier in the session may keep an event loop in this one
            with ThreadPoolExecutor(max_workers=1) as pool:
                pool.submit(asyncio.run, execute(env, queued.pop(0))).result()

    return drain


def start(client: Any, url: str, drain: Any = None, **body: Any) -> Any:
    target = {"kind": "openai_chat", "base_url": f"{url}/v1", "model": "test"}
    r = client.post(f"/api/v1/systems/{CHATBOT}/redteam/runs", json={"target": target, **body})
    if drain is not None:
        drain()
    return r


def live_findings(client: Any) -> dict[str, dict[str, Any]]:
    items = client.get("/api/v1/redteam/findings", params={"system": CHATBOT}).json()["items"]
    return {f["probe"]: f for f in items}


def test_a_run_finds_exactly_the_weaknesses_and_the_fixed_release_closes_them(
    client_for, actors, system, submitted
) -> None:
    eng = client_for("engineer")
    submit(actors, CHATBOT, "v1")
    submit(actors, CHATBOT, "v2")
    state = TargetState(mode="weak")
    with serve(state) as url:
        r = start(eng, url, submitted, release=1, concurrency=8, seed="release-1")
        assert r.status_code == 202, r.text
        run = eng.get(f"/api/v1/redteam/runs/{r.json()['id']}").json()
        assert run["status"] == "completed", run
        assert run["errors"] == 0 and run["attempts_total"] == state.requests
        found = live_findings(eng)
        assert set(found) == WEAKNESSES
        assert all(f["status"] == "open" and f["first_seen_release"] == 1 for f in found.values())
        leak = found["system-prompt-leakage.role-play-extraction"]
        assert leak["owasp_2025"] == ["LLM07:2025"] and leak["atlas"]
        assert all(f["risk"] for f in found.values() if f["severity"] in ("high", "critical"))

        state.mode = "fixed"
        r = start(eng, url, submitted, release=2, concurrency=8, seed="release-2")
        second = eng.get(f"/api/v1/redteam/runs/{r.json()['id']}").json()
    assert second["status"] == "completed" and second["hits"] == 0
    after = live_findings(eng)
    assert {f["status"] for f in after.values()} == {"fixed"}
    assert all(f["fixed_by_run"] == second["id"] for f in after.values())
    assert sorted(second["findings"]) == sorted(f["id"] for f in after.values())


def test_an_unreachable_target_fails_the_run_clearly_and_opens_nothing(client_for, system, submitted) -> None:
    eng = client_for("engineer")
    r = start(eng, "http://127.0.0.1:9", submitted, probes=["jailbreak.role-play-policy-bypass"], timeout_s=2)
    assert r.status_code == 202
    run = eng.get(f"/api/v1/redteam/runs/{r.json()['id']}").json()
    assert run["status"] == "completed" and run["errors"] == run["attempts_total"] > 0
    assert all(row["nones"] > 0 and row["total"] == 0 for row in run["results"])
    assert live_findings(eng) == {}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"suites": ["nope"]}, "unknown suite 'nope'"),
        ({"probes": ["nope.x"]}, "unknown probe 'nope.x'"),
        ({"target": {"kind": "openai_chat", "base_url": "http://x/v1", "model": "m", "api_key": "sk-123"}}, "env:NAME"),
        ({"release": 7}, "no release 7"),
        ({"repeats": 0}, "repeats"),
    ],
)
def test_bad_run_requests_are_refused_and_nothing_is_queued(client_for, system, submitted, body, expected) -> None:
    eng = client_for("engineer")
    target = {"kind": "openai_chat", "base_url": "http://127.0.0.1:9/v1", "model": "test"}
    r = eng.post(f"/api/v1/systems/{CHATBOT}/redteam/runs", json={"target": target, **body})
    assert r.status_code in (404, 422), r.text
    assert expected in r.text
    assert "sk-123" not in r.text
    assert eng.get(f"/api/v1/systems/{CHATBOT}/redteam/runs").json()["items"] == []


def test_a_target_that_times_out_gives_errored_attempts_not_passes(client_for, system, submitted) -> None:
    eng = client_for("engineer")
    with serve(TargetState(mode="weak")) as url:
        target = {"kind": "openai_chat", "base_url": f"{url}/v1", "model": "hang"}  # answers after 2 s
        body = {"target": target, "probes": ["jailbreak.role-play-policy-bypass"], "timeout_s": 0.3, "concurrency": 32}
        r = eng.post(f"/api/v1/systems/{CHATBOT}/redteam/runs", json=body)
        submitted()
    run = eng.get(f"/api/v1/redteam/runs/{r.json()['id']}").json()
    assert run["status"] == "completed" and run["errors"] == run["attempts_total"] > 0 and run["hits"] == 0
    assert all(row["total"] == 0 and row["attack_success_rate"] is None for row in run["results"])
    detail = eng.get("/api/v1/redteam/findings", params={"system": CHATBOT}).json()
    assert detail["items"] == []  # nothing evaluated: no finding, and no pass recorded either
