"""One login limit for the console and the API (issue 12, finding 2).

Failed logins are rows in the database (`web_login_failures`), so the limit holds across server processes,
workers and restarts; the clock is injected, so tests move time instead of sleeping. Within WINDOW, login is
paused for a (username, client address) pair after MAX_FAILURES failures, for a username from any address
after MAX_PER_USER (guessing spread over many addresses), and for an address after MAX_PER_ADDRESS
(one address trying many usernames). A successful login clears the pair's failures.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import TYPE_CHECKING, Final

from sqlalchemy import ColumnElement, delete, func, select

from charter.access.models import LoginFailure
from charter.kit.clock import as_utc
from charter.kit.errors import CharterError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from charter.kit.clock import Clock

MAX_FAILURES: Final = 5
MAX_PER_USER: Final = 20
MAX_PER_ADDRESS: Final = 30
WINDOW: Final = timedelta(minutes=15)


class TooManyAttempts(CharterError):
    status = 429
    type_slug = "too-many-login-attempts"
    title = "Too many failed logins"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail, retry_after=retry_after)
        self.retry_after = retry_after


def _key(username: str) -> str:
    return username.strip().lower()[:200]


def _limits(username: str, ip: str) -> list[tuple[ColumnElement[bool], int, str]]:
    user, address = LoginFailure.username == _key(username), LoginFailure.ip == ip[:64]
    return [
        (user & address, MAX_FAILURES, f"for '{username}' from your address"),
        (user, MAX_PER_USER, f"for '{username}'"),
        (address, MAX_PER_ADDRESS, "from your address"),
    ]


def failures(session: Session, clock: Clock, username: str, ip: str) -> int:
    """Failed logins for this (username, address) within the window."""
    stmt = select(func.count(LoginFailure.id)).where(
        LoginFailure.username == _key(username), LoginFailure.ip == ip[:64], LoginFailure.at > clock.now() - WINDOW
    )
    return int(session.execute(stmt).scalar_one())


def attempts_left(session: Session, clock: Clock, username: str, ip: str) -> int:
    return MAX_FAILURES - failures(session, clock, username, ip)


def paused(session: Session, clock: Clock, username: str, ip: str) -> tuple[int, str] | None:
    """(seconds until the next attempt is allowed, which limit) or None when login may be tried now."""
    now = clock.now()
    for where, limit, what in _limits(username, ip):
        count, oldest = session.execute(
            select(func.count(LoginFailure.id), func.min(LoginFailure.at)).where(where, LoginFailure.at > now - WINDOW)
        ).one()
        if count >= limit and oldest is not None:
            if count > limit:  # the wait ends when enough failures leave the window, not just the oldest
                oldest = session.execute(
                    select(LoginFailure.at)
                    .where(where, LoginFailure.at > now - WINDOW)
                    .order_by(LoginFailure.at)
                    .offset(count - limit)
                    .limit(1)
                ).scalar_one()
            return max(1, math.ceil((as_utc(oldest) + WINDOW - now).total_seconds())), what
    return None


def retry_after(session: Session, clock: Clock, username: str, ip: str) -> int | None:
    found = paused(session, clock, username, ip)
    return None if found is None else found[0]


def check(session: Session, clock: Clock, username: str, ip: str) -> None:
    """TooManyAttempts (429, with Retry-After) while login is paused for this username or address."""
    found = paused(session, clock, username, ip)
    if found is not None:
        wait, what = found
        raise TooManyAttempts(
            f"too many failed logins {what}: login is paused, try again in {wait} seconds "
            f"(at most {MAX_FAILURES} failures per username and address, {MAX_PER_USER} per username and "
            f"{MAX_PER_ADDRESS} per address in {int(WINDOW.total_seconds() // 60)} minutes)",
            wait,
        )


def record_failure(session: Session, clock: Clock, username: str, ip: str) -> None:
    now = clock.now()
    # Keep the table small: forget failures that left the window.
    session.execute(delete(LoginFailure).where(LoginFailure.at <= now - WINDOW))
    session.add(LoginFailure(username=_key(username), ip=ip[:64], at=now))
    session.flush()


def clear(session: Session, username: str, ip: str) -> None:
    session.execute(delete(LoginFailure).where(LoginFailure.username == _key(username), LoginFailure.ip == ip[:64]))
