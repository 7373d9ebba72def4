"""`charter redteam ...` against `charter serve` (a real server process, its red-team worker thread) and a
real local OpenAI-compatible target with deliberate weaknesses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.redteam.targets import TargetState, serve
from tests.redteam.test_imports_garak import ATTEMPTS, DAN, TAGS, report
from tests.test_cli import PASSWORD, Server, against, charter, server  # noqa: F401  (fixtures)

PROBE = "jailbreak.role-play-policy-bypass"


@pytest.fixture
def engineer(against: Server, monkeypatch: pytest.MonkeyPatch) -> str:  # noqa: F811
    name = f"rt{abs(hash(against.url)) % 10_000}"
    charter("user", "create", name, "--role", "engineer", "--password", PASSWORD)
    token = json.loads(charter("token", "create", "cli", "--user", name, "--json").stdout)["token"]
    monkeypatch.setenv("CHARTER_TOKEN", token)
    charter("system", "register", "rt-bot", "--name", "Red-team bot", "--type", "in_house_model")
    return name


def test_a_run_through_the_server_worker_and_an_import_then_triage(engineer: str, tmp_path: Path) -> None:
    with serve(TargetState(mode="weak")) as url:
        out = charter(
            "redteam", "run", "rt-bot", "--target-url", f"{url}/v1", "--model", "test", "--probe", PROBE, "--json"
        ).stdout
    run: dict[str, Any] = json.loads(out)
    assert run["status"] == "completed" and run["hits"] > 0 and run["errors"] == 0
    findings = json.loads(charter("redteam", "findings", "--system", "rt-bot", "--json").stdout)
    assert [f["probe"] for f in findings] == [PROBE]

    path = tmp_path / "garak.report.jsonl"
    path.write_text(report(ATTEMPTS, TAGS), encoding="utf-8")
    table = charter("redteam", "import", "rt-bot", str(path), "--format", "garak").stdout
    assert DAN in table and "findings opened" in table
    again = json.loads(charter("redteam", "import", "rt-bot", str(path), "--format", "garak", "--json").stdout)
    assert (again["run"], again["new_attempts"]) == (None, 0)
    rows = {(r["probe"], r["detector"]): r for r in again["results"]}
    assert rows[DAN, "dan.DAN"]["total"] == 3 and rows[DAN, "dan.DAN"]["owasp_2025_ids"] == ["LLM01:2025"]

    finding = next(f for f in json.loads(charter("redteam", "findings", "--json").stdout) if f["probe"] == DAN)
    assert "is now triaged" in charter("redteam", "triage", str(finding["id"]), "--to", "triaged").stdout
    err = charter("redteam", "triage", str(finding["id"]), "--to", "accepted", "--reason", "x", code=1).stderr
    assert "governance" in err and "[403]" in err
    err = charter("redteam", "import", "rt-bot", str(path), "--format", "nessus", code=2).stderr
    assert "allowed: garak, pyrit, csv" in err
    assert len(json.loads(charter("redteam", "runs", "rt-bot", "--json").stdout)) == 2
