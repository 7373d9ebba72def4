"""The procedures HTTP API: templates, runs, answers, exceptions, sign-off, and permission refusals."""

from __future__ import annotations

from typing import Any

import pytest

from tests.procedures.test_service import V2

PROBLEM = "application/problem+json"


@pytest.fixture
def run_id(client_for: Any, system: Any) -> int:
    r = client_for("engineer").post(
        "/api/v1/runs", json={"template": "ethical-review", "subject_type": "system", "subject_key": "support-chatbot"}
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def item_version(client: Any, run_id: int, item_id: str) -> int:
    run = client.get(f"/api/v1/runs/{run_id}").json()
    return next(i["version"] for s in run["sections"] for i in s["items"] if i["item_id"] == item_id)


def test_templates_are_listed_and_shown_with_sections(client_for: Any) -> None:
    c = client_for("viewer")
    rows = c.get("/api/v1/sops").json()
    assert {"ethical-review", "deployment-approval", "ai-integration", "incident-response-critical"} <= {
        r["key"] for r in rows
    }
    er = c.get("/api/v1/sops/ethical-review").json()
    assert er["version"] == 1 and len(er["sections"]) == 6 and er["signoff_roles"] == ["approver", "governance"]
    assert c.get("/api/v1/sops?kind=runbook&severity=critical").json()[0]["key"] == "incident-response-critical"
    r = c.get("/api/v1/sops/nope")
    assert r.status_code == 404 and "ethical-review" in r.json()["detail"]


def test_installing_a_template_needs_sops_manage(client_for: Any) -> None:
    body = {"content": V2, "filename": "er-v2.yaml"}
    r = client_for("engineer").post("/api/v1/sops", json=body)
    assert r.status_code == 403 and r.headers["content-type"] == PROBLEM and "sops:manage" in r.json()["detail"]
    r = client_for("governance").post("/api/v1/sops", json=body)
    assert r.status_code == 201 and r.json()["versions"] == [1, 2]
    assert client_for("governance").post("/api/v1/sops", json=body).status_code == 200  # same content: no-op


def test_a_broken_template_is_refused_naming_file_line_and_field(client_for: Any) -> None:
    broken = V2.replace("kind: review", "kind: essay")
    r = client_for("governance").post("/api/v1/sops", json={"content": broken, "filename": "mine.yaml"})
    assert r.status_code == 422
    body = r.json()
    assert body["detail"].startswith("invalid procedure template mine.yaml:4: kind:")
    assert body["errors"][0] == {"file": "mine.yaml", "line": 4, "field": "kind", "msg": body["errors"][0]["msg"]}
    report = client_for("viewer").post("/api/v1/sops/validate", json={"content": broken, "filename": "mine.yaml"})
    assert report.status_code == 200 and report.json()["valid"] is False
    assert report.json()["problems"][0]["line"] == 4


def test_a_review_through_http_start_answer_submit_signoff(client_for: Any, run_id: int) -> None:
    eng, gov = client_for("engineer"), client_for("governance")
    run = eng.get(f"/api/v1/runs/{run_id}").json()
    assert (run["status"], run["template_version"], run["subject"], run["completion_pct"]) == (
        "in_progress",
        1,
        "support-chatbot",
        0.0,
    )
    r = eng.patch(
        f"/api/v1/runs/{run_id}/items/human-oversight",
        json={"version": 1, "status": "fail", "response": "Not yet implemented"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["open_items"][0]["item_id"] == "bias-tested"  # template order
    r = gov.post(
        f"/api/v1/runs/{run_id}/exceptions",
        json={"item_id": "human-oversight", "justification": "pilot with 5 internal users only", "version": 2},
    )
    assert r.status_code == 200, r.text
    r = eng.post(f"/api/v1/runs/{run_id}/submit", json={"version": r.json()["version"]})
    assert r.status_code == 409 and len(r.json()["unanswered"]) == 17
    r = eng.get(f"/api/v1/runs/{run_id}/open-items")
    assert r.status_code == 200 and len(r.json()) == 18


def test_permission_refusals_over_http(client_for: Any, run_id: int) -> None:
    viewer, eng = client_for("viewer"), client_for("engineer")
    r = viewer.post(
        "/api/v1/runs", json={"template": "ai-integration", "subject_type": "system", "subject_key": "support-chatbot"}
    )
    assert r.status_code == 403 and "reviews:run" in r.json()["detail"]
    r = viewer.patch(f"/api/v1/runs/{run_id}/items/fallback", json={"version": 1, "status": "pass"})
    assert r.status_code == 403
    eng.patch(f"/api/v1/runs/{run_id}/items/fallback", json={"version": 1, "status": "fail", "response": "none"})
    r = eng.post(
        f"/api/v1/runs/{run_id}/exceptions",
        json={"item_id": "fallback", "justification": "I say it is fine", "version": 2},
    )
    assert r.status_code == 403 and "reviews:exception" in r.json()["detail"]
    r = eng.post(f"/api/v1/runs/{run_id}/signoff", json={"decision": "approve", "version": 1})
    assert r.status_code == 403 and "reviews:signoff" in r.json()["detail"]
    assert client_for(None).get(f"/api/v1/runs/{run_id}").status_code == 401


def test_bad_answers_are_refused_with_what_is_allowed(client_for: Any, run_id: int) -> None:
    eng = client_for("engineer")
    r = eng.patch(f"/api/v1/runs/{run_id}/items/appeals", json={"version": 1, "status": "not_applicable"})
    assert r.status_code == 422 and "justification" in r.json()["detail"]
    r = eng.patch(f"/api/v1/runs/{run_id}/items/appeals", json={"version": 1, "status": "maybe"})
    assert r.status_code == 422 and "'pass', 'fail', 'needs_review' or 'not_applicable'" in r.json()["detail"]
    r = eng.patch(f"/api/v1/runs/{run_id}/items/appeals", json={"version": 1})
    assert r.status_code == 422 and "nothing to change" in r.json()["detail"]
    r = eng.patch(f"/api/v1/runs/{run_id}/items/appeals", json={"version": 7, "status": "pass"})
    assert r.status_code == 409 and r.json()["current_version"] == 1
    r = eng.post(f"/api/v1/runs/{run_id}/signoff", json={"decision": "reject", "version": 1})
    assert r.status_code == 422 and "reason is required" in r.json()["detail"]


def test_signoff_before_submission_is_an_illegal_transition(client_for: Any, run_id: int) -> None:
    r = client_for("governance").post(f"/api/v1/runs/{run_id}/signoff", json={"decision": "approve", "version": 1})
    assert r.status_code == 409
    assert r.json()["allowed"] == ["cancelled", "submitted"] and r.headers["content-type"] == PROBLEM


def test_runs_are_listed_by_subject_and_gate_facts_are_readable(client_for: Any, run_id: int) -> None:
    c = client_for("viewer")
    page = c.get("/api/v1/runs", params={"subject_type": "system", "subject_key": "support-chatbot"}).json()
    assert [r["id"] for r in page["items"]] == [run_id]
    facts = c.get("/api/v1/runs/facts", params={"subject_type": "system", "subject_key": "support-chatbot"}).json()
    assert facts["ethical_review"]["run_id"] == run_id and facts["ethical_review"]["approved"] is False
    r = c.get("/api/v1/runs/facts", params={"subject_type": "system", "subject_key": "nope"})
    assert r.status_code == 404


def test_evidence_is_uploaded_and_attached_to_an_item_in_one_request(client_for: Any, run_id: int) -> None:
    eng = client_for("engineer")
    r = eng.post(
        "/api/v1/evidence",
        files={"file": ("Bias_Testing_Report_v2.pdf", b"%PDF-1.7\nresults", "text/html")},  # header ignored
        data={"title": "Bias testing report", "run_id": str(run_id), "item_id": "bias-tested"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["media_type"] == "application/pdf"
    eng.patch(
        f"/api/v1/runs/{run_id}/items/bias-tested",
        json={"version": item_version(eng, run_id, "bias-tested"), "status": "pass", "response": "10 groups"},
    )
    run = eng.get(f"/api/v1/runs/{run_id}").json()
    bias = run["sections"][0]["items"][0]
    assert bias["effective_status"] == "pass" and bias["evidence"][0]["title"] == "Bias testing report"


def test_existing_evidence_is_attached_once_to_an_item(client_for: Any, run_id: int) -> None:
    eng = client_for("engineer")
    link = eng.post("/api/v1/evidence/links", json={"url": "https://wiki.example.com/oversight", "title": "HITL"})
    body = {"evidence_id": link.json()["id"]}
    r = eng.post(f"/api/v1/runs/{run_id}/items/human-oversight/evidence", json=body)
    assert r.status_code == 200, r.text
    again = eng.post(f"/api/v1/runs/{run_id}/items/human-oversight/evidence", json=body)
    item = next(i for s in again.json()["sections"] for i in s["items"] if i["item_id"] == "human-oversight")
    assert [e["title"] for e in item["evidence"]] == ["HITL"]
    r = eng.post(f"/api/v1/runs/{run_id}/items/human-oversight/evidence", json={"evidence_id": 99999})
    assert r.status_code == 404 and "no evidence with id 99999" in r.json()["detail"]
    r = client_for("viewer").post(f"/api/v1/runs/{run_id}/items/human-oversight/evidence", json=body)
    assert r.status_code == 403
