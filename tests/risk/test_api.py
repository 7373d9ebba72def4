"""The risk API over HTTP: the happy path, permission refusals and problem+json answers."""

from __future__ import annotations

import pytest
from tests.risk.conftest import CHATBOT
from tests.risk.test_service import THREE_BY_THREE

PROBLEM = "application/problem+json"
SEED_HIGH = {"system": CHATBOT, "title": "Hallucination in Medical Advice", "category": "Safety",
             "likelihood": "LIKELY", "impact": "CATASTROPHIC"}  # fmt: skip


def test_a_risk_goes_through_its_lifecycle_over_http(client_for, system) -> None:
    eng, gov = client_for("engineer"), client_for("governance")
    r = eng.post("/api/v1/risks", json=SEED_HIGH)
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["key"], body["score"], body["level"], body["status"]) == ("RISK-0001", 20, "HIGH", "assessed")
    assert body["allowed_transitions"] == ["treating"]

    r = eng.post("/api/v1/risks/RISK-0001/transitions", json={"to": "treating", "version": body["version"]})
    assert r.status_code == 200, r.text
    r = eng.post("/api/v1/risks/RISK-0001/mitigations", json={"description": "Cite sources", "due_date": "2026-02-01"})
    assert r.status_code == 201 and r.json()["number"] == 1
    r = eng.patch("/api/v1/risks/RISK-0001/mitigations/1", json={"version": 1, "status": "done"})
    assert r.json()["status"] == "done" and r.json()["completed_at"]
    version = eng.get("/api/v1/risks/RISK-0001").json()["version"]
    r = eng.post(
        "/api/v1/risks/RISK-0001/assess",
        json={"version": version, "residual_likelihood": "RARE", "residual_impact": "CATASTROPHIC"},
    )
    assert (r.json()["residual_score"], r.json()["level"]) == (5, "LOW")
    r = gov.post(
        "/api/v1/risks/RISK-0001/accept",
        json={
            "version": r.json()["version"],
            "justification": "Residual is low after grounding",
            "expires_at": "2026-06-30",
        },
    )
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["accepted_by"]) == ("accepted", "governance")

    detail = client_for("auditor").get("/api/v1/risks/RISK-0001").json()
    assert [a["kind"] for a in detail["assessments"]] == ["inherent", "residual"]
    assert detail["mitigations"][0]["description"] == "Cite sources"
    audit = client_for("auditor").get("/api/v1/audit/entries", params={"entity_id": "RISK-0001"}).json()["items"]
    assert {e["action"] for e in audit} >= {"risk.identified", "risk.assessed", "risk.status.treating", "risk.accepted"}


@pytest.mark.parametrize(
    ("role", "method", "path", "body", "permission"),
    [
        ("viewer", "post", "/api/v1/risks", SEED_HIGH, "risks:write"),
        ("auditor", "post", "/api/v1/risks", SEED_HIGH, "risks:write"),
        (
            "approver",
            "post",
            "/api/v1/risks/RISK-0001/assess",
            {"version": 1, "likelihood": 1, "impact": 1},
            "risks:write",
        ),
        (
            "engineer",
            "post",
            "/api/v1/risks/RISK-0001/accept",
            {"version": 3, "justification": "x" * 30, "expires_at": "2026-06-01"},
            "risks:accept",
        ),
        (
            "approver",
            "post",
            "/api/v1/risks/RISK-0001/accept",
            {"version": 3, "justification": "x" * 30, "expires_at": "2026-06-01"},
            "risks:accept",
        ),
        ("engineer", "post", "/api/v1/risk-matrices", {"source": THREE_BY_THREE}, "risks:matrix"),
        ("engineer", "post", "/api/v1/risk-categories", {"key": "env", "label": "Env"}, "risks:matrix"),
        ("viewer", "post", "/api/v1/risks/import", None, "risks:write"),
    ],
)
def test_permission_refusals_name_the_missing_permission(
    client_for, system, role: str, method: str, path: str, body: object, permission: str
) -> None:
    client_for("engineer").post("/api/v1/risks", json=SEED_HIGH)
    c = client_for(role)
    kwargs = {"json": body} if body is not None else {"content": b"system,title,category\n"}
    r = getattr(c, method)(path, **kwargs)
    assert r.status_code == 403, r.text
    assert r.headers["content-type"] == PROBLEM
    assert r.json()["required"] == permission
    assert f"(needs '{permission}')" in r.json()["detail"]


def test_a_token_without_the_scope_is_refused_naming_it(client_for, system) -> None:
    c = client_for("engineer", scopes=["risks:read"])
    assert c.get("/api/v1/risks").status_code == 200
    r = c.post("/api/v1/risks", json=SEED_HIGH)
    assert r.status_code == 403 and "lacks the scope 'risks:write'" in r.json()["detail"]


def test_self_acceptance_is_refused_over_http(client_for, actors, system) -> None:
    actors.add_user("grace", "governance")
    grace = client_for("governance", username="grace")
    r = grace.post("/api/v1/risks", json={**SEED_HIGH, "residual_likelihood": 2, "residual_impact": 5})
    grace.post("/api/v1/risks/RISK-0001/transitions", json={"to": "treating", "version": r.json()["version"]})
    r = grace.post("/api/v1/risks/RISK-0001/accept",
                   json={"version": 2, "justification": "x" * 30, "expires_at": "2026-06-01"})  # fmt: skip
    assert r.status_code == 403
    assert r.json()["rule"] == "separation-of-duties"


def test_anonymous_requests_are_refused(client_for) -> None:
    assert client_for(None).get("/api/v1/risks").status_code == 401


@pytest.mark.parametrize(
    ("path", "body", "status", "detail"),
    [
        (
            "/api/v1/risks/RISK-0001/transitions",
            {"to": "closed", "version": 1},
            409,
            "risk RISK-0001 cannot move from 'assessed' to 'closed'. Allowed from 'assessed': treating.",
        ),
        (
            "/api/v1/risks/RISK-0001/transitions",
            {"to": "treating", "version": 5},
            409,
            "risk RISK-0001 was changed by someone else: you sent version 5, the current version is 1.",
        ),
        ("/api/v1/risks/RISK-0001/transitions", {"to": "retired", "version": 1}, 422, "to: Input should be"),
        ("/api/v1/risks/RISK-0404/transitions", {"to": "treating", "version": 1}, 404, "no risk with key 'RISK-0404'"),
        (
            "/api/v1/risks/RISK-0001/assess",
            {"version": 1, "likelihood": 7, "impact": 1},
            422,
            "likelihood 7 is not on the seed-5x5@1 scale; use one of: 1 RARE",
        ),
    ],
)
def test_refusals_say_what_was_wrong_and_what_is_allowed(
    client_for, system, path: str, body: dict[str, object], status: int, detail: str
) -> None:
    eng = client_for("engineer")
    eng.post("/api/v1/risks", json=SEED_HIGH)
    r = eng.post(path, json=body)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM
    assert r.json()["detail"].startswith(detail)


def test_views_over_http(client_for, system) -> None:
    eng = client_for("engineer")
    eng.post("/api/v1/risks", json=SEED_HIGH)
    eng.post("/api/v1/risks", json={"system": CHATBOT, "title": "PII Leakage", "category": "privacy",
                                    "likelihood": "POSSIBLE", "impact": "MAJOR"})  # fmt: skip
    viewer = client_for("viewer")
    page = viewer.get("/api/v1/risks", params={"level": "MEDIUM"}).json()
    assert [x["title"] for x in page["items"]] == ["PII Leakage"]
    page = viewer.get("/api/v1/risks", params={"limit": 1, "sort": "-score"}).json()
    assert page["items"][0]["key"] == "RISK-0001" and page["next_cursor"]

    report = viewer.get("/api/v1/risks/report", params={"system": CHATBOT})
    assert report.headers["content-type"].startswith("text/plain")
    assert report.text.index("Hallucination") < report.text.index("PII Leakage")

    heat = viewer.get("/api/v1/risks/heatmap").json()
    assert heat["grids"][0]["inherent_total"] == 2

    export = viewer.get("/api/v1/risks/export.csv", params={"system": CHATBOT})
    assert export.headers["content-type"].startswith("text/csv")
    assert "attachment" in export.headers["content-disposition"]
    assert export.text.splitlines()[1].startswith("RISK-0001,support-chatbot,Hallucination in Medical Advice")

    facts = viewer.get("/api/v1/risks/facts", params={"system": CHATBOT}).json()
    assert (facts["open_high_without_mitigation"], facts["open_by_level"]["MEDIUM"]) == (1, 1)


def test_csv_import_over_http_reports_row_errors_and_imports_nothing(client_for, system) -> None:
    eng = client_for("engineer")
    bad = f"system,title,category,likelihood,impact\n{CHATBOT},A,privacy,3,4\n{CHATBOT},B,privacy,3,0\n".encode()
    r = eng.post("/api/v1/risks/import", content=bad, headers={"content-type": "text/csv"})
    assert r.status_code == 422
    assert r.json()["errors"][0]["row"] == 3 and r.json()["errors"][0]["column"] == "impact"
    assert eng.get("/api/v1/risks").json()["items"] == []
    good = bad.replace(b"3,0", b"3,1")
    r = eng.post("/api/v1/risks/import", content=good, headers={"content-type": "text/csv"}, params={"dry_run": True})
    assert r.json() == {"dry_run": True, "rows": 2, "created": []}
    r = eng.post("/api/v1/risks/import", content=good, headers={"content-type": "text/csv"})
    assert r.json()["created"] == ["RISK-0001", "RISK-0002"]


def test_matrix_install_over_http(client_for, system) -> None:
    gov = client_for("governance")
    broken = THREE_BY_THREE.replace("review_days: 45", "review_days: 0")
    r = gov.post("/api/v1/risk-matrices", json={"source": broken, "filename": "org-3x3.yaml"})
    assert r.status_code == 422
    assert r.json()["errors"] == [
        {
            "file": "org-3x3.yaml",
            "line": 15,
            "field": "levels[2].review_days",
            "msg": "Input should be greater than or equal to 1",
        }
    ]
    assert r.json()["detail"] == "org-3x3.yaml:15: levels[2].review_days: Input should be greater than or equal to 1"
    r = gov.post("/api/v1/risk-matrices", json={"source": THREE_BY_THREE, "filename": "org-3x3.yaml"})
    assert r.status_code == 201 and r.json()["active"] is True
    listed = {m["name"]: m["active"] for m in client_for("viewer").get("/api/v1/risk-matrices").json()}
    assert listed == {"org-3x3": True, "seed-5x5": False}
    r = client_for("engineer").post("/api/v1/risks", json={**SEED_HIGH, "likelihood": 3, "impact": 3})
    assert (r.json()["matrix"], r.json()["level"]) == ("org-3x3", "HIGH")
    r = gov.post("/api/v1/risk-matrices/seed-5x5/1/activate")
    assert r.json()["active"] is True
    assert client_for("viewer").get("/api/v1/risk-matrices/nope").status_code == 404


def test_categories_over_http(client_for) -> None:
    r = client_for("governance").post(
        "/api/v1/risk-categories", json={"key": "environmental", "label": "Environmental"}
    )
    assert r.status_code == 201
    cats = client_for("viewer").get("/api/v1/risk-categories").json()
    assert [c["key"] for c in cats][-1] == "environmental" and len(cats) == 9
