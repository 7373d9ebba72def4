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
    before = c.get("/api/v1/policies").json()
    ok = c.post("/api/v1/policies/validate", json={"rules": [{"id": "a", "expression": "risk.open_critical == 0"}]})
    assert ok.json() == {"valid": True, "rules": 1}
    bad = c.post("/api/v1/policies/validate", json={"rules": [{"id": "a", "expression": "risk.nope == 0"}]})
    assert bad.status_code == 422 and "risk.nope" in bad.json()["detail"]
    assert c.get("/api/v1/policies").json() == before  # the shipped policies, nothing added


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
    fail = cli("engineer", "gate", "check", CHATBOT, "1", "--stage", "pilot", scopes=["gate:check"])
    assert fail.exit_code == 1, fail.output
    assert "Gate to pilot for support-chatbot release 1: FAILED (to-pilot v1" in fail.output
    assert "  FAIL  ethical-review-approved — the ethical review is not approved" in fail.output
    assert "  PASS  not-prohibited" in fail.output
    ok = cli("engineer", "gate", "check", CHATBOT, "1", "--stage", "sandbox", "--json", scopes=["gate:check"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["passed"] is True
    usage = cli("engineer", "gate", "check", CHATBOT, "7", "--stage", "sandbox", scopes=["gate:check"])
    assert usage.exit_code == 2 and "no release 7" in usage.output
    assert cli("engineer", "gate", "check", CHATBOT, "1").exit_code == 2  # --stage missing


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
    assert "extra-pilot" in [p["name"] for p in json.loads(listing.output)]


def test_repeat_gate_checks_are_stored_each_time_and_see_every_recorded_change(
    client_for, actors, system, clock, counted_facts
) -> None:
    calls = counted_facts
    submit(actors)
    ci = client_for("engineer", scopes=["gate:check"])
    auditor = client_for("auditor")
    first = ci.post(GATE, params={"stage": "pilot"}).json()
    clock.advance(seconds=2)
    second = ci.post(GATE, params={"stage": "pilot", "include_facts": True}).json()
    assert len(calls) == 1  # the second check reused the first one's evaluation ...
    assert second["id"] != first["id"]  # ... and was stored as evidence of its own
    assert (second["digest"], second["passed"], second["failed"]) == (first["digest"], False, first["failed"])
    assert second["facts"]["counter"] == {"checks": 1}
    stored = auditor.get(f"/api/v1/gate-evaluations/{second['id']}").json()
    assert stored["evaluated_at"] == second["evaluated_at"] != first["evaluated_at"]
    assert stored["actor"] == second["actor"] and stored["actor"].startswith("token:")
    assert stored["facts"] == second["facts"]
    risk = critical_risk(actors)  # a recorded change: the next check evaluates again and sees it
    third = ci.post(GATE, params={"stage": "pilot"}).json()
    assert len(calls) == 2 and third["digest"] != first["digest"]
    assert risk in {r["rule"]: r["reason"] for r in third["results"]}["no-open-critical-risk"]
    clock.advance(seconds=actors.settings.gate_facts_ttl_seconds + 1)  # facts too old: evaluated again
    ci.post(GATE, params={"stage": "pilot"})
    assert len(calls) == 3
    listed = auditor.get(f"/api/v1/systems/{CHATBOT}/releases/1/gate-evaluations").json()
    assert len(listed) == 4
    # Permission and token checks still come first on the fast path.
    refused = client_for("engineer", scopes=["releases:read"]).post(GATE, params={"stage": "pilot"})
    assert refused.status_code == 403


def test_concurrent_gate_checks_are_stored_in_shared_transactions(client_for, actors, system, app, monkeypatch) -> None:
    import asyncio
    import threading

    import httpx

    from charter.releases.gate import evaluation_inserter

    submit(actors)
    ci = client_for("engineer", scopes=["gate:check"])
    token = ci.headers["Authorization"]
    assert ci.post(GATE, params={"stage": "pilot"}).status_code == 200  # prepares the evaluation
    inserter = evaluation_inserter(app.state.session_factory)
    batches, rows, submitted = inserter.batches, inserter.rows, inserter.submitted
    # Hold the writer's first transaction until all twelve checks are waiting, as under load.
    opened = threading.Event()
    real_factory = inserter._factory

    def held_factory():  # type: ignore[no-untyped-def]
        opened.wait(10)
        return real_factory()

    monkeypatch.setattr(inserter, "_factory", held_factory)

    async def burst() -> list[httpx.Response]:
        # Twelve checks in flight at once, each waiting for the writer. They are started one after the other
        # (each has handed in its row before the next starts), because the tests' database connection is
        # shared by all sessions and must not be used by two threads at once.
        transport = httpx.ASGITransport(app=app)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        async with httpx.AsyncClient(transport=transport, base_url="http://t", headers={"Authorization": token}) as c:
            sent: list[asyncio.Future[httpx.Response]] = []
            for n in range(1, 13):
                sent.append(asyncio.ensure_future(c.post(GATE, params={"stage": "pilot"})))
                while inserter.submitted - submitted < n and not sent[-1].done():
                    assert loop.time() < deadline, "the check never reached the writer"
                    await asyncio.sleep(0.005)
            opened.set()
            return list(await asyncio.gather(*sent))

    answers = asyncio.run(burst())
    assert [r.status_code for r in answers] == [200] * 12
    ids = {r.json()["id"] for r in answers}
    assert len(ids) == 12
    assert inserter.rows - rows == 12 and inserter.batches - batches <= 2  # one or two transactions for 12
    stored = client_for("auditor").get(f"/api/v1/systems/{CHATBOT}/releases/1/gate-evaluations").json()
    assert ids <= {e["id"] for e in stored}
