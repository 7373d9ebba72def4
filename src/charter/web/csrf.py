"""CSRF protection.

Signed-in requests use a synchronizer token: a random value stored with the server-side session, put
into every form (hidden field `csrf_token`) and into a `<meta name="csrf-token">` tag from which
static/charter.js adds the `X-CSRF-Token` header to every htmx request. A state-changing request whose
token is missing or different is refused with 403 before any view code runs.

The login form has no session yet: it uses a double-submit cookie (random value in a cookie and in the
form; they must match), which stops a third-party site from logging a victim in to its own account.
"""

from __future__ import annotations

import hmac
import secrets

from starlette.requests import Request

from charter.kit.errors import CharterError

FIELD = "csrf_token"
HEADER = "x-csrf-token"
LOGIN_COOKIE = "charter_login_csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CsrfRejected(CharterError):
    status = 403
    type_slug = "csrf"
    title = "Request refused (CSRF)"


def new_token() -> str:
    return secrets.token_urlsafe(32)


def matches(expected: str | None, given: str | None) -> bool:
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


async def submitted(request: Request) -> str | None:
    """The token a request carries: the X-CSRF-Token header, else the csrf_token form field."""
    header = request.headers.get(HEADER)
    if header:
        return header
    ctype = request.headers.get("content-type", "")
    if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get(FIELD)
        return value if isinstance(value, str) else None
    return None


REFUSED = (
    "the form's security token is missing or out of date (CSRF protection). "
    "Reload the page and submit again; if it keeps happening, sign out and in again."
)
