"""Findings 6 and 7: NUL in text and integers beyond the database's range are answered 422, never 500."""

from __future__ import annotations

import pytest

from tests.conftest import is_postgres

BIG64 = 9223372036854775808  # 2**63: beyond SQLite's and PostgreSQL's bigint
BIG32 = 2147483648  # 2**31: beyond PostgreSQL's integer


def assert_client_error(r, field: str | None = None) -> None:  # type: ignore[no-untyped-def]
    assert r.status_code < 500, r.text
    if r.status_code >= 400:
        assert r.headers["content-type"].startswith("application/problem+json")
    if r.status_code == 422 and field is not None:
        assert field in r.json()["detail"]


def test_a_nul_in_the_login_username_is_a_client_error(client_for) -> None:  # type: ignore[no-untyped-def]
    r = client_for(None).post("/api/v1/auth/login", json={"username": "ad\u0000min", "password": "x" * 12})
    assert_client_error(r, "username")
    if is_postgres():
        assert r.status_code == 422 and "NUL" in r.json()["detail"]


def test_a_nul_in_stored_text_is_a_client_error(client_for) -> None:  # type: ignore[no-untyped-def]
    r = client_for("admin").post(
        "/api/v1/systems", json={"key": "nul-sys", "name": "Bad\u0000name", "deployment_type": "embedded"}
    )
    assert_client_error(r, "name")


def test_a_nul_in_a_search_is_a_client_error(client_for) -> None:  # type: ignore[no-untyped-def]
    r = client_for("admin").get("/api/v1/systems", params={"q": "a\u0000b"})
    assert_client_error(r)


@pytest.mark.parametrize(
    "path",
    [
        f"/api/v1/audit/entries/{BIG64}",
        f"/api/v1/audit/entries/{BIG32}",
        f"/api/v1/runs/{BIG32}",
        f"/api/v1/runs/{BIG64}",
        f"/api/v1/redteam/runs/{BIG64}",
    ],
)
def test_numbers_beyond_the_database_range_in_a_path_are_client_errors(client_for, path: str) -> None:  # type: ignore[no-untyped-def]
    r = client_for("admin").get(path)
    assert r.status_code in (404, 422), r.text
    assert r.headers["content-type"].startswith("application/problem+json")


# Finding 8: two inputs that crashed their parsers.


@pytest.mark.parametrize("duration", [{}, [], {"m": 5}])
def test_an_alert_rule_duration_of_the_wrong_json_type_is_a_422_naming_it(client_for, duration: object) -> None:  # type: ignore[no-untyped-def]
    c = client_for("admin")
    r = c.post(
        "/api/v1/systems/s8/alert-rules", json={"name": "x", "metric": "m", "op": ">", "threshold": 1, "for": duration}
    )
    assert r.status_code == 422, r.text
    assert r.json()["detail"].startswith("for: a duration is")


def test_a_control_character_in_a_matrix_source_is_a_422_with_its_place(client_for) -> None:  # type: ignore[no-untyped-def]
    r = client_for("admin").post("/api/v1/risk-matrices", json={"source": "name: x\nM\u0013Q: 1\n"})
    assert r.status_code == 422, r.text
    assert r.json()["detail"] == "matrix.yaml:2: column 2: character U+0013 is not allowed in YAML"
