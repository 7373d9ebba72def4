"""Users, tokens and authentication on a real database."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from charter.access import service
from charter.access.models import ApiToken, User
from charter.access.schemas import TokenCreate, UserCreate, UserUpdate
from charter.context import Ctx
from charter.kit.errors import Conflict, NotFound, PermissionDenied, StaleVersion, Unauthenticated, ValidationFailed
from charter.kit.principal import SYSTEM, Principal
from charter.ledger.models import LedgerEntry
from tests.access.conftest import PASSWORD


def _cli_ctx(actors) -> Ctx:  # type: ignore[no-untyped-def]
    """The context `charter user ...` runs in: the built-in system principal, no user id."""
    cli = Principal(kind="system", user_id=None, name="cli:ops", role="admin")
    return Ctx(session=actors.session, principal=cli, clock=actors.clock, settings=actors.settings)


def _entries(session, entity_type: str) -> list[LedgerEntry]:  # type: ignore[no-untyped-def]
    stmt = select(LedgerEntry).where(LedgerEntry.entity_type == entity_type).order_by(LedgerEntry.seq)
    return list(session.execute(stmt).scalars())


# ----------------------------------------------------------------------------- users


def test_creating_a_user_hashes_the_password_with_argon2_and_records_no_hash(actors) -> None:
    user = service.create_user(actors.ctx("admin"), UserCreate(username="ada", role="engineer", password=PASSWORD))
    assert user.password_hash is not None and user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
    [entry] = [e for e in _entries(actors.session, "user") if e.entity_id == "ada"]
    assert entry.action == "user.created" and entry.actor == "user:admin"
    assert "password_hash" not in entry.after
    assert user.password_hash not in json.dumps(entry.after)


def test_only_admins_create_users(actors) -> None:
    with pytest.raises(PermissionDenied) as err:
        service.create_user(actors.ctx("governance"), UserCreate(username="eve", role="admin", password=PASSWORD))
    assert err.value.extra["required"] == "users:manage"


def test_a_username_is_taken_once(actors) -> None:
    with pytest.raises(Conflict, match="a user named 'engineer' already exists"):
        service.create_user(actors.ctx("admin"), UserCreate(username="engineer", role="viewer", password=PASSWORD))


@pytest.mark.parametrize(
    "fields",
    [
        {"username": "Ada Lovelace"},
        {"role": "root"},
        {"password": "short"},
        {"email": "not-an-email"},
    ],
)
def test_bad_user_input_is_refused(fields) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError):
        UserCreate(**{"username": "ada", "role": "engineer", "password": PASSWORD, **fields})


def test_changing_a_role_bumps_the_version_and_records_before_and_after(actors) -> None:
    user = service.update_user(actors.ctx("admin"), "viewer", UserUpdate(version=1, role="auditor"))
    assert (user.role, user.version) == ("auditor", 2)
    entry = _entries(actors.session, "user")[-1]
    assert (entry.before["role"], entry.after["role"]) == ("viewer", "auditor")


def test_a_stale_user_update_is_refused(actors) -> None:
    service.update_user(actors.ctx("admin"), "viewer", UserUpdate(version=1, display_name="Vera"))
    with pytest.raises(StaleVersion) as err:
        service.update_user(actors.ctx("admin"), "viewer", UserUpdate(version=1, role="admin"))
    assert err.value.extra["current_version"] == 2


def test_an_admin_cannot_demote_or_disable_themself(actors) -> None:
    ctx = actors.ctx("admin")
    actors.add_user("second-admin", "admin")  # not the last admin: the refusal is about oneself
    for change in ({"role": "viewer"}, {"disabled": True}):
        with pytest.raises(Conflict, match="you cannot disable yourself or remove your own admin role"):
            service.update_user(ctx, "admin", UserUpdate(version=1, **change))
    # Other changes to oneself are fine.
    assert service.update_user(ctx, "admin", UserUpdate(version=1, display_name="Boss", role="admin")).version == 2


def test_the_last_enabled_admin_cannot_be_disabled_or_demoted(actors) -> None:
    ctx = _cli_ctx(actors)
    with pytest.raises(Conflict, match="'admin' is the last enabled admin; make another user admin first"):
        service.set_disabled(ctx, "admin", True)
    with pytest.raises(Conflict, match="last enabled admin"):
        service.update_user(ctx, "admin", UserUpdate(version=1, role="governance"))
    actors.session.expire_all()
    assert actors.session.execute(select(User.role, User.disabled).where(User.username == "admin")).one() == (
        "admin",
        False,
    )
    # With a second admin, the first can go.
    service.update_user(ctx, "governance", UserUpdate(version=1, role="admin"))
    assert service.set_disabled(ctx, "admin", True).disabled is True
    with pytest.raises(Conflict, match="'governance' is the last enabled admin"):
        service.set_disabled(ctx, "governance", True)


def test_null_role_or_disabled_is_refused_before_the_database() -> None:
    for field in ("role", "disabled", "display_name"):
        with pytest.raises(ValidationError, match="cannot be null"):
            UserUpdate(version=1, **{field: None})


def test_an_update_that_changes_nothing_keeps_the_version(actors) -> None:
    before = len(_entries(actors.session, "user"))
    user = service.update_user(actors.ctx("admin"), "viewer", UserUpdate(version=1, role="viewer"))
    assert user.version == 1
    assert len(_entries(actors.session, "user")) == before


def test_changing_a_password_is_recorded_without_the_password(actors) -> None:
    service.update_user(actors.ctx("admin"), "viewer", UserUpdate(version=1, password="a new long password"))
    entry = _entries(actors.session, "user")[-1]
    assert entry.reason == "password changed"
    assert "a new long password" not in json.dumps([entry.before, entry.after])
    user = service.authenticate_password(actors.session, "viewer", "a new long password")
    assert user.username == "viewer"


def test_updating_an_unknown_user_is_a_404(actors) -> None:
    with pytest.raises(NotFound, match="no user named 'ghost'"):
        service.update_user(actors.ctx("admin"), "ghost", UserUpdate(version=1, role="viewer"))


# ----------------------------------------------------------------------------- passwords


def test_password_login_refuses_wrong_unknown_and_disabled_alike(actors, with_passwords) -> None:
    assert service.authenticate_password(actors.session, "engineer", PASSWORD).username == "engineer"
    service.set_disabled(actors.ctx("admin"), "auditor", True)
    for username, password in (("engineer", "wrong password!"), ("ghost", PASSWORD), ("auditor", PASSWORD)):
        with pytest.raises(Unauthenticated) as err:
            service.authenticate_password(actors.session, username, password)
        assert err.value.detail == "unknown user, wrong password, or the user is disabled"


def test_a_user_without_a_password_cannot_log_in(actors) -> None:
    with pytest.raises(Unauthenticated):
        service.authenticate_password(actors.session, "viewer", "")


# ----------------------------------------------------------------------------- tokens


def test_a_token_is_stored_hashed_and_shown_once(actors) -> None:
    token, clear = service.issue_token(actors.ctx("engineer"), TokenCreate(name="laptop"))
    assert clear.startswith("chr_") and len(clear) > 40
    assert token.token_hash == service.hash_token(clear) and clear not in token.token_hash
    assert token.prefix == clear[:10]
    entry = _entries(actors.session, "token")[-1]
    assert entry.action == "token.created" and entry.after["owner"] == "engineer"
    text = json.dumps([entry.before, entry.after])
    assert clear not in text and token.token_hash not in text


def test_scopes_beyond_the_owners_role_are_refused(actors) -> None:
    with pytest.raises(ValidationFailed) as err:
        service.issue_token(actors.ctx("engineer"), TokenCreate(name="x", scopes=["systems:read", "users:manage"]))
    assert "role 'engineer' of 'engineer' does not have users:manage" in err.value.detail
    with pytest.raises(ValidationFailed, match="does not have systems:classify"):
        service.issue_token(
            actors.ctx("admin"), TokenCreate(name="x", username="engineer", scopes=["systems:classify"])
        )


def test_unknown_scopes_are_refused_naming_them() -> None:
    with pytest.raises(ValidationError, match="unknown scope systems:delete"):
        TokenCreate(name="x", scopes=["systems:read", "systems:delete"])


def test_tokens_for_someone_else_need_tokens_manage(actors) -> None:
    with pytest.raises(PermissionDenied) as err:
        service.issue_token(actors.ctx("governance"), TokenCreate(name="x", username="engineer"))
    assert err.value.extra["required"] == "tokens:manage"
    token, _ = service.issue_token(actors.ctx("admin"), TokenCreate(name="x", username="engineer"))
    assert token.user_id == actors.users["engineer"].id


def test_viewers_cannot_make_machine_tokens_but_get_a_personal_one_at_login(actors) -> None:
    with pytest.raises(PermissionDenied) as err:
        service.issue_token(actors.ctx("viewer"), TokenCreate(name="x"))
    assert err.value.extra["required"] == "tokens:own"
    token, _ = service.issue_personal_token(actors.ctx("viewer"), actors.users["viewer"], hours=12)
    assert token.kind == "personal"
    assert token.expires_at == actors.clock.now() + timedelta(hours=12)


def test_a_token_cannot_mint_tokens(actors) -> None:
    as_token = Principal(kind="token", user_id=actors.users["admin"].id, name="ci@admin", role="admin", token_id=1)
    ctx = Ctx(session=actors.session, principal=as_token, clock=actors.clock, settings=actors.settings)
    with pytest.raises(PermissionDenied, match="a token cannot create tokens"):
        service.issue_token(ctx, TokenCreate(name="child"))


def test_a_disabled_user_gets_no_new_tokens(actors) -> None:
    service.set_disabled(actors.ctx("admin"), "engineer", True)
    with pytest.raises(Conflict, match="user 'engineer' is disabled"):
        service.issue_token(actors.ctx("admin"), TokenCreate(name="x", username="engineer"))


def test_without_tokens_manage_one_lists_and_revokes_only_ones_own(actors) -> None:
    mine, _ = service.issue_token(actors.ctx("engineer"), TokenCreate(name="mine"))
    theirs, _ = service.issue_token(actors.ctx("governance"), TokenCreate(name="theirs"))
    listed = service.list_tokens(actors.ctx("engineer"), username="governance")
    assert [(t.name, u) for t, u in listed] == []
    assert [(t.name, u) for t, u in service.list_tokens(actors.ctx("engineer"))] == [("mine", "engineer")]
    with pytest.raises(PermissionDenied):
        service.revoke_token(actors.ctx("engineer"), theirs.id)
    assert service.revoke_token(actors.ctx("engineer"), mine.id, "lost laptop").revoked_at == actors.clock.now()
    assert {u for _, u in service.list_tokens(actors.ctx("admin"))} == {"engineer", "governance"}


def test_revoking_twice_or_an_unknown_token_says_so(actors) -> None:
    token, _ = service.issue_token(actors.ctx("engineer"), TokenCreate(name="laptop"))
    service.revoke_token(actors.ctx("admin"), token.id, "rotated")
    entry = _entries(actors.session, "token")[-1]
    assert entry.action == "token.revoked" and entry.reason == "rotated"
    with pytest.raises(Conflict, match=f"token {token.id} was already revoked at 2026-01-01T09:00:00"):
        service.revoke_token(actors.ctx("admin"), token.id)
    with pytest.raises(NotFound, match="no token with id 999999"):
        service.revoke_token(actors.ctx("admin"), 999999)


# ----------------------------------------------------------------------------- bearer authentication


def test_authentication_resolves_a_machine_token_to_its_scopes(actors) -> None:
    token, clear = service.issue_token(
        actors.ctx("admin"), TokenCreate(name="gate", username="engineer", scopes=["gate:check"])
    )
    p = service.authenticate_token(actors.session, actors.clock, clear)
    assert (p.kind, p.name, p.role, p.token_id) == ("token", "gate@engineer", "engineer", token.id)
    assert p.permissions == frozenset({"gate:check"})


@pytest.mark.parametrize(
    ("spoil", "says"),
    [
        ("revoke", "the token was revoked"),
        ("expire", "the token has expired"),
        ("disable", "user 'engineer' is disabled"),
        ("garble", "the token is not valid"),
    ],
)
def test_authentication_refuses_spoiled_tokens(actors, spoil, says) -> None:
    token, clear = service.issue_token(
        actors.ctx("admin"), TokenCreate(name="t", username="engineer", expires_in_days=30)
    )
    if spoil == "revoke":
        service.revoke_token(actors.ctx("admin"), token.id)
    elif spoil == "expire":
        actors.clock.advance(days=30)
    elif spoil == "disable":
        service.set_disabled(actors.ctx("admin"), "engineer", True)
    else:
        clear = clear[:-1] + ("A" if clear[-1] != "A" else "B")
    with pytest.raises(Unauthenticated) as err:
        service.authenticate_token(actors.session, actors.clock, clear)
    assert err.value.detail == says


def test_a_token_works_until_the_second_it_expires(actors) -> None:
    _, clear = service.issue_token(actors.ctx("admin"), TokenCreate(name="t", username="engineer", expires_in_days=1))
    actors.clock.advance(days=1, seconds=-1)
    service.authenticate_token(actors.session, actors.clock, clear)
    actors.clock.advance(seconds=1)
    with pytest.raises(Unauthenticated):
        service.authenticate_token(actors.session, actors.clock, clear)


def test_last_used_at_is_recorded_to_the_minute(actors) -> None:
    token, clear = service.issue_token(actors.ctx("admin"), TokenCreate(name="t", username="engineer"))
    assert token.last_used_at is None
    service.authenticate_token(actors.session, actors.clock, clear)
    first = actors.clock.now()
    assert token.last_used_at == first
    actors.clock.advance(seconds=30)
    service.authenticate_token(actors.session, actors.clock, clear)
    assert token.last_used_at == first  # not rewritten on every request
    actors.clock.advance(seconds=30)
    service.authenticate_token(actors.session, actors.clock, clear)
    assert token.last_used_at == actors.clock.now()


# ----------------------------------------------------------------------------- first start


def test_the_first_admin_is_created_once_on_an_empty_database(session, clock, settings) -> None:
    ctx = Ctx(session=session, principal=SYSTEM, clock=clock, settings=settings)
    if session.execute(select(User.id).limit(1)).first():
        pytest.skip("the shared test database already has users")
    created = service.bootstrap_admin(ctx, None)
    assert created is not None
    user, password = created
    assert (user.username, user.role) == ("admin", "admin")
    assert len(password) >= 20
    assert service.authenticate_password(session, "admin", password) is user
    assert service.bootstrap_admin(ctx, None) is None


def test_the_first_admin_takes_charter_admin_password(session, clock, settings) -> None:
    ctx = Ctx(session=session, principal=SYSTEM, clock=clock, settings=settings)
    created = service.bootstrap_admin(ctx, "chosen admin password")
    assert created is not None and created[1] == "chosen admin password"
    assert service.authenticate_password(session, "admin", "chosen admin password").role == "admin"
    assert session.execute(select(ApiToken).limit(1)).first() is None
