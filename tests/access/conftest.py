"""Helpers for the access tests: machine tokens as HTTP clients, users with passwords."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from charter.access.models import ApiToken
from charter.access.schemas import TokenCreate
from charter.access.service import hash_password, issue_token

PASSWORD = "correct horse battery"


@pytest.fixture
def machine_token(actors, session) -> Callable[..., tuple[ApiToken, str]]:  # type: ignore[no-untyped-def]
    """machine_token('engineer', scopes=None, expires_in_days=None) -> (row, clear text), committed."""

    def make(username: str, scopes: list[str] | None = None, expires_in_days: int | None = None):  # type: ignore[no-untyped-def]
        data = TokenCreate(name=f"ci-{username}", username=username, scopes=scopes, expires_in_days=expires_in_days)
        token, clear = issue_token(actors.ctx("admin"), data)
        session.commit()
        return token, clear

    return make


@pytest.fixture
def bearer(app) -> Callable[[str], TestClient]:  # type: ignore[no-untyped-def]
    def make(clear: str) -> TestClient:
        c = TestClient(app)
        c.headers["Authorization"] = f"Bearer {clear}"
        return c

    return make


@pytest.fixture
def with_passwords(actors, session) -> str:  # type: ignore[no-untyped-def]
    """Give every actor the password PASSWORD."""
    hashed = hash_password(PASSWORD)
    for user in actors.users.values():
        user.password_hash = hashed
    session.commit()
    return PASSWORD
