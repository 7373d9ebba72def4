"""Authentication and token scopes over HTTP."""

from __future__ import annotations

import json

from sqlalchemy import select

from charter.access.models import ApiToken
from charter.ledger.models import LedgerEntry
from tests.access.conftest import PASSWORD

PROBLEM = "application/problem+json"
SYSTEM = {"key": "support-bot", "name": "Support bot", "deployment_type": "embedded"}


def _token_row(session, token_id: int) -> ApiToken:  # type: ignore[no-untyped-def]
    session.expire_all()
    return session.execute(select(ApiToken).where(ApiToken.id == token_id)).scalar_one()


# ----------------------------------------------------------------------------- scopes


def test_a_read_scoped_token_lists_but_cannot_register(machine_token, bearer) -> None:
    _, clear = machine_token("engineer", scopes=["systems:read"])
    ci = bearer(clear)
    assert ci.get("/api/v1/systems").status_code == 200
    r = ci.post("/api/v1/systems", json=SYSTEM)
    assert r.status_code == 403
    assert r.headers["content-type"] == PROBLEM
    body = r.json()
    assert body["required"] == "systems:write"
    assert "this token lacks the scope 'systems:write'" in body["detail"]
    assert "its scopes are: systems:read" in body["detail"]
    assert ci.get("/api/v1/systems/support-bot").status_code == 404  # nothing was registered


def test_a_scoped_token_acts_within_its_users_role_only(machine_token, bearer) -> None:
    _, clear = machine_token("viewer", scopes=["systems:read"])
    me = bearer(clear).get("/api/v1/auth/me").json()
    assert me == {"username": "ci-viewer@viewer", "role": "viewer", "kind": "token", "permissions": ["systems:read"]}


def test_a_scope_the_user_does_not_have_is_refused_when_the_token_is_made(client_for) -> None:
    r = client_for("engineer").post("/api/v1/tokens", json={"name": "x", "scopes": ["users:manage"]})
    assert r.status_code == 422
    assert r.headers["content-type"] == PROBLEM
    assert "role 'engineer' of 'engineer' does not have users:manage" in r.json()["detail"]
    r = client_for("engineer").post("/api/v1/tokens", json={"name": "x", "scopes": ["systems:destroy"]})
    assert r.status_code == 422
    assert "unknown scope systems:destroy" in r.json()["detail"]


# ----------------------------------------------------------------------------- 401s


def test_a_revoked_token_is_refused_at_once(machine_token, bearer, client_for) -> None:
    token, clear = machine_token("engineer")
    ci = bearer(clear)
    assert ci.get("/api/v1/systems").status_code == 200
    r = client_for("admin").delete(f"/api/v1/tokens/{token.id}", params={"reason": "leaked in a log"})
    assert r.status_code == 200
    assert (r.json()["revoked_at"], r.json()["username"]) == ("2026-01-01T09:00:00Z", "engineer")
    r = ci.get("/api/v1/systems")
    assert r.status_code == 401
    assert r.headers["content-type"] == PROBLEM
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.json()["detail"] == "the token was revoked"


def test_an_expired_token_is_refused(machine_token, bearer, clock) -> None:
    _, clear = machine_token("engineer", expires_in_days=7)
    ci = bearer(clear)
    clock.advance(days=7, seconds=-1)
    assert ci.get("/api/v1/systems").status_code == 200
    clock.advance(seconds=1)
    r = ci.get("/api/v1/systems")
    assert r.status_code == 401
    assert r.json()["detail"] == "the token has expired"


def test_a_disabled_users_tokens_stop_working(client_for) -> None:
    engineer = client_for("engineer")
    assert engineer.get("/api/v1/systems").status_code == 200
    admin = client_for("admin")
    version = next(u for u in admin.get("/api/v1/users").json() if u["username"] == "engineer")["version"]
    r = admin.patch("/api/v1/users/engineer", json={"version": version, "disabled": True})
    assert r.status_code == 200 and r.json()["disabled"] is True
    r = engineer.get("/api/v1/systems")
    assert r.status_code == 401
    assert r.json()["detail"] == "user 'engineer' is disabled"


def test_unknown_and_malformed_credentials_are_401_problems(client_for) -> None:
    anon = client_for(None)
    for headers in ({}, {"Authorization": "Bearer chr_nope"}, {"Authorization": "Basic YWRtaW46YWRtaW4="}):
        r = anon.get("/api/v1/systems", headers=headers)
        assert r.status_code == 401, headers
        assert r.headers["content-type"] == PROBLEM


def test_last_used_at_is_recorded(machine_token, bearer, session, clock) -> None:
    token, clear = machine_token("engineer")
    assert _token_row(session, token.id).last_used_at is None
    clock.advance(hours=2)
    bearer(clear).get("/api/v1/systems")
    assert _token_row(session, token.id).last_used_at == clock.now()


# ----------------------------------------------------------------------------- secrets stay secret


def test_the_token_secret_never_appears_in_lists_or_the_ledger(client_for, session) -> None:
    engineer = client_for("engineer")
    r = engineer.post("/api/v1/tokens", json={"name": "laptop", "expires_in_days": 30})
    assert r.status_code == 201
    issued = r.json()
    clear = issued["token"]
    assert issued["username"] == "engineer" and issued["kind"] == "machine"
    assert issued["expires_at"] == "2026-01-31T09:00:00Z"
    listing = engineer.get("/api/v1/tokens")
    assert listing.status_code == 200
    assert "laptop" in listing.text and clear not in listing.text
    assert all("token" not in t and "token_hash" not in t for t in listing.json())
    engineer.delete(f"/api/v1/tokens/{issued['id']}")
    token_hash = _token_row(session, issued["id"]).token_hash
    entries = session.execute(select(LedgerEntry)).scalars().all()
    dumped = json.dumps([[e.before, e.after, e.reason] for e in entries])
    assert "laptop" in dumped  # the token's record is in the ledger...
    assert clear not in dumped and clear[10:] not in dumped and token_hash not in dumped  # ...its secret is not


def test_a_token_cannot_mint_tokens(machine_token, bearer) -> None:
    _, clear = machine_token("admin")  # all of admin's permissions, tokens:manage included
    r = bearer(clear).post("/api/v1/tokens", json={"name": "child"})
    assert r.status_code == 403
    assert "a token cannot create tokens" in r.json()["detail"]


def test_users_without_tokens_own_cannot_make_tokens(client_for) -> None:
    r = client_for("viewer").post("/api/v1/tokens", json={"name": "x"})
    assert r.status_code == 403
    assert r.json()["required"] == "tokens:own"


# ----------------------------------------------------------------------------- login


def test_login_returns_a_personal_token_that_expires(app, with_passwords, client_for, clock, session) -> None:
    anon = client_for(None)
    r = anon.post("/api/v1/auth/login", json={"username": "engineer", "password": PASSWORD})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["kind"] == "personal" and body["username"] == "engineer"
    assert body["expires_at"] == "2026-01-01T21:00:00Z"  # CHARTER_PERSONAL_TOKEN_HOURS = 12
    headers = {"Authorization": f"Bearer {body['token']}"}
    me = anon.get("/api/v1/auth/me", headers=headers).json()
    assert (me["username"], me["kind"], me["role"]) == ("engineer", "user", "engineer")
    assert "systems:write" in me["permissions"]
    clock.advance(hours=12)
    r = anon.get("/api/v1/auth/me", headers=headers)
    assert r.status_code == 401 and r.json()["detail"] == "the token has expired"
    entry = session.execute(select(LedgerEntry).order_by(LedgerEntry.seq.desc()).limit(1)).scalar_one()
    assert body["token"] not in json.dumps(entry.after)


def test_every_role_can_log_in(with_passwords, client_for) -> None:
    anon = client_for(None)
    for role in ("admin", "governance", "approver", "engineer", "auditor", "viewer"):
        r = anon.post("/api/v1/auth/login", json={"username": role, "password": PASSWORD})
        assert r.status_code == 201, (role, r.text)


def test_a_wrong_password_is_a_401_that_does_not_say_which_part_was_wrong(with_passwords, client_for) -> None:
    anon = client_for(None)
    wrong = anon.post("/api/v1/auth/login", json={"username": "engineer", "password": "nope nope nope"})
    unknown = anon.post("/api/v1/auth/login", json={"username": "ghost", "password": PASSWORD})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"]


def test_a_personal_token_can_make_machine_tokens(with_passwords, client_for) -> None:
    anon = client_for(None)
    login = anon.post("/api/v1/auth/login", json={"username": "engineer", "password": PASSWORD}).json()
    headers = {"Authorization": f"Bearer {login['token']}"}
    r = anon.post("/api/v1/tokens", json={"name": "ci", "scopes": ["gate:check"]}, headers=headers)
    assert r.status_code == 201, r.text
    assert r.json()["scopes"] == ["gate:check"]


# ----------------------------------------------------------------------------- users over HTTP


def test_admins_manage_users_over_the_api(client_for) -> None:
    admin = client_for("admin")
    r = admin.post("/api/v1/users", json={"username": "ada", "role": "engineer", "password": PASSWORD})
    assert r.status_code == 201
    assert "password" not in r.text and "argon2" not in r.text
    r = admin.patch("/api/v1/users/ada", json={"version": 1, "role": "governance"})
    assert r.json()["role"] == "governance" and r.json()["version"] == 2
    r = admin.patch("/api/v1/users/ada", json={"version": 1, "role": "viewer"})
    assert r.status_code == 409 and r.json()["current_version"] == 2


def test_an_admin_cannot_demote_themself_over_the_api(client_for) -> None:
    r = client_for("admin").patch("/api/v1/users/admin", json={"version": 1, "role": "viewer"})
    assert r.status_code == 409
    assert r.headers["content-type"] == PROBLEM
    assert "you cannot disable yourself or remove your own admin role" in r.json()["detail"]


def test_a_null_role_is_a_422_not_a_crash(client_for) -> None:
    r = client_for("admin").patch("/api/v1/users/viewer", json={"version": 1, "role": None})
    assert r.status_code == 422
    assert r.json()["detail"] == "role: cannot be null; leave the field out to keep the current value"


def test_users_are_listed_for_auditors_not_viewers(client_for) -> None:
    assert client_for("auditor").get("/api/v1/users").status_code == 200
    r = client_for("viewer").get("/api/v1/users")
    assert r.status_code == 403 and r.json()["required"] == "users:read"


def test_the_role_matrix_is_served(client_for) -> None:
    body = client_for("viewer").get("/api/v1/auth/roles").json()
    assert "systems:classify" in body["roles"]["governance"]
    assert "systems:classify" not in body["roles"]["engineer"]
    assert body["permissions"]["systems:read"] == "read AI systems"


def test_a_role_change_applies_at_once_to_a_token_in_use(machine_token, bearer, client_for) -> None:
    # Authentication caches a token's state while nothing is recorded in the ledger; a role change is.
    _, clear = machine_token("engineer")
    ci = bearer(clear)
    assert ci.get("/api/v1/auth/me").json()["role"] == "engineer"
    assert ci.post("/api/v1/systems", json=SYSTEM).status_code == 201
    admin = client_for("admin")
    version = next(u for u in admin.get("/api/v1/users").json() if u["username"] == "engineer")["version"]
    assert admin.patch("/api/v1/users/engineer", json={"version": version, "role": "viewer"}).status_code == 200
    assert ci.get("/api/v1/auth/me").json()["role"] == "viewer"
    r = ci.post("/api/v1/systems", json=SYSTEM | {"key": "second-bot"})
    assert r.status_code == 403 and "role 'viewer'" in r.json()["detail"]


def test_a_repeat_caller_is_authenticated_without_reading_its_token(machine_token, bearer, session) -> None:
    from sqlalchemy import event

    _, clear = machine_token("engineer")
    ci = bearer(clear)
    assert ci.get("/api/v1/auth/me").status_code == 200
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    bind = session.get_bind()
    event.listen(bind, "before_cursor_execute", seen)
    try:
        assert ci.get("/api/v1/auth/me").json()["username"] == "ci-engineer@engineer"
    finally:
        event.remove(bind, "before_cursor_execute", seen)
    assert not [s for s in statements if "api_tokens" in s], statements
    assert any("ledger_head" in s for s in statements)  # the cache is checked against the ledger head
