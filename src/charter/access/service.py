"""Use cases for users and tokens, and authentication of bearer tokens and passwords."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, select, update

from charter.access.models import ApiToken, User
from charter.access.schemas import TokenCreate, UserCreate, UserUpdate
from charter.kit.cache import HeadCache
from charter.kit.clock import isoformat
from charter.kit.errors import (
    CharterError,
    Conflict,
    NotFound,
    PermissionDenied,
    StaleVersion,
    Unauthenticated,
    ValidationFailed,
)
from charter.kit.principal import Principal
from charter.kit.roles import ROLES, permissions_for
from charter.ledger.chain import snapshot

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from charter.context import Ctx
    from charter.kit.clock import Clock

_hasher = PasswordHasher()
TOKEN_PREFIX = "chr_"
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _password_ok(stored: str | None, password: str) -> bool:
    if not stored:
        return False
    try:
        return _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def hash_token(token: str) -> str:
    # Tokens carry 256 bits of randomness: a fast hash is enough (no dictionary to attack).
    return hashlib.sha256(token.encode()).hexdigest()


# ----------------------------------------------------------------------------- users


def get_user(session: Session, username: str, *, for_update: bool = False) -> User:
    stmt = select(User).where(User.username == username)
    if for_update:
        # PostgreSQL: lock the row and re-read it, so the version check and the write see the same row.
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    user = session.execute(stmt).scalar_one_or_none()
    if user is None:
        raise NotFound(f"no user named '{username}'")
    return user


def create_user(ctx: Ctx, data: UserCreate) -> User:
    ctx.require("users:manage")
    return _create_user(ctx, data)


def _create_user(ctx: Ctx, data: UserCreate) -> User:
    exists = ctx.session.execute(select(User.id).where(User.username == data.username)).first()
    if exists:
        raise Conflict(f"a user named '{data.username}' already exists")
    now = ctx.now()
    user = User(
        username=data.username,
        display_name=data.display_name or data.username,
        email=data.email,
        role=data.role,
        password_hash=hash_password(data.password),
        disabled=False,
        created_at=now,
        updated_at=now,
    )
    ctx.session.add(user)
    ctx.session.flush()
    ctx.record("user.created", "user", user.username, after=snapshot(user))
    return user


def list_users(ctx: Ctx) -> list[User]:
    ctx.require("users:read")
    return list(ctx.session.execute(select(User).order_by(User.username)).scalars())


def update_user(ctx: Ctx, username: str, data: UserUpdate) -> User:
    ctx.require("users:manage")
    user = get_user(ctx.session, username, for_update=True)
    if data.version != user.version:
        raise StaleVersion(f"user '{username}'", data.version, user.version)
    changes = {
        k: v
        for k, v in data.model_dump(exclude_unset=True, exclude={"version", "password"}).items()
        if getattr(user, k) != v
    }
    demoted = user.role == "admin" and "role" in changes
    disabling = changes.get("disabled") is True
    if (demoted or disabling) and user.id is not None and user.id == ctx.principal.user_id:
        raise Conflict("you cannot disable yourself or remove your own admin role; ask another admin")
    if (demoted or disabling) and user.role == "admin" and not user.disabled and _enabled_admins(ctx.session) <= 1:
        raise Conflict(
            f"'{username}' is the last enabled admin; make another user admin first, then "
            f"{'disable' if disabling else 'change the role of'} '{username}'"
        )
    if not changes and not data.password:
        return user  # nothing to change: no new version, no ledger entry
    before = snapshot(user)
    for field, value in changes.items():
        setattr(user, field, value)
    if data.password:
        user.password_hash = hash_password(data.password)
    user.version += 1
    user.updated_at = ctx.now()
    ctx.session.flush()
    ctx.record(
        "user.updated",
        "user",
        user.username,
        before=before,
        after=snapshot(user),
        reason="password changed" if data.password else None,
    )
    return user


def _enabled_admins(session: Session) -> int:
    stmt = select(func.count()).select_from(User).where(User.role == "admin", User.disabled.is_(False))
    return int(session.execute(stmt).scalar_one())


def set_disabled(ctx: Ctx, username: str, disabled: bool) -> User:
    user = get_user(ctx.session, username)
    return update_user(ctx, username, UserUpdate(version=user.version, disabled=disabled))


# ----------------------------------------------------------------------------- tokens


def issue_token(ctx: Ctx, data: TokenCreate, kind: str = "machine") -> tuple[ApiToken, str]:
    """Create a token; the clear text is returned once and never stored.

    kind 'machine': a long-lived token with optional scopes (needs tokens:own for oneself, tokens:manage for
    others). kind 'personal': what login hands a user for themself; it needs no permission of its own.
    """
    if ctx.principal.kind == "token":
        raise PermissionDenied(
            "a token cannot create tokens; log in as a user (charter login) or ask an admin (charter token create)",
            rule="tokens-cannot-mint-tokens",
        )
    owner_name = data.username or ctx.principal.name
    for_self = ctx.principal.kind == "user" and owner_name == ctx.principal.name
    if not for_self:
        ctx.require("tokens:manage")
    elif kind == "machine" and not ctx.principal.can("tokens:manage"):
        ctx.require("tokens:own")
    owner = get_user(ctx.session, owner_name)
    if owner.disabled:
        raise Conflict(f"user '{owner_name}' is disabled")
    if data.scopes is not None:
        beyond = sorted(set(data.scopes) - permissions_for(owner.role))
        if beyond:
            msg = (
                f"role '{owner.role}' of '{owner.username}' does not have {', '.join(beyond)}; "
                "a token can only narrow its user's permissions"
            )
            raise ValidationFailed(f"scopes: {msg}", errors=[{"loc": ["body", "scopes"], "msg": msg}])
    expires_at = ctx.now() + timedelta(days=data.expires_in_days) if data.expires_in_days else None
    return _mint(ctx, owner, data.name, kind, data.scopes, expires_at)


def issue_personal_token(ctx: Ctx, user: User, hours: int) -> tuple[ApiToken, str]:
    """The token login hands a user (POST /auth/login, `charter login`): for themself, expiring after `hours`.

    It needs no permission beyond a valid password: every role, viewers included, may log in.
    """
    if user.disabled:
        raise Unauthenticated("unknown user, wrong password, or the user is disabled")
    return _mint(ctx, user, "login", "personal", None, ctx.now() + timedelta(hours=hours))


def _mint(
    ctx: Ctx, owner: User, name: str, kind: str, scopes: list[str] | None, expires_at: datetime | None
) -> tuple[ApiToken, str]:
    clear = f"{TOKEN_PREFIX}{secrets.token_urlsafe(32)}"
    token = ApiToken(
        name=name,
        kind=kind,
        user_id=owner.id,
        prefix=clear[:10],
        token_hash=hash_token(clear),
        scopes=scopes,
        created_at=ctx.now(),
        expires_at=expires_at,
        revoked_at=None,
        last_used_at=None,
        created_by=ctx.principal.actor,
    )
    ctx.session.add(token)
    ctx.session.flush()
    ctx.record("token.created", "token", token.id, after=snapshot(token) | {"owner": owner.username})
    return token, clear


def list_tokens(ctx: Ctx, username: str | None = None) -> list[tuple[ApiToken, str]]:
    """Tokens, newest last. Without tokens:manage, only the acting user's own tokens."""
    stmt = select(ApiToken, User.username).join(User, User.id == ApiToken.user_id).order_by(ApiToken.id)
    if not ctx.principal.can("tokens:manage"):
        ctx.require("tokens:own")
        stmt = stmt.where(ApiToken.user_id == ctx.principal.user_id)
    if username:
        stmt = stmt.where(User.username == username)
    return [(t, u) for t, u in ctx.session.execute(stmt).all()]


def revoke_token(ctx: Ctx, token_id: int, reason: str | None = None) -> ApiToken:
    token = ctx.session.get(ApiToken, token_id, with_for_update=True, populate_existing=True)
    if token is None:
        raise NotFound(f"no token with id {token_id}")
    if token.user_id != ctx.principal.user_id:
        ctx.require("tokens:manage")
    elif not ctx.principal.can("tokens:manage"):
        ctx.require("tokens:own")
    if token.revoked_at is not None:
        raise Conflict(f"token {token_id} was already revoked at {isoformat(token.revoked_at)}")
    before = snapshot(token)
    token.revoked_at = ctx.now()
    ctx.session.flush()
    ctx.record("token.revoked", "token", token.id, before=before, after=snapshot(token), reason=reason)
    return token


# ----------------------------------------------------------------------------- authentication


def authenticate_token(session: Session, clock: Clock, clear: str) -> Principal:
    """Resolve a bearer token to a principal; records last_used_at (to the minute)."""
    principal, touch = resolve_token(session, clock, clear)
    if touch is not None:
        touch_token(session, touch, clock.now())
    return principal


@dataclass
class _TokenState:
    """What authentication needs of a token and its user; cached while the ledger head is unchanged
    (creating and revoking tokens and changing users are ledger-recorded)."""

    token_id: int
    username: str
    principal: Principal
    revoked: bool
    expires_at: datetime | None
    disabled: bool
    last_used_at: datetime | None  # updated in place when a touch is handed out


_token_states: HeadCache[str, _TokenState] = HeadCache("access.token_states", 4_096)


def resolve_token(
    session: Session, clock: Clock, clear: str, *, head: str | None = None
) -> tuple[Principal, int | None]:
    """Resolve a bearer token to a principal without writing: revocation, expiry and a disabled user are
    checked on every call. Also returns the token id when its last_used_at is due (at most once a minute),
    for `touch_token` — in the same transaction or, for a read-only lookup, in a short one of its own.

    With `head` (the ledger head read before this transaction began), the token's state is kept for
    `resolve_cached_token` while the head stays the same."""
    digest = hash_token(clear)
    state = _load_token(session, digest)
    if state is None:
        raise Unauthenticated("the token is not valid")
    if head is not None:
        _token_states.put(digest, head, state)
    return _authenticate(state, clock.now())


def resolve_cached_token(clock: Clock, clear: str, head: str) -> tuple[Principal, int | None] | None:
    """`resolve_token` from the cache, without a database read; None when the token's state is not cached
    for this ledger head (then call `resolve_token`)."""
    state = _token_states.get(hash_token(clear), head)
    return None if state is None else _authenticate(state, clock.now())


def _load_token(session: Session, digest: str) -> _TokenState | None:
    row = session.execute(
        select(
            ApiToken.id,
            ApiToken.kind,
            ApiToken.name,
            ApiToken.scopes,
            ApiToken.revoked_at,
            ApiToken.expires_at,
            ApiToken.last_used_at,
            User.id,
            User.username,
            User.role,
            User.disabled,
        )
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == digest)
    ).first()
    if row is None:
        return None
    token_id, kind, name, token_scopes, revoked_at, expires_at, last_used_at, user_id, username, role, disabled = row
    scopes = frozenset(token_scopes) if token_scopes is not None else None
    if kind == "personal":
        principal = Principal(kind="user", user_id=user_id, name=username, role=role, scopes=scopes)
    else:
        principal = Principal(
            kind="token", user_id=user_id, name=f"{name}@{username}", role=role, scopes=scopes, token_id=token_id
        )
    return _TokenState(token_id, username, principal, revoked_at is not None, expires_at, bool(disabled), last_used_at)


def _authenticate(state: _TokenState, now: datetime) -> tuple[Principal, int | None]:
    if state.revoked:
        raise Unauthenticated("the token was revoked")
    if state.expires_at is not None and state.expires_at <= now:
        raise Unauthenticated("the token has expired")
    if state.disabled:
        raise Unauthenticated(f"user '{state.username}' is disabled")
    touch = None
    if state.last_used_at is None or now - state.last_used_at >= LAST_USED_RESOLUTION:
        touch = state.token_id
        state.last_used_at = now  # the caller writes it; concurrent requests need not write it again
    return state.principal, touch


def touch_token(session: Session, token_id: int, now: datetime) -> None:
    """Record that a token was used (last_used_at; `resolve_token` says when it is due)."""
    session.execute(
        update(ApiToken)
        .where(ApiToken.id == token_id)
        .values(last_used_at=now)
        .execution_options(synchronize_session="evaluate")
    )


def users_who_can(
    session: Session, permission: str, *, roles: Iterable[str] | None = None, exclude: Iterable[int | None] = ()
) -> list[int]:
    """Ids of the enabled users whose role grants `permission` (only `roles`, when given), minus `exclude`:
    the people to ask for an approval."""
    wanted = [r for r in ROLES if permission in permissions_for(r) and (roles is None or r in set(roles))]
    if not wanted:
        return []
    skip = {i for i in exclude if i is not None}
    stmt = select(User.id).where(User.role.in_(wanted), User.disabled.is_(False)).order_by(User.id)
    return [i for i in session.scalars(stmt) if i not in skip]


def authenticate_password(session: Session, username: str, password: str) -> User:
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None or user.disabled or not _password_ok(user.password_hash, password):
        if user is None:
            _hasher.hash("spend-equal-time")  # do not reveal which usernames exist by timing
        raise Unauthenticated("unknown user, wrong password, or the user is disabled")
    if _hasher.check_needs_rehash(user.password_hash or ""):
        user.password_hash = hash_password(password)
    return user


def principal_of(user: User) -> Principal:
    return Principal(kind="user", user_id=user.id, name=user.username, role=user.role)


def bootstrap_admin(ctx: Ctx, password: str | None) -> tuple[User, str] | None:
    """While no enabled administrator exists, create 'admin'. Returns (user, password), or None when an
    enabled admin exists (or the username 'admin' is taken: re-enable that account instead)."""
    enabled_admin = select(User.id).where(User.role == "admin", User.disabled.is_(False)).limit(1)
    if ctx.session.execute(enabled_admin).first():
        return None
    if ctx.session.execute(select(User.id).where(User.username == "admin")).first():
        return None
    if password is not None and len(password) < 12:
        raise CharterError("CHARTER_ADMIN_PASSWORD must be at least 12 characters")
    clear = password or secrets.token_urlsafe(18)
    user = _create_user(ctx, UserCreate(username="admin", role="admin", password=clear, display_name="Administrator"))
    return user, clear
