"""Console dependencies: the signed-in identity, CSRF check, the unit of work; and the error pages.

Every console route uses WebRoute, which turns errors into pages a person can act on:
- not signed in → redirect to the login page (htmx: HX-Redirect);
- PermissionDenied, NotFound, Conflict... → an HTML page (or an htmx fragment) with the service's message;
- an unsafe method without the session's CSRF token → 403, before any view code runs.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterator
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute
from starlette.datastructures import FormData

from charter.context import Ctx
from charter.kit.db import read_only
from charter.kit.errors import CharterError
from charter.web import csrf
from charter.web.auth.session import COOKIE, Identity, resolve
from charter.web.render import fragment, is_htmx, render


class LoginRequired(Exception):
    """No valid console session: send the browser to the login page."""


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def lookup_identity(request: Request) -> Identity | None:
    """Resolve the session cookie once per request (cached on request.state)."""
    if hasattr(request.state, "web_identity"):
        return request.state.web_identity  # type: ignore[no-any-return]
    clear = request.cookies.get(COOKIE)
    ident = None
    if clear:
        with request.app.state.session_factory() as session:
            ident = resolve(session, request.app.state.clock, clear)
            session.commit()  # last_seen_at
    request.state.web_identity = ident
    return ident


def identity(request: Request) -> Identity:
    ident = lookup_identity(request)
    if ident is None:
        raise LoginRequired()
    return ident


async def checked_identity(request: Request, ident: Annotated[Identity, Depends(identity)]) -> Identity:
    """The identity, after the CSRF check for state-changing methods."""
    if request.method not in csrf.SAFE_METHODS and not csrf.matches(ident.csrf_token, await csrf.submitted(request)):
        raise csrf.CsrfRejected(csrf.REFUSED)
    return ident


IdentityDep = Annotated[Identity, Depends(checked_identity)]


def web_ctx(request: Request, ident: IdentityDep) -> Iterator[Ctx]:
    """One session per request; the view commits (ctx.commit()) after a successful change. A GET reads in a
    read-only transaction (reads never write)."""
    session = request.app.state.session_factory()
    if request.method in csrf.SAFE_METHODS:
        read_only(session)
    try:
        yield Ctx(
            session=session,
            principal=ident.principal,
            clock=request.app.state.clock,
            settings=request.app.state.settings,
            request_id=getattr(request.state, "request_id", None),
        )
    finally:
        session.rollback()
        session.close()


WebCtx = Annotated[Ctx, Depends(web_ctx)]


async def form_data(request: Request) -> FormData:
    return await request.form()


Form = Annotated[FormData, Depends(form_data)]


def field(form: FormData, name: str, default: str = "") -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else default


def error_page(request: Request, status: int, title: str, detail: str) -> Response:
    if is_htmx(request):
        # Show the message in the page's alert area instead of the element the request targeted.
        resp = fragment(request, "partials/alert.html", status=200, level="error", title=title, message=detail)
        resp.headers["HX-Retarget"] = "#alerts"
        resp.headers["HX-Reswap"] = "innerHTML"
        return resp
    return render(request, "error.html", status=status, title=title, detail=detail)


def login_redirect(request: Request) -> Response:
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    url = "/login" if target == "/" else f"/login?next={quote(target, safe='')}"
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


class WebRoute(APIRoute):
    """An APIRoute whose errors become console pages instead of problem+json."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await original(request)
            except LoginRequired:
                return login_redirect(request)
            except CharterError as exc:
                return error_page(request, exc.status, exc.title, exc.detail)
            except RequestValidationError as exc:
                first = exc.errors()[0] if exc.errors() else {}
                where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "path", "body"))
                return error_page(request, 422, "Invalid input", f"{where}: {first.get('msg', 'invalid value')}")

        return handler
