"""Protected labels move through the release process: a release artifact binds a prompt version by hash, deploying
the release moves the label of the stage's name, rolling back and withdrawing move it back, and the history says how."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.prompts.conftest import BASE, create


def artifact(name: str, version: dict[str, Any]) -> dict[str, str]:
    return {"kind": "prompt", "name": name, "uri": f"prompt:{name}@{version['version']}", "sha256": version["sha256"]}


def submit(c: TestClient, *artifacts: dict[str, str]) -> int:
    r = c.post(
        f"{BASE}/releases",
        json={"artifacts": list(artifacts), "change": {"summary": "prompt change", "type": "prompt_change"}},
    )
    assert r.status_code == 201, r.text
    return int(r.json()["version"])


@pytest.fixture
def gov(client_for: Any, system: Any) -> TestClient:
    c: TestClient = client_for("governance")
    r = c.put(f"{BASE}/prompt-settings", json={"protected_labels": ["production", "sandbox"]})
    assert r.status_code == 200
    return c


def labels(c: TestClient, name: str) -> dict[str, int]:
    return {row["label"]: row["version"] for row in c.get(f"{BASE}/prompts/{name}/labels").json()}


def test_a_release_binds_the_prompt_version_by_its_hash(eng: TestClient) -> None:
    v1 = create(eng, "greeting", "Hello {{ name }}")
    releases_before = eng.get(f"{BASE}/releases").json()
    wrong = {**artifact("greeting", v1), "sha256": "0" * 64}
    r = eng.post(f"{BASE}/releases", json={"artifacts": [wrong], "change": {"summary": "x", "type": "prompt_change"}})
    assert r.status_code == 422 and f"greeting@1 has sha256 {v1['sha256']}" in r.json()["detail"]
    missing = {**artifact("greeting", v1), "uri": "prompt:greeting@7"}
    r = eng.post(f"{BASE}/releases", json={"artifacts": [missing], "change": {"summary": "x", "type": "prompt_change"}})
    assert r.status_code == 422 and "no version 7" in r.json()["detail"]
    renamed = {**artifact("greeting", v1), "name": "other"}
    r = eng.post(f"{BASE}/releases", json={"artifacts": [renamed], "change": {"summary": "x", "type": "prompt_change"}})
    assert r.status_code == 422 and "must be the prompt's name" in r.json()["detail"]
    assert eng.get(f"{BASE}/releases").json() == releases_before
    opaque = {"kind": "prompt", "name": "legacy", "uri": "git://prompts@v1", "sha256": "a" * 64}
    assert submit(eng, opaque) == 1  # an opaque prompt artifact (not prompt:NAME@N) is not checked


def test_promote_rollback_and_withdraw_move_the_protected_label(eng: TestClient, gov: TestClient) -> None:
    v1 = create(eng, "greeting", "Hello {{ name }}")
    v2 = create(eng, "greeting", "Hi {{ name }}")
    r1 = submit(eng, artifact("greeting", v1))
    r2 = submit(eng, artifact("greeting", v2))
    promoted = eng.post(f"{BASE}/releases/{r1}/promote", json={"stage": "sandbox"})
    assert promoted.status_code == 200, promoted.text
    assert labels(eng, "greeting") == {"sandbox": 1}
    assert eng.post(f"{BASE}/releases/{r2}/promote", json={"stage": "sandbox"}).status_code == 200
    assert labels(eng, "greeting") == {"sandbox": 2}
    served = eng.get(f"{BASE}/prompts/greeting", params={"label": "sandbox"}).json()
    assert served["name_at_version"] == "greeting@2"
    back = eng.post(f"{BASE}/rollback", json={"stage": "sandbox", "reason": "v2 is rude"})
    assert back.status_code == 200, back.text
    assert labels(eng, "greeting") == {"sandbox": 1}
    history = eng.get(f"{BASE}/prompts/greeting/history").json()
    assert [(h["kind"], h["from_version"], h["to_version"], h["release"]) for h in history] == [
        ("rollback", 2, 1, 1),
        ("release", 1, 2, 2),
        ("release", None, 1, 1),
    ]
    assert history[0]["reason"] == "v2 is rude" and history[0]["deployment_id"] is not None
    assert history[1]["gate_evaluation_id"] is not None and history[1]["actor"] == "user:engineer"
    assert history[1]["evaluation"]["runs"] == 0 and history[1]["evaluation"]["suites_failed"] == []
    assert history[0]["evaluation"] is None  # a rollback passes no gate
    withdrawn = eng.post(f"{BASE}/releases/{r1}/withdraw", json={"stage": "sandbox", "reason": "pulled"})
    assert withdrawn.status_code == 200, withdrawn.text
    assert labels(eng, "greeting") == {}
    assert eng.get(f"{BASE}/prompts/greeting/history").json()[0]["kind"] == "withdraw"


def test_a_release_without_the_prompt_restores_the_label_it_had_before(eng: TestClient, gov: TestClient) -> None:
    v1 = create(eng, "greeting", "Hello")
    create(eng, "faq", "FAQ")
    r1 = submit(eng, artifact("greeting", v1))
    other = create(eng, "faq", "FAQ v2")
    r2 = submit(eng, artifact("faq", other))
    eng.post(f"{BASE}/releases/{r1}/promote", json={"stage": "sandbox"})
    eng.post(f"{BASE}/releases/{r2}/promote", json={"stage": "sandbox"})
    assert labels(eng, "greeting") == {} and labels(eng, "faq") == {"sandbox": 2}


def test_the_release_label_move_is_ledgered_with_the_deployment(eng: TestClient, gov: TestClient, actors: Any) -> None:
    from sqlalchemy import select

    from charter.ledger.models import LedgerEntry

    v1 = create(eng, "greeting", "Hello")
    r1 = submit(eng, artifact("greeting", v1))
    eng.post(f"{BASE}/releases/{r1}/promote", json={"stage": "sandbox"})
    actions = actors.session.execute(select(LedgerEntry.action).order_by(LedgerEntry.seq)).scalars().all()
    tail = actions[actions.index("deployment.promote") :]
    assert "prompt.label.release" in tail
