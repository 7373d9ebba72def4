"""Server-side console sessions.

The browser holds a random 256-bit session id in an HttpOnly cookie; the database holds only its
SHA-256, the user, a per-session CSRF token and the expiry. Logging out, disabling the user or revoking
the row ends the session on the next request: nothing about the session lives in the cookie itself.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select, update

from charter.access.models import User
from charter.access.service import principal_of
from charter.kit.principal import Principal
from charter.web.models import WebSession

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from charter.kit.clock import Clock

COOKIE = "charter_session"
IDLE_TIMEOUT = timedelta(hours=2)
TOUCH_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class Identity:
    """Who is signed in to the console, for one request."""

    session_id: int
    principal: Principal
    display_name: str
    csrf_token: str


def hash_id(clear: str) -> str:
    return hashlib.sha256(clear.encode()).hexdigest()


def start(
    session: Session, clock: Clock, user: User, *, lifetime: timedelta, ip: str = "", user_agent: str = ""
) -> tuple[WebSession, str]:
    """Open a session for a user who just proved who they are; returns (row, clear id for the cookie)."""
    clear = secrets.token_urlsafe(32)
    now = clock.now()
    row = WebSession(
        id_hash=hash_id(clear),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        last_seen_at=now,
        expires_at=now + lifetime,
        revoked_at=None,
        ip=ip[:64],
        user_agent=user_agent[:300],
    )
    session.add(row)
    session.flush()
    return row, clear


def resolve(session: Session, clock: Clock, clear: str | None) -> Identity | None:
    """The identity behind a session cookie, or None if it is unknown, expired, revoked or its user disabled.

    The user's current role is used, so a role change applies on the next request.
    """
    if not clear or len(clear) > 200:
        return None
    found = session.execute(
        select(WebSession, User).join(User, User.id == WebSession.user_id).where(WebSession.id_hash == hash_id(clear))
    ).first()
    if found is None:
        return None
    row, user = found
    now = clock.now()
    if row.revoked_at is not None or row.expires_at <= now or now - row.last_seen_at >= IDLE_TIMEOUT:
        return None
    if user.disabled:
        return None
    if now - row.last_seen_at >= TOUCH_RESOLUTION:
        row.last_seen_at = now
        session.flush()
    return Identity(
        session_id=row.id,
        principal=principal_of(user),
        display_name=user.display_name or user.username,
        csrf_token=row.csrf_token,
    )


def revoke(session: Session, clock: Clock, session_id: int) -> None:
    session.execute(
        update(WebSession)
        .where(WebSession.id == session_id, WebSession.revoked_at.is_(None))
        .values(revoked_at=clock.now())
    )


def revoke_user(session: Session, clock: Clock, user_id: int) -> int:
    """End every open console session of a user (e.g. after a password change); returns how many."""
    result = session.execute(
        update(WebSession)
        .where(WebSession.user_id == user_id, WebSession.revoked_at.is_(None))
        .values(revoked_at=clock.now())
    )
    return int(getattr(result, "rowcount", 0) or 0)


def previous_visit(session: Session, user_id: int, current_session_id: int) -> datetime | None:
    """When this person was last seen in another console session (their previous visit), if ever."""
    return session.execute(
        select(func.max(WebSession.last_seen_at)).where(
            WebSession.user_id == user_id, WebSession.id != current_session_id
        )
    ).scalar_one()
