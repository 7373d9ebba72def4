"""Incidents over HTTP: what a user of the API sees, good input and bad."""

from __future__ import annotations

from tests.incidents.conftest import SYSTEM

BASE = "/api/v1/incidents"


def opened(client, severity: str = "CRITICAL", **extra):  # type: ignore[no-untyped-def]
    r = client.post(BASE, json={"title": "Harmful content", "system": SYSTEM, "severity": severity, **extra})
    assert r.status_code == 201, r.text
    return r.json()


def test_open_read_list_and_walk_an_incident(client_for, system) -> None:
    eng = client_for("engineer")
    inc = opened(eng, "LOW", harm_category="privacy")
    assert inc["key"] == "INC-2026-0001" and inc["commander"] == "engineer"
    assert inc["escalation"]["level"] == 1 and inc["escalation"]["policy"] == "default"
    assert any(lk["kind"] == "procedure_run" for lk in inc["links"])
    assert client_for("viewer").get(f"{BASE}/{inc['key']}").json()["status"] == "open"
    page = client_for("viewer").get(BASE, params={"severity": "LOW"}).json()
    assert [i["key"] for i in page["items"]] == [inc["key"]]
    r = eng.post(f"{BASE}/{inc['key']}/transitions", json={"to": "investigating", "version": inc["version"]})
    assert r.status_code == 200 and r.json()["acknowledged_by"] == "engineer"
    r = eng.post(f"{BASE}/{inc['key']}/timeline", json={"body": "found the prompt"})
    assert r.status_code == 201 and r.json()["author"] == "engineer"
    timeline = eng.get(f"{BASE}/{inc['key']}/timeline").json()
    assert [t["event"] for t in timeline][-2:] == ["status", None]


def test_unknown_severity_is_a_clear_422(client_for, system) -> None:
    r = client_for("engineer").post(BASE, json={"title": "x y z", "system": SYSTEM, "severity": "SEV1"})
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["detail"] == "unknown severity 'SEV1'; allowed: LOW, MEDIUM, HIGH, CRITICAL"


def test_acknowledging_a_closed_incident_is_a_clear_409(client_for, system) -> None:
    eng, gov = client_for("engineer"), client_for("governance")
    inc = opened(eng, "LOW")
    inc = eng.post(f"{BASE}/{inc['key']}/transitions", json={"to": "resolved", "version": inc["version"]}).json()
    inc = gov.post(f"{BASE}/{inc['key']}/transitions", json={"to": "closed", "version": inc["version"]}).json()
    r = eng.post(f"{BASE}/{inc['key']}/ack")
    assert r.status_code == 409
    assert r.json()["detail"].startswith(f"incident {inc['key']} is closed: only ongoing incidents can be acknowledged")


def test_flagging_serious_without_awareness_time_is_a_clear_422(client_for, system) -> None:
    eng = client_for("engineer")
    inc = opened(eng)
    r = eng.post(f"{BASE}/{inc['key']}/serious", json={"case": "death"})
    assert r.status_code == 422
    assert "aware_at is required" in r.json()["detail"]
    r = eng.post(f"{BASE}/{inc['key']}/serious", json={"case": "death", "aware_at": "2026-01-01T08:00:00Z"})
    assert r.status_code == 200, r.text
    reg = r.json()["regulatory"]
    assert (reg["deadline"], reg["time_left"]) == ("2026-01-11T08:00:00Z", "9d 23h")


def test_illegal_moves_and_stale_versions_are_409_with_what_is_allowed(client_for, system) -> None:
    eng = client_for("engineer")
    inc = opened(eng, "LOW")
    r = eng.post(f"{BASE}/{inc['key']}/transitions", json={"to": "closed", "version": inc["version"]})
    assert r.status_code == 409 and r.json()["allowed"] == [
        "declined",
        "duplicate",
        "investigating",
        "mitigated",
        "resolved",
    ]
    r = eng.post(f"{BASE}/{inc['key']}/transitions", json={"to": "investigating", "version": 99})
    assert r.status_code == 409 and r.json()["current_version"] == inc["version"]


def test_permissions(client_for, system) -> None:
    r = client_for("viewer").post(BASE, json={"title": "x y z", "system": SYSTEM, "severity": "LOW"})
    assert r.status_code == 403 and "incidents:write" in r.json()["detail"]
    assert client_for("engineer").post(f"{BASE}/escalation-policies", json={"definition": {}}).status_code == 403
    assert client_for("engineer").post(f"{BASE}/sweep").status_code == 403


def test_postmortem_over_http_with_markdown_export(client_for, system) -> None:
    eng, gov = client_for("engineer"), client_for("governance")
    inc = opened(eng, "HIGH")
    pm = eng.put(
        f"{BASE}/{inc['key']}/postmortem",
        json={
            "summary": "s",
            "impact_harm": "h",
            "detection": "d",
            "root_cause": "r",
            "five_whys": ["a", "b"],
        },
    ).json()
    assert pm["status"] == "draft" and pm["author"] == "engineer"
    r = eng.post(f"{BASE}/{inc['key']}/postmortem/submit", json={"version": pm["version"]})
    assert r.json()["status"] == "in_review"
    r = eng.post(f"{BASE}/{inc['key']}/postmortem/approve", json={"version": r.json()["version"]})
    assert r.status_code == 403  # engineers do not sign off
    r = gov.post(f"{BASE}/{inc['key']}/postmortem/approve", json={"version": pm["version"] + 1})
    assert r.status_code == 200 and r.json()["approved_by"] == "governance"
    r = eng.post(
        f"{BASE}/{inc['key']}/postmortem/actions",
        json={"title": "Add a red-team gate", "owner": "engineer", "due_date": "2026-02-01"},
    )
    assert r.status_code == 201, r.text
    item = r.json()
    r = eng.patch(f"{BASE}/actions/{item['id']}", json={"version": item["version"], "status": "in_progress"})
    assert r.json()["status"] == "in_progress"
    md = client_for("viewer").get(f"{BASE}/{inc['key']}/postmortem.md")
    assert md.headers["content-type"].startswith("text/markdown")
    assert md.text.startswith(f"# Postmortem: {inc['key']}")


def test_policies_catalog_and_metrics(client_for, system) -> None:
    admin = client_for("admin")
    r = admin.post(
        f"{BASE}/escalation-policies",
        json={
            "definition": {
                "key": "night",
                "name": "Night shift",
                "ack_timeouts": {"CRITICAL": "5m"},
                "levels": [{"notify": [{"user": "engineer"}]}],
            }
        },
    )
    assert r.status_code == 201, r.text
    keys = {p["key"]: p["origin"] for p in client_for("viewer").get(f"{BASE}/escalation-policies").json()}
    assert keys == {"default": "shipped", "night": "installed"}
    bad = admin.post(f"{BASE}/escalation-policies", json={"definition": {"key": "x", "name": "x", "ack_timeouts": {}}})
    assert bad.status_code == 422 and "levels" in bad.json()["detail"]
    cat = client_for("viewer").get(f"{BASE}/catalog").json()
    assert [s["key"] for s in cat["severities"]] == ["LOW", "MEDIUM", "HIGH", "CRITICAL"]
    assert cat["serious_incident_cases"]["death"]["days"] == 10
    opened(client_for("engineer"))
    m = client_for("viewer").get(f"{BASE}/metrics").json()
    assert m["incidents"] == 1 and m["by_severity"] == {"CRITICAL": 1}


def test_a_machine_token_opens_incidents_with_source_api(client_for, system) -> None:
    pipeline = client_for("engineer", scopes=["incidents:write", "incidents:read"])
    inc = opened(pipeline, "MEDIUM")
    assert inc["source"] == "api" and inc["reporter"].startswith("token:")
    assert inc["commander"] == "engineer"  # the token's owner
