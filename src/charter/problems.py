"""Mapping of every error to RFC 9457 application/problem+json, and request plumbing middleware."""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, Counter, Histogram
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from charter.errors import CharterError

log = logging.getLogger("charter")
PROBLEM = "application/problem+json"


def problem_response(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    slug = title.lower().replace(" ", "-")
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


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(CharterError)
    async def _domain(request: Request, exc: CharterError) -> JSONResponse:
        resp = JSONResponse(exc.problem(), status_code=exc.status, media_type=PROBLEM)
        if exc.status == 401:
            resp.headers["WWW-Authenticate"] = "Bearer"
        return _with_request_id(request, resp)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in exc.errors()
        ]
        first = errors[0] if errors else {"loc": [], "msg": "invalid"}
        where = ".".join(str(p) for p in first["loc"] if p != "body") or "request"
        detail = f"{where}: {first['msg']}"
        if len(errors) > 1:
            detail += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
        return _with_request_id(request, problem_response(422, "Invalid input", detail, errors=errors))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        titles = {
            404: "Not found",
            405: "Method not allowed",
            401: "Authentication required",
            403: "Permission denied",
            413: "Payload too large",
        }
        detail = str(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no such endpoint: {request.method} {request.url.path} (see /docs)"
        resp = problem_response(exc.status_code, titles.get(exc.status_code, "Error"), detail)
        if exc.headers:
            resp.headers.update(exc.headers)
        return _with_request_id(request, resp)

    @app.exception_handler(OperationalError)
    async def _db_busy(request: Request, exc: OperationalError) -> JSONResponse:
        log.exception("database error")
        return _with_request_id(
            request,
            problem_response(503, "Service unavailable", "the database is unavailable or busy; retry"),
        )


class RequestPlumbing:
    """Request id, body size limit, Prometheus metrics: one pure ASGI middleware."""

    def __init__(self, app: ASGIApp, max_body: int, registry: CollectorRegistry) -> None:
        self.app = app
        self.max_body = max_body
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
        headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
        rid = headers.get("x-request-id") or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid[:100]
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            await self._too_large(scope, send, rid)
            return
        received = 0
        too_large = False

        async def limited_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    too_large = True
                    raise StarletteHTTPException(
                        413, f"the request body is larger than the limit of {self.max_body} bytes"
                    )
            return message

        status = 500
        started = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, limited_receive, send_wrapper)
        except StarletteHTTPException:
            if too_large:
                await self._too_large(scope, send, rid)
                status = 413
            else:
                raise
        finally:
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            self.requests.labels(scope["method"], path, str(status)).inc()
            self.latency.labels(scope["method"], path).observe(time.perf_counter() - started)

    async def _too_large(self, scope: Scope, send: Send, rid: str) -> None:
        resp = problem_response(
            413,
            "Payload too large",
            f"the request body is larger than the limit of {self.max_body} bytes (CHARTER_MAX_BODY_BYTES)",
        )
        resp.headers["X-Request-ID"] = rid
        await resp(scope, _empty, send)


async def _empty() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}
