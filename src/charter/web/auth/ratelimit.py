"""Login rate limit: at most MAX_FAILURES failed logins per (username, client address) per WINDOW.

Failures are rows in the database, so the limit holds across server processes and restarts; the clock
is injected, so tests move time instead of sleeping. A successful login clears the counter.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, select

from charter.kit.clock import as_utc
from charter.web.models import LoginFailure

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from charter.kit.clock import Clock

MAX_FAILURES = 5
WINDOW = timedelta(minutes=15)


def _key(username: str) -> str:
    return username.strip().lower()[:200]


def failures(session: Session, clock: Clock, username: str, ip: str) -> int:
    """Failed logins for this (username, address) within the window."""
    stmt = select(func.count(LoginFailure.id)).where(
        LoginFailure.username == _key(username), LoginFailure.ip == ip[:64], LoginFailure.at > clock.now() - WINDOW
    )
    return int(session.execute(stmt).scalar_one())


def retry_after(session: Session, clock: Clock, username: str, ip: str) -> int | None:
    """Seconds until the next attempt is allowed, or None when login may be tried now."""
    now = clock.now()
    count, oldest = session.execute(
        select(func.count(LoginFailure.id), func.min(LoginFailure.at)).where(
            LoginFailure.username == _key(username), LoginFailure.ip == ip[:64], LoginFailure.at > now - WINDOW
        )
    ).one()
    if count < MAX_FAILURES or oldest is None:
        return None
    return max(1, math.ceil((as_utc(oldest) + WINDOW - now).total_seconds()))


def record_failure(session: Session, clock: Clock, username: str, ip: str) -> None:
    now = clock.now()
    key = _key(username)
    # Keep the table small: forget this key's failures that left the window.
    session.execute(
        delete(LoginFailure).where(
            LoginFailure.username == key, LoginFailure.ip == ip[:64], LoginFailure.at <= now - WINDOW
        )
    )
    session.add(LoginFailure(username=key, ip=ip[:64], at=now))
    session.flush()


def clear(session: Session, username: str, ip: str) -> None:
    session.execute(delete(LoginFailure).where(LoginFailure.username == _key(username), LoginFailure.ip == ip[:64]))
