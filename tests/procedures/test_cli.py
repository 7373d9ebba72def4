"""The seed 002 ethical review example through the CLI (`charter review ...`), against the test server."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from charter.client import Client
from charter.evidence import cli as evidence_cli
from charter.procedures import cli as procedures_cli
from tests.conftest import AppTransport

Run = Callable[..., Any]


@pytest.fixture
def charter(client_for: Any, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Run]:
    """charter('engineer')('review', 'show', '1') runs a CLI command as that user."""
    runner = CliRunner()

    def as_role(role: str) -> Run:
        tc = client_for(role)

        def make() -> Client:
            token = tc.headers["Authorization"].removeprefix("Bearer ")
            return Client("http://testserver", token=token, transport=AppTransport(tc.app))

        def run(group: str, *args: str) -> Any:
            monkeypatch.setattr(procedures_cli, "client", make)
            monkeypatch.setattr(evidence_cli, "client", make)
            app = {"review": procedures_cli.review_app, "sop": procedures_cli.app, "evidence": evidence_cli.app}[group]
            return runner.invoke(app, list(args))

        return run

    return as_role


def test_the_seed_ethical_review_example_through_the_cli(charter: Any, system: Any, tmp_path: Path) -> None:
    eng = charter("engineer")
    r = eng("review", "start", "ethical-review", "--system", "support-chatbot")
    assert r.exit_code == 0, r.output
    assert r.output.startswith("run ") and ": Ethical review: support-chatbot" in r.output.splitlines()[0]
    run_id = r.output.split()[1].rstrip(":")
    report = tmp_path / "Bias_Testing_Report_v2.pdf"
    report.write_bytes(b"%PDF-1.7\n10 demographic groups\n")
    r = eng("evidence", "add", str(report), "--run", run_id, "--item", "bias-tested")
    assert r.exit_code == 0, r.output
    answers = [
        ("bias-tested", "pass", "Yes, tested on 10 demographic groups"),
        ("appeals", "pass", "Appeal process implemented"),
        ("adversarial-tested", "needs_review", "Limited testing conducted"),
        ("human-oversight", "fail", "Not yet implemented"),
    ]
    for item_id, status, response in answers:
        r = eng("review", "answer", run_id, item_id, "--status", status, "--response", response)
        assert r.exit_code == 0, r.output
    r = eng("review", "show", run_id)
    assert r.exit_code == 0, r.output
    out = r.output
    assert "NOT approved" in out
    issues = out.split("Issues to address:")[1].split("Not answered yet")[0]
    assert issues.count("- ") == 2
    assert (
        "- Has adversarial testing been performed?\n  Status: needs_review\n  Response: Limited testing conducted"
        in issues
    )
    assert "- Is there human oversight?\n  Status: fail\n  Response: Not yet implemented" in issues
    assert "Not answered yet: 14 item(s)" in out


def test_cli_errors_are_one_line_and_exit_non_zero(charter: Any, system: Any) -> None:
    eng = charter("engineer")
    run_id = eng("review", "start", "ethical-review", "--system", "support-chatbot").output.split()[1].rstrip(":")
    r = eng("review", "answer", run_id, "appeals", "--status", "not_applicable")
    assert r.exit_code == 2 and "not_applicable needs a justification" in r.output
    assert len(r.output.strip().splitlines()) == 1
    r = eng("review", "signoff", run_id)
    assert r.exit_code == 1 and "reviews:signoff" in r.output


def test_sop_validate_prints_file_line_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "mine.yaml"
    bad.write_text("key: mine\nversion: 1\ntitle: Mine\nkind: essay\napplies_to: [system]\nsections: []\n")
    r = CliRunner().invoke(procedures_cli.app, ["validate", str(bad)])
    assert r.exit_code == 2
    assert f"error: {bad}:4: kind: Input should be" in r.output
    assert f"error: {bad}:6: sections: List should have at least 1 item" in r.output
