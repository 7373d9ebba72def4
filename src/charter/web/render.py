"""Templates, flash messages and responses. Every template is autoescaped."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from datetime import datetime, timedelta
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from charter import __version__
from charter.kit.clock import as_utc
from charter.web.messages import label_of
from charter.web.nav import navigation
from charter.web.static_files import static_url

FLASH_COOKIE = "charter_flash"
LEVELS = ("success", "info", "warning", "error")


# ----------------------------------------------------------------------------- filters


def fmt_dt(value: datetime | None) -> str:
    if value is None:
        return "—"
    return as_utc(value).strftime("%Y-%m-%d %H:%M UTC")


def fmt_date(value: datetime | None) -> str:
    return "—" if value is None else as_utc(value).strftime("%Y-%m-%d")


def duration(delta: timedelta) -> str:
    """A short human duration: '3 d 4 h', '5 h 10 min', '12 min', 'just now'."""
    seconds = int(delta.total_seconds())
    if seconds < 0:
        return "in " + duration(-delta)
    if seconds < 60:
        return "just now" if seconds < 10 else f"{seconds} s"
    minutes, _ = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min"


def label(value: object) -> str:
    """'in_house_model' -> 'In house model'."""
    if value is None:
        return "—"
    text = str(value).replace("_", " ").replace("-", " ")
    return text[:1].upper() + text[1:]


SEED_PREFIX = re.compile(r"^\s*seed\s+\d+\s*[:—-]?\s*", re.IGNORECASE)


def human(value: object) -> str:
    """A shipped title as people read it: 'Seed 002 risk assessment matrix (5 x 5)' -> 'Risk assessment
    matrix (5 x 5)' (seed numbers stay in the docs and the SOP metadata; issue 13, finding 6)."""
    text = SEED_PREFIX.sub("", str(value))
    return text[:1].upper() + text[1:]


def pretty_json(value: object) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


def options(items: list[Any], value: str, text: str) -> list[tuple[str, str]]:
    """[(item.value, item.text)] for a select."""
    return [(str(getattr(i, value)), str(getattr(i, text))) for i in items]


def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("charter.web", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        dt=fmt_dt,
        date=fmt_date,
        label=label,
        human=human,
        pretty_json=pretty_json,
        duration=duration,
        dict_merge=lambda a, b: {**a, **b},
        options=options,
    )
    env.globals.update(static=static_url, version=__version__, field_label=label_of)
    return env


ENV = _env()


# ----------------------------------------------------------------------------- flash messages


def _secret(request: Request) -> bytes:
    return str(request.app.state.settings.secret).encode()


def _sign(request: Request, payload: bytes) -> str:
    return hmac.new(_secret(request), payload, hashlib.sha256).hexdigest()[:32]


def encode_flash(request: Request, messages: list[tuple[str, str]]) -> str:
    payload = base64.urlsafe_b64encode(json.dumps(messages).encode())
    return f"{payload.decode()}.{_sign(request, payload)}"


def read_flash(request: Request) -> list[tuple[str, str]]:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw or "." not in raw:
        return []
    payload, _, sig = raw.rpartition(".")
    if not hmac.compare_digest(sig, _sign(request, payload.encode())):
        return []
    try:
        data = json.loads(base64.urlsafe_b64decode(payload.encode()))
    except ValueError:
        return []
    return [(str(lvl), str(msg)) for lvl, msg in data if lvl in LEVELS][:5]


# ----------------------------------------------------------------------------- responses


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def page_context(request: Request) -> dict[str, Any]:
    ident = getattr(request.state, "web_identity", None)
    return {
        "request": request,
        "ident": ident,
        "principal": ident.principal if ident else None,
        "csrf_token": ident.csrf_token if ident else "",
        "nav": navigation(request, ident.principal) if ident else [],
        "now": request.app.state.clock.now(),
        "path": request.url.path,
    }


def render_text(request: Request, template: str, **context: Any) -> str:
    return ENV.get_template(template).render(page_context(request) | context)


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A full page (or, for htmx, the fragment template named); consumes pending flash messages."""
    flashes = read_flash(request) + list(context.pop("flashes", []))
    response = HTMLResponse(render_text(request, template, flashes=flashes, **context), status_code=status)
    if request.cookies.get(FLASH_COOKIE):
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


def fragment(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A partial for htmx: does not consume flash messages."""
    return HTMLResponse(render_text(request, template, flashes=[], **context), status_code=status)


def redirect(request: Request, url: str, message: str | None = None, level: str = "success") -> Response:
    """Post/redirect/get, with a flash message shown on the next page.

    For an htmx request (not boosted) answer with HX-Redirect, so the browser navigates as a whole.
    """
    if is_htmx(request) and request.headers.get("hx-boosted") != "true":
        response: Response = Response(status_code=204, headers={"HX-Redirect": url})
    else:
        response = RedirectResponse(url, status_code=303)
    if message:
        response.set_cookie(
            FLASH_COOKIE,
            encode_flash(request, [(level, message)]),
            max_age=60,
            path="/",
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
    return response


def markup(text: str) -> Markup:
    """Trusted markup built by Charter's own code (e.g. SVG charts whose text was escaped)."""
    return Markup(text)  # noqa: S704
