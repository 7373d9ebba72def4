from __future__ import annotations


def test_health_needs_no_token(client_for) -> None:
    r = client_for(None).get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


def test_readyz_reports_migrations_current(client_for) -> None:
    r = client_for(None).get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json()["current"] is True


def test_api_refuses_anonymous_requests_with_problem_json(client_for) -> None:
    r = client_for(None).get("/api/v1/systems")
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"
    assert "Bearer" in r.json()["detail"]
