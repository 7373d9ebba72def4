"""The evaluation API and CLI over HTTP: problem+json on bad input, runs against a real chat server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from charter.evaluation.models import EvalDatasetVersion, EvalTarget
from tests.evaluation.chat_server import ChatServer
from tests.evaluation.conftest import SYSTEM, jsonl

PROBLEM = "application/problem+json"


def _target(chat: ChatServer) -> dict[str, Any]:
    return {
        "name": "bot",
        "config": {"kind": "openai_chat", "base_url": chat.base_url, "model": "m", "api_key": "env:EVAL_TEST_KEY"},
    }


def test_dataset_import_run_and_side_by_side_items(
    client_for: Any, system: Any, chat: ChatServer, eval_env: None
) -> None:
    c = client_for("engineer")
    r = c.post("/api/v1/eval/datasets", json={"system": SYSTEM, "name": "faq", "format": "jsonl", "content": jsonl(25)})
    assert r.status_code == 201 and r.json()["samples"] == 25
    assert c.post("/api/v1/eval/targets", json=_target(chat)).status_code == 201
    test = c.post("/api/v1/eval/targets/bot/test").json()
    assert test["reachable"] is True
    run = c.post(
        "/api/v1/eval/runs",
        json={
            "system": SYSTEM,
            "dataset": "faq@1",
            "target": "bot",
            "scorers": ["exact", {"type": "contains", "values": ["answer"]}],
        },
    )
    assert run.status_code == 201
    body = run.json()
    assert body["status"] == "completed" and body["summary"]["exact"]["passed"] == 23
    assert body["summary"]["contains"]["passed"] == 23
    detail = c.get(f"/api/v1/eval/runs/{body['id']}", params={"items": "true"}).json()
    q3 = next(i for i in detail["items"] if i["sample_id"] == "q3")
    assert (q3["input"], q3["expected"], q3["output"]) == ("question 3?", ["answer 3"], "wrong 3")
    assert q3["scores"]["exact"]["passed"] is False
    exported = c.get(f"/api/v1/eval/datasets/{SYSTEM}/faq@1/export", params={"format": "csv"})
    assert exported.headers["x-content-hash"] == body["dataset_hash"]
    assert exported.text.startswith("id,input,reference,expected")


def test_bad_input_is_a_problem_and_stores_nothing(
    client_for: Any, system: Any, session: Any, chat: ChatServer
) -> None:
    c = client_for("engineer")
    r = c.post(
        "/api/v1/eval/datasets",
        json={
            "system": SYSTEM,
            "name": "faq",
            "format": "jsonl",
            "content": '{"id": "a", "input": "x"}\n{"id": "b", "input": 5}\n',
        },
    )
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    assert "line 2" in r.json()["detail"] and "input must be text" in r.json()["detail"]
    assert session.query(EvalDatasetVersion).count() == 0
    r = c.post(
        "/api/v1/eval/targets",
        json={"name": "bot", "config": {"kind": "openai_chat", "base_url": "ftp://x", "model": "m"}},
    )
    assert r.status_code == 422 and "base_url" in r.json()["detail"]
    assert session.query(EvalTarget).count() == 0
    unreachable = {"name": "gone", "config": {"kind": "openai_chat", "base_url": "http://127.0.0.1:9/v1", "model": "m"}}
    assert c.post("/api/v1/eval/targets", json=unreachable).status_code == 201
    check = c.post("/api/v1/eval/targets/gone/test").json()
    assert check["reachable"] is False and "connection failed" in check["detail"]
    r = c.post("/api/v1/eval/runs", json={"system": SYSTEM, "dataset": "nope", "target": "gone"})
    assert r.status_code == 404 and r.json()["detail"] == "no evaluation dataset 'nope' for this system"
    assert client_for("viewer").post("/api/v1/eval/targets", json=_target(chat)).status_code == 403


def test_the_cli_imports_runs_and_shows(
    cli: Any, system: Any, chat: ChatServer, eval_env: None, tmp_path: Path
) -> None:
    data = tmp_path / "faq.jsonl"
    data.write_text(jsonl(25))
    out = cli("engineer", "eval", "dataset", "import", SYSTEM, "faq", str(data))
    assert out.exit_code == 0 and "imported support-bot/faq@1: 25 samples (sha256:" in out.output
    assert "already holds this content" in cli("engineer", "eval", "dataset", "import", SYSTEM, "faq", str(data)).output
    added = cli(
        "engineer",
        "eval",
        "target",
        "add",
        "bot",
        "--base-url",
        chat.base_url,
        "--model",
        "m",
        "--api-key",
        "env:EVAL_TEST_KEY",
    )
    assert added.exit_code == 0, added.output
    run = cli(
        "engineer",
        "eval",
        "run",
        SYSTEM,
        "--dataset",
        "faq",
        "--target",
        "bot",
        "--scorer",
        "exact",
        "--pass-threshold",
        "0.95",
        "--json",
    )
    assert run.exit_code == 1  # 23 of 25 is below the threshold: a pipeline stops here
    body = json.loads(run.output)
    assert body["passed"] is False and body["summary"]["exact"]["pass_rate"] == 0.92
    shown = cli("engineer", "eval", "show", str(body["id"]), "--items")
    assert "[completed] q3: 'wrong 3' {'exact': 0.0}" in shown.output
    bad = tmp_path / "bad.csv"
    bad.write_text("id,input,colour\n1,a,b\n")
    refused = cli("engineer", "eval", "dataset", "import", SYSTEM, "faq", str(bad))
    assert refused.exit_code == 2 and "colour" in refused.output and "Traceback" not in refused.output
