"""What every endpoint shares: problem+json errors, the body limit, request ids, metrics, readiness."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from charter.http.app import create_app
from charter.kit.settings import Settings

PROBLEM = "application/problem+json"
SYSTEM = {"key": "support-bot", "name": "Support bot", "deployment_type": "embedded"}


@pytest.fixture
def small_app(tmp_path, session_factory, clock):  # type: ignore[no-untyped-def]
    """An app that refuses request bodies over 1,000 bytes (CHARTER_MAX_BODY_BYTES)."""
    settings = Settings(env="test", data_dir=tmp_path / "data", max_body_bytes=1000)
    return create_app(settings, session_factory=session_factory, clock=clock)


def _authorised(app, client_for) -> TestClient:  # type: ignore[no-untyped-def]
    token = client_for("engineer").headers["Authorization"]
    c = TestClient(app)
    c.headers["Authorization"] = token
    return c


# ----------------------------------------------------------------------------- body limit


def test_a_body_over_the_limit_is_a_413_problem_and_stores_nothing(small_app, client_for) -> None:
    c = _authorised(small_app, client_for)
    r = c.post("/api/v1/systems", json={**SYSTEM, "description": "x" * 2000})
    assert r.status_code == 413
    assert r.headers["content-type"] == PROBLEM
    body = r.json()
    assert body["status"] == 413 and body["type"].endswith("/payload-too-large")
    assert body["detail"] == "the request body is larger than the limit of 1000 bytes (CHARTER_MAX_BODY_BYTES)"
    assert c.get("/api/v1/systems/support-bot").status_code == 404
    assert c.post("/api/v1/systems", json={**SYSTEM, "description": "fits"}).status_code == 201


def test_a_streamed_body_without_content_length_is_cut_off_at_the_limit(small_app, client_for) -> None:
    c = _authorised(small_app, client_for)

    def chunks() -> Iterator[bytes]:
        yield b'{"key": "support-bot", "name": "Support bot", "deployment_type": "embedded", "description": "'
        for _ in range(20):
            yield b"x" * 100
        yield b'"}'

    r = c.post("/api/v1/systems", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert r.headers["content-type"] == PROBLEM
    assert c.get("/api/v1/systems/support-bot").status_code == 404


def test_file_uploads_have_their_own_larger_limit(tmp_path, session_factory, clock, client_for) -> None:
    settings = Settings(env="test", data_dir=tmp_path / "data", max_body_bytes=1000, max_upload_bytes=5000)
    c = _authorised(create_app(settings, session_factory=session_factory, clock=clock), client_for)
    files = {"file": ("notes.txt", b"x" * 3000, "text/plain")}
    # Over the JSON limit but under the upload limit: the request reaches the endpoint (not a 413).
    assert c.post("/api/v1/evidence", files=files, data={"title": "notes"}).status_code != 413
    big = c.post("/api/v1/evidence", files={"file": ("big.txt", b"x" * 6000, "text/plain")}, data={"title": "b"})
    assert big.status_code == 413
    assert big.json()["detail"] == "the request body is larger than the limit of 5000 bytes (CHARTER_MAX_UPLOAD_BYTES)"


# ----------------------------------------------------------------------------- problem+json everywhere


def test_an_unknown_route_is_a_404_problem(client_for) -> None:
    r = client_for(None).get("/api/v1/no-such-thing")
    assert r.status_code == 404
    assert r.headers["content-type"] == PROBLEM
    assert r.json() == {
        "type": "https://charter.dev/problems/not-found",
        "title": "Not found",
        "status": 404,
        "detail": "no such endpoint: GET /api/v1/no-such-thing (see /docs)",
    }


def test_a_wrong_method_is_a_405_problem_naming_the_allowed_ones(client_for) -> None:
    r = client_for("viewer").delete("/api/v1/systems")
    assert r.status_code == 405
    assert r.headers["content-type"] == PROBLEM
    assert r.json()["detail"].startswith("DELETE is not allowed on /api/v1/systems; allowed: ")
    assert "GET" in r.headers["allow"]


def test_validation_errors_are_422_problems_with_errors_and_a_readable_detail(client_for) -> None:
    r = client_for("engineer").post("/api/v1/systems", json={"key": "ok-key", "name": "", "deployment_type": "x"})
    assert r.status_code == 422
    assert r.headers["content-type"] == PROBLEM
    body = r.json()
    assert body["type"] == "https://charter.dev/problems/validation-error"
    assert body["title"] == "Invalid input"
    assert body["detail"] == "name: String should have at least 1 character (and 1 more problem)"
    assert [e["loc"] for e in body["errors"]] == [["body", "name"], ["body", "deployment_type"]]
    assert all(e["msg"] and e["type"] for e in body["errors"])


def test_a_missing_body_says_so(client_for) -> None:
    r = client_for("engineer").post("/api/v1/systems")
    assert r.status_code == 422
    assert r.json()["detail"] == "the request body: Field required"


def test_domain_and_request_validation_errors_share_one_problem_type(client_for) -> None:
    viewer = client_for("viewer")
    from_schema = viewer.get("/api/v1/systems", params={"limit": 0}).json()
    from_service = viewer.get("/api/v1/systems", params={"sort": "nope"}).json()
    assert from_schema["type"] == from_service["type"] == "https://charter.dev/problems/validation-error"


def test_an_unexpected_error_is_a_500_problem_with_the_request_id(app, client_for) -> None:
    @app.get("/api/v1/boom")
    def boom() -> None:
        raise RuntimeError("kaboom")

    r = TestClient(app, raise_server_exceptions=False).get("/api/v1/boom", headers={"X-Request-ID": "rid-500"})
    assert r.status_code == 500
    assert r.headers["content-type"] == PROBLEM
    assert "kaboom" not in r.text  # no internals leak
    assert r.json()["detail"].endswith("report request id rid-500 to your administrator")


# ----------------------------------------------------------------------------- request ids


def test_every_response_carries_a_request_id(client_for) -> None:
    anon = client_for(None)
    given = anon.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    made = anon.get("/healthz").headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", made)
    assert anon.get("/api/v1/systems", headers={"X-Request-ID": "on-401"}).headers["x-request-id"] == "on-401"


# ----------------------------------------------------------------------------- metrics and health


def _count(text: str, method: str, route: str, status: str) -> float:
    pattern = (
        r"^charter_http_requests_total\{"
        + rf'method="{method}",route="{re.escape(route)}",status="{status}"'
        + r"\} (\S+)$"
    )
    m = re.search(pattern, text, re.MULTILINE)
    return float(m.group(1)) if m else 0.0


def test_metrics_count_requests_per_route_template_and_status(client_for) -> None:
    viewer = client_for("viewer")
    viewer.get("/api/v1/systems")
    viewer.get("/api/v1/systems")
    viewer.get("/api/v1/systems/one")
    viewer.get("/api/v1/systems/two")
    viewer.get("/api/v1/nowhere/42")
    r = client_for(None).get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert _count(text, "GET", "/api/v1/systems", "200") == 2
    assert _count(text, "GET", "/api/v1/systems/{key}", "404") == 2  # one label for every key
    assert _count(text, "GET", "unmatched", "404") == 1  # unknown paths do not create labels
    assert "/api/v1/systems/one" not in text and "/api/v1/nowhere/42" not in text
    assert 'charter_http_request_seconds_bucket{le="0.005",method="GET",route="/api/v1/systems"}' in text


def test_readyz_reports_ready_when_the_database_is_current(client_for) -> None:
    r = client_for(None).get("/readyz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ready" and body["current"] is True
    assert body["database_revision"] == body["code_revision"]


def test_readyz_is_a_503_problem_when_the_database_is_unreachable(tmp_path) -> None:
    broken = create_engine(f"sqlite:///{tmp_path}/missing/dir/charter.db")
    app = create_app(Settings(env="test", data_dir=tmp_path / "data"), session_factory=sessionmaker(bind=broken))
    r = TestClient(app).get("/readyz")
    assert r.status_code == 503
    assert r.headers["content-type"] == PROBLEM
    assert r.json()["detail"].startswith("database unreachable")
    assert TestClient(app).get("/healthz").status_code == 200  # alive, just not ready


def test_health_docs_and_openapi_need_no_token(client_for) -> None:
    anon = client_for(None)
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"):
        assert anon.get(path).status_code == 200, path
    paths = anon.get("/openapi.json").json()["paths"]
    assert "/api/v1/systems" in paths and "/api/v1/systems/{key}/transitions" in paths
