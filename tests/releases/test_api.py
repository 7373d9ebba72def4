"""Releases over HTTP: validation, separation of duties, refused promotions, verification, history."""

from __future__ import annotations

from tests.releases.conftest import CHATBOT, governed, promote, release_body, sha, submit

BASE = f"/api/v1/systems/{CHATBOT}"


def _body(tag: str = "v1") -> dict:  # type: ignore[type-arg]
    return release_body(tag).model_dump()


def test_an_engineer_submits_a_release_and_reads_it_back(client_for, system) -> None:
    c = client_for("engineer")
    r = c.post(f"{BASE}/releases", json=_body())
    assert r.status_code == 201, r.text
    data = r.json()
    assert (data["version"], data["requested_by"], len(data["content_hash"])) == (1, "engineer", 64)
    assert c.get(f"{BASE}/releases/1").json()["artifacts"][0]["sha256"] == sha("model-v1")
    assert [x["version"] for x in c.get(f"{BASE}/releases").json()] == [1]


def test_bad_releases_are_refused_with_what_is_wrong(client_for, system) -> None:
    c = client_for("engineer")
    bad_sha = _body()
    bad_sha["artifacts"][0]["sha256"] = "xyz"
    r = c.post(f"{BASE}/releases", json=bad_sha)
    assert r.status_code == 422 and "artifacts.0.sha256" in r.json()["detail"]
    twice = _body()
    twice["artifacts"][1] = dict(twice["artifacts"][0])
    r = c.post(f"{BASE}/releases", json=twice)
    assert r.status_code == 422 and "listed twice" in r.json()["detail"]
    kind = _body()
    kind["artifacts"][0]["kind"] = "weights"
    assert c.post(f"{BASE}/releases", json=kind).status_code == 422
    empty = {**_body(), "artifacts": []}
    assert c.post(f"{BASE}/releases", json=empty).status_code == 422
    assert c.post("/api/v1/systems/nope/releases", json=_body()).status_code == 404
    assert client_for("viewer").post(f"{BASE}/releases", json=_body()).status_code == 403


def test_self_approval_is_a_403_problem(client_for, actors, system) -> None:
    submit(actors, role="admin")
    c = client_for("admin")
    assert c.post(f"{BASE}/releases/1/requests", json={"stage": "pilot"}).status_code == 201
    r = c.post(f"{BASE}/releases/1/approvals", json={"stage": "pilot", "decision": "approve"})
    assert r.status_code == 403
    assert r.json()["rule"] == "separation-of-duties"


def test_a_refused_promotion_is_a_409_with_the_failing_rules_and_the_evaluation_is_kept(
    client_for, actors, system
) -> None:
    submit(actors)
    promote(actors, 1, "sandbox")
    c = client_for("engineer")
    r = c.post(f"{BASE}/releases/1/promote", json={"stage": "pilot"})
    assert r.status_code == 409, r.text
    problem = r.json()
    assert problem["type"].endswith("/gate-refused")
    rules = {x["rule"] for x in problem["failed_rules"]}
    assert {"ethical-review-approved", "approved-by-someone"} <= rules
    kept = c.get(f"{BASE}/releases/1/gate-evaluations", params={"stage": "pilot"}).json()
    assert [(e["id"], e["purpose"], e["passed"]) for e in kept] == [(problem["gate_evaluation_id"], "promotion", False)]


def test_promotion_and_rollback_over_http(client_for, actors, system, clock) -> None:
    governed(actors, system)
    submit(actors, tag="v1")
    submit(actors, tag="v2")
    c = client_for("engineer")
    first = c.post(f"{BASE}/releases/1/promote", json={"stage": "sandbox", "reason": "first light"})
    assert first.status_code == 200, first.text
    assert first.json()["deployment"]["to_version"] == 1 and first.json()["gate"]["passed"] is True
    clock.advance(hours=1)
    assert c.post(f"{BASE}/releases/2/promote", json={"stage": "sandbox"}).status_code == 200
    clock.advance(hours=1)
    r = c.post(f"{BASE}/rollback", json={"stage": "sandbox", "reason": "regression", "incident": "INC-0042"})
    assert r.status_code == 200, r.text
    assert (r.json()["from_version"], r.json()["to_version"], r.json()["incident"]) == (2, 1, "INC-0042")
    assert c.post(f"{BASE}/rollback", json={"stage": "sandbox"}).status_code == 422  # reason required
    overview = c.get(f"{BASE}/deployments").json()
    assert overview["deployed"][0]["version"] == 1
    history = c.get(f"{BASE}/deployments/history").json()
    assert [h["kind"] for h in history] == ["promote", "promote", "rollback"]
    at = c.get(f"{BASE}/deployments/at", params={"stage": "sandbox", "at": history[1]["at"]}).json()
    assert at["version"] == 2


def test_a_serving_system_verifies_its_artifact_with_a_deploy_verify_token(client_for, actors, system) -> None:
    submit(actors)
    promote(actors, 1, "sandbox")
    server = client_for("engineer", scopes=["deploy:verify"])
    ok = server.get(f"{BASE}/deployments/verify", params={"stage": "sandbox", "sha256": sha("model-v1")})
    assert ok.status_code == 200, ok.text
    assert (ok.json()["verified"], ok.json()["result"]) == (True, "match")
    shadow = server.get(f"{BASE}/deployments/verify", params={"stage": "sandbox", "sha256": sha("other")})
    assert (shadow.json()["verified"], shadow.json()["result"]) == (False, "unknown_artifact")
    assert shadow.json()["caller"].startswith("token:")
    flagged = client_for("viewer").get(f"{BASE}/deployments/verifications", params={"flagged": True}).json()
    assert [v["sha256"] for v in flagged] == [sha("other")]
    listed = client_for("viewer").get(f"{BASE}/deployments").json()["possible_shadow_deployments"]
    assert [v["result"] for v in listed] == ["unknown_artifact"]
    short = server.get(f"{BASE}/deployments/verify", params={"stage": "sandbox", "sha256": "abc"})
    assert short.status_code == 422
    no_scope = client_for("engineer", scopes=["releases:read"])
    assert (
        no_scope.get(f"{BASE}/deployments/verify", params={"stage": "sandbox", "sha256": sha("x")}).status_code == 403
    )


def test_release_stages_are_governance_settings_with_optimistic_concurrency(client_for, system) -> None:
    assert client_for("viewer").get(f"{BASE}/release-stages").json()["stages"] == ["sandbox", "pilot", "production"]
    body = {"stages": ["production", "sandbox"]}
    assert client_for("engineer").put(f"{BASE}/release-stages", json=body).status_code == 403
    g = client_for("governance")
    r = g.put(f"{BASE}/release-stages", json=body)
    assert r.status_code == 200 and r.json()["stages"] == ["sandbox", "production"]
    stale = g.put(f"{BASE}/release-stages", json={"stages": ["production"], "version": 7})
    assert stale.status_code == 409
    assert g.put(f"{BASE}/release-stages", json={"stages": ["staging"], "version": 1}).status_code == 422


def test_diff_over_http(client_for, actors, system) -> None:
    submit(actors, tag="v1")
    submit(actors, tag="v2")
    d = client_for("viewer").get(f"{BASE}/releases/1/diff/2").json()
    assert (d["from_version"], d["to_version"], d["same_content"]) == (1, 2, False)
