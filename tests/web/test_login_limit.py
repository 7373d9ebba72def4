"""Finding 2: one login limit for the console and POST /api/v1/auth/login, per username and per address."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from charter.access import login_limit
from charter.access.login_limit import MAX_FAILURES, MAX_PER_ADDRESS, MAX_PER_USER
from charter.http.app import create_app
from tests.web.conftest import PASSWORD, login


def api_login(client, username: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/auth/login", json={"username": username, "password": password})


def test_the_api_pauses_login_after_five_failures_even_for_the_right_password(browser_for, clock) -> None:
    client = browser_for(None)
    for _ in range(MAX_FAILURES):
        assert api_login(client, "engineer", "wrong").status_code == 401
    blocked = api_login(client, "engineer")
    assert blocked.status_code == 429, blocked.text
    assert blocked.headers["content-type"].startswith("application/problem+json")
    assert 0 < int(blocked.headers["retry-after"]) <= 15 * 60
    assert "too many failed logins for 'engineer'" in blocked.json()["detail"]
    clock.advance(timedelta(minutes=15, seconds=1))
    assert api_login(client, "engineer").status_code == 201


def test_console_and_api_failures_count_against_one_limit(browser_for) -> None:
    client = browser_for(None)
    for _ in range(3):
        assert login(client, "approver", "wrong").status_code == 401
    for _ in range(MAX_FAILURES - 3):
        assert api_login(client, "approver", "wrong").status_code == 401
    assert api_login(client, "approver").status_code == 429
    assert login(client, "approver").status_code == 429  # and the console is paused too


def test_a_successful_api_login_clears_the_count(browser_for) -> None:
    client = browser_for(None)
    for _ in range(MAX_FAILURES - 1):
        api_login(client, "auditor", "wrong")
    assert api_login(client, "auditor").status_code == 201
    assert api_login(client, "auditor", "wrong").status_code == 401
    assert api_login(client, "auditor").status_code == 201


def test_guessing_one_username_from_many_addresses_is_paused(session, clock) -> None:
    for i in range(MAX_PER_USER):
        login_limit.record_failure(session, clock, "governance", f"198.51.100.{i}")
    wait = login_limit.retry_after(session, clock, "governance", "203.0.113.77")  # a fresh address
    assert wait is not None and 0 < wait <= 15 * 60
    assert login_limit.retry_after(session, clock, "admin", "203.0.113.77") is None


def test_one_address_trying_many_usernames_is_paused(session, clock) -> None:
    for i in range(MAX_PER_ADDRESS):
        login_limit.record_failure(session, clock, f"user{i}", "198.51.100.9")
    assert login_limit.retry_after(session, clock, "someone-else", "198.51.100.9") is not None
    assert login_limit.retry_after(session, clock, "someone-else", "198.51.100.10") is None
    clock.advance(timedelta(minutes=15, seconds=1))
    assert login_limit.retry_after(session, clock, "someone-else", "198.51.100.9") is None


def test_the_limit_is_stored_so_another_server_process_sees_it(app, browser_for, settings, session_factory, clock):  # type: ignore[no-untyped-def]
    """Two app instances (as two workers would be) over one database share the count."""
    first = browser_for(None)
    for _ in range(MAX_FAILURES):
        api_login(first, "engineer", "wrong")
    other = TestClient(create_app(settings, session_factory=session_factory, clock=clock))
    assert api_login(other, "engineer").status_code == 429
