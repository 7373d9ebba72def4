"""Policies and gate checks over HTTP, and `charter gate check` through the real CLI."""

from __future__ import annotations

import json

from tests.releases.conftest import CHATBOT, critical_risk, submit

GATE = f"/api/v1/systems/{CHATBOT}/releases/1/gate"


def test_saving_a_broken_rule_is_a_422_naming_rule_line_and_column(client_for) -> None:
    body = {
        "stage": "pilot",
        "rules": [{"id": "days", "expression": "history.days_in_pilot >= '14'", "message": "too early"}],
    }
    r = client_for("governance").put("/api/v1/policies/pilot-extra", json=body)
    assert r.status_code == 422, r.text
    problem = r.json()
    assert r.headers["content-type"] == "application/problem+json"
    assert problem["errors"][0]["rule"] == "days"
    assert (problem["errors"][0]["line"], problem["errors"][0]["column"]) == (1, 23)
    assert "line 1, column 23" in problem["detail"]


def test_saving_twice_creates_one_version_then_reuses_it(client_for) -> None:
    c = client_for("governance")
    body = {"stage": "sandbox", "rules": [{"id": "artifacts", "expression": "release.artifact_count > 0"}]}
    first = c.put("/api/v1/policies/extra", json=body)
    again = c.put("/api/v1/policies/extra", json=body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["version"] == 1
    assert c.get("/api/v1/policies/extra").json()["rules"][0]["id"] == "artifacts"
    assert client_for("engineer").put("/api/v1/policies/extra", json=body).status_code == 403
    bad_name = c.put("/api/v1/policies/Extra_Policy", json=body)
    assert bad_name.status_code == 422 and "must be a slug" in bad_name.json()["detail"]


def test_validate_checks_rules_without_saving(client_for) -> None:
    c = client_for("engineer")
    ok = c.post("/api/v1/policies/validate", json={"rules": [{"id": "a", "expression": "risk.open_critical == 0"}]})
    assert ok.json() == {"valid": True, "rules": 1}
    bad = c.post("/api/v1/policies/validate", json={"rules": [{"id": "a", "expression": "risk.nope == 0"}]})
    assert bad.status_code == 422 and "risk.nope" in bad.json()["detail"]
    assert c.get("/api/v1/policies").json() == []


def test_a_ci_machine_token_with_gate_check_runs_the_gate(client_for, actors, system) -> None:
    submit(actors)
    risk = critical_risk(actors)
    ci = client_for("engineer", scopes=["gate:check"])
    r = ci.post(GATE, params={"stage": "pilot"})
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["passed"] is False
    assert "no-open-critical-risk" in data["failed"] and "ethical-review-approved" in data["failed"]
    assert data["policies"] == [{"name": "to-pilot", "version": 1}]
    reasons = {x["rule"]: x["reason"] for x in data["results"]}
    assert risk in reasons["no-open-critical-risk"]
    stored = client_for("auditor").get(f"/api/v1/gate-evaluations/{data['id']}").json()
    assert stored["facts"]["risk"]["open_critical_keys"] == [risk]


def test_a_token_without_the_gate_check_scope_is_refused(client_for, actors, system) -> None:
    submit(actors)
    r = client_for("engineer", scopes=["releases:read"]).post(GATE, params={"stage": "pilot"})
    assert r.status_code == 403
    assert "gate:check" in r.json()["detail"]


def test_gate_usage_errors_say_what_is_allowed(client_for, actors, system) -> None:
    submit(actors)
    c = client_for("engineer")
    assert c.post(GATE, params={"stage": "staging"}).status_code == 422
    missing = c.post(f"/api/v1/systems/{CHATBOT}/releases/9/gate", params={"stage": "pilot"})
    assert missing.status_code == 404 and "releases are 1..1" in missing.json()["detail"]


def test_the_facts_schema_is_published_for_rule_authors(client_for) -> None:
    rows = {r["name"]: r for r in client_for("viewer").get("/api/v1/gate-facts").json()}
    assert rows["history"]["schema"]["days_in_pilot"] == "int"
    assert rows["monitoring"]["source"].startswith("placeholder") or rows["monitoring"]["source"].startswith("provider")


def test_gate_check_cli_exits_0_on_pass_1_on_fail_2_on_usage_error(cli, actors, system) -> None:
    submit(actors)
    fail = cli("engineer", "policy", "gate", "check", CHATBOT, "1", "--stage", "pilot", scopes=["gate:check"])
    assert fail.exit_code == 1, fail.output
    assert "Gate to pilot for support-chatbot release 1: FAILED (to-pilot v1" in fail.output
    assert "  FAIL  ethical-review-approved — the ethical review is not approved" in fail.output
    assert "  PASS  not-prohibited" in fail.output
    ok = cli("engineer", "policy", "gate", "check", CHATBOT, "1", "--stage", "sandbox", "--json", scopes=["gate:check"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["passed"] is True
    usage = cli("engineer", "policy", "gate", "check", CHATBOT, "7", "--stage", "sandbox", scopes=["gate:check"])
    assert usage.exit_code == 2 and "no release 7" in usage.output
    assert cli("engineer", "policy", "gate", "check", CHATBOT, "1").exit_code == 2  # --stage missing


def test_policy_cli_saves_a_yaml_file_and_reports_compile_errors_with_position(cli, tmp_path) -> None:
    good = tmp_path / "extra.yaml"
    good.write_text(
        "name: extra-pilot\nstage: pilot\nrules:\n  - id: tier\n    expression: system.risk_tier != 'high'\n"
    )
    r = cli("governance", "policy", "save", str(good), "--reason", "high-risk systems need a board review")
    assert r.exit_code == 0, r.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: extra-pilot\nstage: pilot\nrules:\n  - id: tier\n    expression: system.risk_teir != 'high'\n"
    )
    r = cli("governance", "policy", "save", str(bad))
    assert r.exit_code == 2
    assert "rule 'tier' does not compile at line 1, column 7: undeclared reference to 'system.risk_teir'" in r.output
    listing = cli("viewer", "policy", "list", "--json")
    assert [p["name"] for p in json.loads(listing.output)] == ["extra-pilot"]
