"""Let the JSON API accept the console's session cookie (installed as app.state.cookie_principal).

A request with a bearer token never reaches this. A cookie-authenticated API request that changes state
(any method but GET/HEAD/OPTIONS) must carry the session's CSRF token in the X-CSRF-Token header, or it
is refused with 403: a browser sends cookies with cross-site requests, the header it cannot forge.
"""

from __future__ import annotations

from starlette.requests import Request

from charter.kit.principal import Principal
from charter.web import csrf
from charter.web.deps import lookup_identity


def cookie_principal(request: Request) -> Principal | None:
    ident = lookup_identity(request)
    if ident is None:
        return None
    if request.method not in csrf.SAFE_METHODS and not csrf.matches(ident.csrf_token, request.headers.get(csrf.HEADER)):
        raise csrf.CsrfRejected(
            "this API request is authenticated by the console's session cookie, so it must send the "
            "X-CSRF-Token header (the csrf-token meta tag of any console page); scripts should use "
            "'Authorization: Bearer <token>' instead"
        )
    return ident.principal
