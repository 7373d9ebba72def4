"""Mapping of every error to RFC 9457 application/problem+json, and request plumbing middleware."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, Counter, Histogram
from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from charter.kit.errors import CharterError

log = logging.getLogger("charter")
PROBLEM = "application/problem+json"


# The problem type of each HTTP status, shared with the domain errors in charter.kit.errors.
SLUGS = {
    400: "bad-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "payload-too-large",
    422: "validation-error",
    500: "internal-error",
    503: "unavailable",
}


def problem_response(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    slug = SLUGS.get(status) or title.lower().replace(" ", "-")
    body = {
        "type": f"https://charter.dev/problems/{slug}",
        "title": title,
        "status": status,
        "detail": detail,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


def _with_request_id(request: Request, response: JSONResponse) -> JSONResponse:
    rid = getattr(request.state, "request_id", None)
    if rid:
        response.headers["X-Request-ID"] = rid
    return response


_BIND_SUFFIX = re.compile(r"_\d+$")


def unstorable_detail(exc: BaseException) -> tuple[str, list[dict[str, Any]]]:
    """What a value the database cannot store was (NUL in text, a number beyond the column's range), naming
    the field where the statement's parameters show it."""
    params = getattr(exc, "params", None)
    items = list(params.items()) if isinstance(params, dict) else []
    for name, value in items:
        field = _BIND_SUFFIX.sub("", str(name))
        if isinstance(value, str) and "\x00" in value:
            msg = "text may not contain the NUL character (U+0000)"
            return f"{field}: {msg}", [{"loc": [field], "msg": msg}]
        if isinstance(value, int) and not isinstance(value, bool) and not -(2**31) <= value < 2**31:
            msg = f"{value} is beyond the range this field holds (-2147483648..2147483647)"
            return f"{field}: {msg}", [{"loc": [field], "msg": msg}]
    text = str(getattr(exc, "orig", exc)).splitlines()[0][:200]
    if "NUL" in text or "0x00" in text:
        return "text may not contain the NUL character (U+0000)", []
    return (
        f"a value in the request cannot be stored ({text}): numbers must lie within the database's range "
        "(at most 2147483647 for counts and ids) and text may not contain NUL",
        [],
    )


def validation_detail(errors: list[dict[str, Any]]) -> str:
    """One readable sentence for a list of pydantic errors: where, what, and how many more."""
    if not errors:
        return "the request is not valid"
    first = errors[0]
    loc = [str(p) for p in first["loc"]]
    if first.get("type") == "json_invalid":
        text = f"the request body is not valid JSON ({first.get('ctx', {}).get('error', 'decode error')}"
        text += f" at character {loc[1]})" if len(loc) > 1 else ")"
    else:
        where = loc[1:] if loc and loc[0] in ("body", "query", "path", "header", "cookie") else loc
        place = ".".join(where) or ("the request body" if loc == ["body"] else "the request")
        text = f"{place}: {str(first['msg']).removeprefix('Value error, ')}"
    if len(errors) > 1:
        text += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return text


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(CharterError)
    async def _domain(request: Request, exc: CharterError) -> JSONResponse:
        resp = JSONResponse(exc.problem(), status_code=exc.status, media_type=PROBLEM)
        if exc.status == 401:
            resp.headers["WWW-Authenticate"] = "Bearer"
        if isinstance(retry_after := exc.extra.get("retry_after"), int):
            resp.headers["Retry-After"] = str(retry_after)
        return _with_request_id(request, resp)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "loc": list(e.get("loc", ())),
                "msg": e.get("msg", ""),
                "type": e.get("type", ""),
                **({"ctx": {k: str(v) for k, v in e["ctx"].items()}} if e.get("ctx") else {}),
            }
            for e in exc.errors()
        ]
        return _with_request_id(
            request, problem_response(422, "Invalid input", validation_detail(errors), errors=errors)
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        titles = {
            400: "Bad request",
            401: "Authentication required",
            403: "Permission denied",
            404: "Not found",
            405: "Method not allowed",
            413: "Payload too large",
        }
        detail = str(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no such endpoint: {request.method} {request.url.path} (see /docs)"
        elif exc.status_code == 405 and exc.headers and "Allow" in exc.headers:
            detail = f"{request.method} is not allowed on {request.url.path}; allowed: {exc.headers['Allow']}"
        resp = problem_response(exc.status_code, titles.get(exc.status_code, "Error"), detail)
        if exc.headers:
            resp.headers.update(exc.headers)
        return _with_request_id(request, resp)

    @app.exception_handler(StaleDataError)
    async def _concurrent_write(request: Request, exc: StaleDataError) -> JSONResponse:
        return _with_request_id(
            request,
            problem_response(
                409,
                "Stale version",
                "the record was changed by someone else while your change was being saved; reload it and apply "
                "your change again",
            ),
        )

    @app.exception_handler(DataError)
    @app.exception_handler(OverflowError)
    async def _unstorable(request: Request, exc: Exception) -> JSONResponse:
        # A value the database refuses to bind or store: the request's fault, not the server's (issue 12).
        detail, errors = unstorable_detail(exc)
        return _with_request_id(request, problem_response(422, "Invalid input", detail, errors=errors))

    @app.exception_handler(OperationalError)
    async def _db_busy(request: Request, exc: OperationalError) -> JSONResponse:
        log.exception("database error")
        return _with_request_id(
            request,
            problem_response(503, "Service unavailable", "the database is unavailable or busy; retry"),
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Starlette logs and re-raises after this answer; the client still gets problem+json.
        rid = getattr(request.state, "request_id", None)
        return _with_request_id(
            request,
            problem_response(
                500,
                "Internal error",
                f"something went wrong on the server; report request id {rid or '(none)'} to your administrator",
            ),
        )


def route_label(scope: Scope) -> str:
    """The route template of a request (e.g. /api/v1/systems/{key}), for metrics with bounded labels.

    The matched route knows its template relative to its router; the include prefix is the start of the
    actual path with as many segments as the template has, cut off (prefixes hold no parameters).
    """
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    if not isinstance(template, str):
        return "unmatched"
    path = str(scope.get("path", ""))
    depth = template.rstrip("/").count("/")
    parts = path.rstrip("/").split("/")
    if ":path}" in template or depth > len(parts) - 1:
        return template
    return "/".join(parts[: len(parts) - depth]) + template


class RequestPlumbing:
    """Request id, body size limit, Prometheus metrics: one pure ASGI middleware."""

    def __init__(self, app: ASGIApp, max_body: int, registry: CollectorRegistry, max_upload: int | None = None) -> None:
        self.app = app
        self.max_body = max_body
        # multipart/form-data file uploads (evidence, datasets) have their own, larger limit; the service
        # behind each upload enforces its narrower one with its own message.
        self.max_upload = max(max_upload or max_body, max_body)
        self.requests = Counter(
            "charter_http_requests", "HTTP requests", ["method", "route", "status"], registry=registry
        )
        self.latency = Histogram(
            "charter_http_request_seconds",
            "HTTP request latency",
            ["method", "route"],
            registry=registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        rid = (headers.get("x-request-id") or uuid.uuid4().hex)[:100]  # the ledger column holds 100
        scope.setdefault("state", {})["request_id"] = rid
        is_upload = headers.get("content-type", "").startswith("multipart/form-data")
        limit = self.max_upload if is_upload else self.max_body
        setting = "CHARTER_MAX_UPLOAD_BYTES" if is_upload else "CHARTER_MAX_BODY_BYTES"
        received = 0
        too_large = False
        status = 500
        started = time.perf_counter()

        async def limited_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    too_large = True
                    raise StarletteHTTPException(413, self._too_large_detail(limit, setting))
            return message

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                # Exactly one X-Request-ID, whoever else set it (error handlers do too).
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                message["headers"] = [*kept, (b"x-request-id", rid.encode("latin-1"))]
            await send(message)

        try:
            declared = headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > limit:
                status = 413
                await self._too_large(scope, send, rid, limit, setting)
                return
            await self.app(scope, limited_receive, send_wrapper)
        except StarletteHTTPException:
            if not too_large:
                raise
            status = 413
            await self._too_large(scope, send, rid, limit, setting)
        finally:
            path = route_label(scope)
            self.requests.labels(scope["method"], path, str(status)).inc()
            self.latency.labels(scope["method"], path).observe(time.perf_counter() - started)

    @staticmethod
    def _too_large_detail(limit: int, setting: str) -> str:
        return f"the request body is larger than the limit of {limit} bytes ({setting})"

    async def _too_large(self, scope: Scope, send: Send, rid: str, limit: int, setting: str) -> None:
        resp = problem_response(413, "Payload too large", self._too_large_detail(limit, setting))
        resp.headers["X-Request-ID"] = rid
        await resp(scope, _empty, send)


async def _empty() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}
