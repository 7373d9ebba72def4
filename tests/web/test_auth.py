"""Console sign-in, sessions, CSRF, rate limit and security headers (HTTP level; the browser tests drive Chromium)."""

from __future__ import annotations

from datetime import timedelta

from charter.access.login_limit import MAX_FAILURES
from tests.web.conftest import LOGIN_CSRF, login


def test_anonymous_visitor_is_sent_to_the_login_page_with_the_page_they_wanted(browser_for) -> None:
    r = browser_for(None).get("/systems?stage=pilot", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=%2Fsystems%3Fstage%3Dpilot"


def test_login_sets_a_hardened_session_cookie_and_lands_on_the_dashboard(browser_for) -> None:
    client = browser_for(None)
    r = login(client, "engineer")
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = r.headers["set-cookie"]
    assert "charter_session=" in cookie
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain http in tests; set on https
    page = client.get("/")
    assert page.status_code == 200
    assert "Dashboard" in page.text and "engineer" in page.text


def test_wrong_password_says_so_and_counts_down_the_attempts(browser_for) -> None:
    r = login(browser_for(None), "engineer", "not the password")
    assert r.status_code == 401
    assert "Unknown user or wrong password" in r.text
    assert f"{MAX_FAILURES - 1} more attempts" in r.text


def test_login_is_paused_after_five_failures_and_resumes_after_the_window(browser_for, clock) -> None:
    client = browser_for(None)
    for _ in range(MAX_FAILURES):
        assert login(client, "approver", "wrong").status_code == 401
    blocked = login(client, "approver")  # even the right password
    assert blocked.status_code == 429
    assert "Too many failed sign-ins" in blocked.text and "try again in 15 minutes" in blocked.text
    assert int(blocked.headers["retry-after"]) > 0
    clock.advance(timedelta(minutes=15, seconds=1))
    assert login(client, "approver").status_code == 303


def test_rate_limit_is_per_username(browser_for) -> None:
    client = browser_for(None)
    for _ in range(MAX_FAILURES):
        login(client, "approver", "wrong")
    assert login(client, "auditor").status_code == 303


def test_login_form_without_its_token_is_refused(browser_for) -> None:
    client = browser_for(None)
    r = client.post("/login", data={"username": "engineer", "password": "x" * 20}, follow_redirects=False)
    assert r.status_code == 403
    assert "sign-in form expired" in r.text


def test_next_parameter_cannot_redirect_off_site(browser_for) -> None:
    client = browser_for(None)
    page = client.get("/login")
    token = LOGIN_CSRF.search(page.text).group(1)  # type: ignore[union-attr]
    from tests.web.conftest import PASSWORD

    r = client.post(
        "/login",
        data={"username": "viewer", "password": PASSWORD, "csrf_token": token, "next": "//evil.example/x"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/"


def test_logout_revokes_the_session_at_once(browser_for) -> None:
    client = browser_for("engineer", via_form=True)
    stolen = client.cookies.get("charter_session")
    r = client.submit("/logout")
    assert r.status_code == 303 and r.headers["location"] == "/login"
    replay = browser_for(None)
    replay.cookies.set("charter_session", stolen)
    assert replay.get("/", follow_redirects=False).status_code == 303


def test_disabling_a_user_ends_their_open_session(browser_for, actors, session) -> None:
    client = browser_for("engineer")
    assert client.get("/", follow_redirects=False).status_code == 200
    actors.users["engineer"].disabled = True
    session.commit()
    assert client.get("/", follow_redirects=False).status_code == 303


def test_idle_session_expires(browser_for, clock) -> None:
    client = browser_for("engineer")
    clock.advance(timedelta(hours=2, minutes=1))
    assert client.get("/", follow_redirects=False).status_code == 303


def test_post_without_csrf_token_is_refused(browser_for) -> None:
    client = browser_for("engineer")
    r = client.post("/systems", data={"key": "x-system", "name": "X"}, follow_redirects=False)
    assert r.status_code == 403
    assert "security token is missing" in r.text


def test_post_with_another_sessions_token_is_refused(browser_for) -> None:
    mine = browser_for("engineer")
    other = browser_for("governance")
    mine.csrf = other.csrf
    r = mine.submit("/systems", {"key": "x-system", "name": "X", "deployment_type": "embedded"})
    assert r.status_code == 403


def test_console_pages_carry_security_headers(browser_for) -> None:
    r = browser_for("viewer").get("/")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "same-origin"
    assert r.headers["x-frame-options"] == "DENY"


def test_static_assets_are_cached_by_content_hash(browser_for) -> None:
    from charter.web.static_files import static_url

    client = browser_for(None)
    url = static_url("htmx.min.js")
    r = client.get(url)
    assert r.status_code == 200
    assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert r.headers["content-type"].startswith("text/javascript")
    assert client.get(url, headers={"if-none-match": r.headers["etag"]}).status_code == 304
    assert client.get("/static/htmx.min.js").headers["cache-control"] == "no-cache"
    assert client.get("/static/../settings.py").status_code == 404


def test_api_accepts_the_session_cookie_for_reads(browser_for) -> None:
    client = browser_for("engineer")
    r = client.get("/api/v1/auth/me")
    assert r.status_code == 200 and r.json()["username"] == "engineer"


def test_api_write_by_cookie_needs_the_csrf_header(browser_for) -> None:
    client = browser_for("engineer")
    body = {"key": "cookie-system", "name": "Cookie", "deployment_type": "embedded"}
    refused = client.post("/api/v1/systems", json=body)
    assert refused.status_code == 403
    assert "X-CSRF-Token" in refused.json()["detail"]
    ok = client.post("/api/v1/systems", json=body, headers={"X-CSRF-Token": client.csrf})
    assert ok.status_code == 201, ok.text
