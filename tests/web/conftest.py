"""Console fixtures: an HTTP client signed in through the real login form."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

import charter.web.models  # noqa: F401  (console tables exist before the engine fixture's create_all)
from charter.access.service import hash_password
from charter.web.auth.session import COOKIE, start

PASSWORD = "correct horse battery"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives Chromium against a live server (select with -m browser)")


_HASH = hash_password(PASSWORD)
META_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]*)"')
LOGIN_CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')


class Browser(TestClient):
    """A TestClient with the session's CSRF token at hand."""

    csrf: str = ""

    def refresh_csrf(self, path: str = "/") -> str:
        match = META_CSRF.search(self.get(path).text)
        self.csrf = match.group(1) if match else ""
        return self.csrf

    def submit(self, path: str, data: dict[str, object] | None = None, **kwargs: object):  # type: ignore[no-untyped-def]
        """POST a form the way the page would: with the CSRF field."""
        body = {"csrf_token": self.csrf, **(data or {})}
        return self.post(path, data=body, follow_redirects=False, **kwargs)  # type: ignore[arg-type]


def login(client: TestClient, username: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    page = client.get("/login")
    token = LOGIN_CSRF.search(page.text)
    assert token, page.text
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token.group(1), "next": "/"},
        follow_redirects=False,
    )


BrowserFor = Callable[..., Browser]


@pytest.fixture
def browser_for(app, actors, session: Session, clock) -> BrowserFor:  # type: ignore[no-untyped-def]
    """browser_for('engineer') is a client signed in as that role's user; browser_for(None) is anonymous.

    By default the session is opened directly (argon2 is slow by design); via_form=True signs in through
    the real login form, as tests of the login itself do.
    """
    for user in actors.users.values():
        user.password_hash = _HASH
    session.commit()

    def make(role: str | None, via_form: bool = False) -> Browser:
        client = Browser(app, raise_server_exceptions=True)
        if role is None:
            return client
        if via_form:
            response = login(client, role)
            assert response.status_code == 303, response.text
        else:
            _row, clear = start(session, clock, actors.users[role], lifetime=timedelta(hours=12))
            session.commit()
            client.cookies.set(COOKIE, clear)
        client.refresh_csrf()
        return client

    return make
