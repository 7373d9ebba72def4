"""Sign in and sign out."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from charter.access import login_limit as ratelimit
from charter.access.service import authenticate_password
from charter.kit.errors import Unauthenticated
from charter.web import csrf
from charter.web.auth.session import COOKIE, revoke, start
from charter.web.deps import Form, IdentityDep, WebRoute, client_ip, field, lookup_identity
from charter.web.render import redirect, render

router = APIRouter(route_class=WebRoute, include_in_schema=False)


def safe_next(target: str | None) -> str:
    """Only same-site paths: never '//host' or a full URL (open redirect)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")) or "\n" in target:
        return "/"
    return target


def _login_page(request: Request, status: int = 200, **context: object) -> Response:
    token = request.cookies.get(csrf.LOGIN_COOKIE) or csrf.new_token()
    context.setdefault("username", "")
    context.setdefault("error", None)
    context.setdefault("next", safe_next(request.query_params.get("next")))
    response = render(request, "login.html", status=status, login_csrf=token, **context)
    response.set_cookie(
        csrf.LOGIN_COOKIE,
        token,
        max_age=3600,
        path="/login",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.get("/login")
def login_form(request: Request) -> Response:
    if lookup_identity(request) is not None:
        return RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
    return _login_page(request)


@router.post("/login")
def login(request: Request, form: Form) -> Response:
    username = field(form, "username")
    password = form.get("password")
    password = password if isinstance(password, str) else ""
    target = safe_next(field(form, "next"))
    if not csrf.matches(request.cookies.get(csrf.LOGIN_COOKIE), field(form, csrf.FIELD)):
        return _login_page(
            request,
            403,
            username=username,
            next=target,
            error="The sign-in form expired or was sent from another site. Please sign in again.",
        )
    if not username or not password:
        return _login_page(request, 422, username=username, next=target, error="Enter your username and password.")
    state = request.app.state
    ip = client_ip(request)
    with state.session_factory() as session:
        found = ratelimit.paused(session, state.clock, username, ip)
        if found is not None:
            wait, what = found
            minutes = max(1, -(-wait // 60))
            response = _login_page(
                request,
                429,
                username=username,
                next=target,
                error=f"Too many failed sign-ins {what}. "
                f"Sign-in is paused: try again in {minutes} minute{'s' if minutes != 1 else ''}.",
            )
            response.headers["Retry-After"] = str(wait)
            return response
        try:
            user = authenticate_password(session, username, password)
        except Unauthenticated:
            session.rollback()
            ratelimit.record_failure(session, state.clock, username, ip)
            session.commit()
            left = ratelimit.MAX_FAILURES - ratelimit.failures(session, state.clock, username, ip)
            hint = (
                f" {left} more attempt{'s' if left != 1 else ''} before sign-in is paused for "
                f"{int(ratelimit.WINDOW.total_seconds() // 60)} minutes."
                if left > 0
                else " Sign-in is now paused for 15 minutes."
            )
            return _login_page(
                request,
                401,
                username=username,
                next=target,
                error="Unknown user or wrong password, or the account is disabled." + hint,
            )
        ratelimit.clear(session, username, ip)
        old = lookup_identity(request)
        if old is not None:
            revoke(session, state.clock, old.session_id)
        _row, clear = start(
            session,
            state.clock,
            user,
            lifetime=timedelta(hours=state.settings.personal_token_hours),
            ip=ip,
            user_agent=request.headers.get("user-agent", ""),
        )
        session.commit()
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(COOKIE, clear, path="/", httponly=True, samesite="lax", secure=request.url.scheme == "https")
    response.delete_cookie(csrf.LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(request: Request, ident: IdentityDep) -> Response:
    with request.app.state.session_factory() as session:
        revoke(session, request.app.state.clock, ident.session_id)
        session.commit()
    response = redirect(request, "/login", "You are signed out.", "info")
    response.delete_cookie(COOKIE, path="/")
    return response
