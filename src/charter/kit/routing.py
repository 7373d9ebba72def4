"""API prefix, flat route registration, and route lookup by path shape instead of a scan of every route.

Routes are registered flat (`add_routes`): every domain router carries its full prefix (`API` + its
own), and its routes are appended to the app's router as they are. FastAPI 0.137 and later turn
`include_router` into a nested router that is searched route by route on every request, at several
times the cost of a plain route match (fastapi/fastapi#15745; skipping by prefix is proposed in
fastapi/fastapi#16159); flat routes keep routing cheap and let the index below work.

Starlette (and FastAPI) find the route of a request by trying every route in order until one matches;
with the ~300 routes of the API and the console that costs most of a millisecond per request on a small
machine for a route registered late (a gate check paid more for routing than for its evaluation). The
index keeps the same rule — the first route, in registration order, that fully matches — but tries only
the routes whose literal path segments fit the request path. Anything it cannot reason about (mounts,
`{x:path}` parameters, routes that are not plain path routes) is always tried, in its place. When no
candidate matches fully, the router's own scan runs, so 405, trailing-slash redirects and 404 behave
exactly as before. See docs/decisions.md (D9) and docs/performance.md.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi.routing import APIRoute, request_response
from starlette.concurrency import run_in_threadpool
from starlette.routing import BaseRoute, Match, Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

API = "/api/v1"
"""The prefix of every API route: domain routers are declared with `prefix=f"{API}/..."`."""

_ANY = None  # a segment with a parameter
F = TypeVar("F", bound=Callable[..., Any])
_Entry = tuple[int, Any, tuple[tuple[int, str], ...]]


def add_routes(target: Router, source: Router, *, inline_reads: bool = False) -> None:
    """Append `source`'s routes to `target` as they are (paths, tags, dependencies and route class were
    fixed when `source` declared them; nothing is prefixed). Use it instead of `include_router`.
    inline_reads: run synchronous GET endpoints on the event loop (see `one_thread_hop`)."""
    for route in source.routes:
        if type(route).__name__ == "_IncludedRouter" or not isinstance(route, BaseRoute):
            raise TypeError(
                f"{route!r} is a nested router (include_router): declare its routes with the full prefix "
                "and add them with charter.kit.routing.add_routes"
            )
        one_thread_hop(route, inline_reads=inline_reads)
        target.routes.append(route)


def threaded(function: F) -> F:
    """Mark a synchronous GET endpoint that may read for long (an export, a download, a large series): it
    always runs in the thread pool, never inline on the event loop."""
    function.__charter_threaded__ = True  # type: ignore[attr-defined]
    return function


def one_thread_hop(route: BaseRoute, *, inline_reads: bool = False) -> None:
    """Run a synchronous endpoint in one worker-thread hop instead of two — or none, for reads on SQLite.

    FastAPI runs a `def` endpoint in the thread pool and then validates its return value in the thread pool
    again (a second hop: ~0.1 ms of CPU and, under load, a second wait for a thread and the GIL). Wrapped in an
    `async def` that awaits the same function in the thread pool, the endpoint makes one hop and FastAPI
    validates the (already typed) result on the event loop. With inline_reads (the app's database is SQLite,
    where a read transaction never waits for a lock), a GET runs on the event loop itself, unless it is marked
    `threaded`. The signature is the function's own (functools.wraps), so parameters and dependencies are
    unchanged. Measured: docs/decisions.md, D10."""
    if not isinstance(route, APIRoute) or inspect.iscoroutinefunction(route.endpoint):
        return
    function = route.endpoint
    inline = (
        inline_reads
        and (route.methods or set()) <= {"GET", "HEAD"}
        and not getattr(function, "__charter_threaded__", False)
    )

    if inline:

        @functools.wraps(function)
        async def endpoint(**values: Any) -> Any:
            return function(**values)

    else:

        @functools.wraps(function)
        async def endpoint(**values: Any) -> Any:
            return await run_in_threadpool(function, **values)

    route.endpoint = endpoint
    route.dependant.call = endpoint
    route.app = request_response(route.get_route_handler())


def _shape(route: Any) -> tuple[str | None, ...] | None:
    """The segments of a plain route's path template (None for a parameter), or None when the route may
    match paths of another shape and must always be tried."""
    if not isinstance(route, Route) or type(route).matches not in _PLAIN_MATCHES:
        return None
    template = route.path
    if ":path}" in template:
        return None
    return tuple(_ANY if "{" in part else part for part in template.split("/"))


def _path_shape(route: Any) -> tuple[int, tuple[tuple[int, str], ...]] | None:
    """For a plain route with one `{x:path}` parameter: the fewest segments a matching path has and its literal
    segments (from the start before the parameter, from the end after it: negative positions). None otherwise."""
    if not isinstance(route, Route) or type(route).matches not in _PLAIN_MATCHES:
        return None
    parts = route.path.split("/")
    spans = [i for i, part in enumerate(parts) if part.endswith(":path}")]
    if len(spans) != 1 or not parts[spans[0]].startswith("{"):
        return None
    at = spans[0]
    before = [(i, part) for i, part in enumerate(parts[:at]) if "{" not in part]
    after = [(i - len(parts), part) for i, part in enumerate(parts) if i > at and "{" not in part]
    return len(parts), tuple(before + after)


# `matches` implementations that match a path with the route's compiled template and nothing else.
_PLAIN_MATCHES = frozenset({Route.matches, APIRoute.matches})


_PREFIX = 4  # path segments used as the bucket key ('', 'api', 'v1', '<resource>' for API routes)


class RouteIndex:
    """ASGI: dispatch HTTP requests straight to the first fully matching route among those whose shape
    fits; otherwise hand over to `router_app` (the router's own scan).

    Routes are bucketed by (number of segments, first segments): a request looks up its bucket in a dict
    and checks only the routes that can match it. Routes with a parameter among the first segments, and
    routes that may match other shapes, join every bucket they could match; each bucket keeps registration
    order, so the first full match is the one the router's own scan would pick."""

    def __init__(self, router_app: ASGIApp, router: Router) -> None:
        self.app = router_app
        self.router = router
        self._built_for: list[Any] | None = None
        self._size = -1
        self._exact: dict[tuple[int, tuple[str, ...]], list[_Entry]] = {}
        self._wild: dict[int, list[_Entry]] = {}
        self._always: list[_Entry] = []
        self._spans: list[tuple[int, _Entry]] = []
        self._merged: dict[tuple[int, tuple[str, ...]], list[_Entry]] = {}

    def _build(self) -> None:
        routes = self.router.routes
        exact: dict[tuple[int, tuple[str, ...]], list[_Entry]] = {}
        wild: dict[int, list[_Entry]] = {}
        always: list[_Entry] = []
        spans: list[tuple[int, _Entry]] = []
        for position, route in enumerate(routes):
            shape = _shape(route)
            if shape is None:
                spanning = _path_shape(route)
                if spanning is None:
                    always.append((position, route, ()))
                else:  # `{x:path}` spans one or more segments: any length from its own, literals at both ends
                    spans.append((spanning[0], (position, route, spanning[1])))
                continue
            head = shape[:_PREFIX]
            literals = tuple((i, part) for i, part in enumerate(shape) if part is not _ANY and i >= len(head))
            if _ANY in head:
                literals = tuple((i, part) for i, part in enumerate(shape) if part is not _ANY)
                wild.setdefault(len(shape), []).append((position, route, literals))
            else:
                exact.setdefault((len(shape), tuple(str(p) for p in head)), []).append((position, route, literals))
        self._exact, self._wild, self._always, self._merged = exact, wild, always, {}
        self._spans = spans
        self._built_for, self._size = routes, len(routes)

    def candidates(self, path: str) -> list[Any]:
        """The routes that may match `path`, in registration order."""
        routes = self.router.routes
        if routes is not self._built_for or len(routes) != self._size:
            self._build()  # routes added or replaced after start (tests, plugins)
        parts = path.split("/")
        key = (len(parts), tuple(parts[:_PREFIX]))
        bucket = self._merged.get(key)
        if bucket is None:
            spanning = [entry for fewest, entry in self._spans if len(parts) >= fewest]
            bucket = sorted(
                [*self._exact.get(key, ()), *self._wild.get(len(parts), ()), *self._always, *spanning],
                key=lambda r: r[0],
            )
            if len(self._merged) < 4_096:  # request paths with distinct prefixes (ids): keep the memo bounded
                self._merged[key] = bucket
        return [route for _pos, route, literals in bucket if all(parts[i] == text for i, text in literals)]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope.get("root_path"):  # mounted elsewhere: the router decides
            for route in self.candidates(scope["path"]):
                match, child_scope = route.matches(scope)
                if match is Match.FULL:
                    scope.setdefault("router", self.router)
                    scope.update(child_scope)
                    await route.handle(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def install(router: Router) -> RouteIndex:
    """Put the index in front of the router's own dispatch (inside the app's middleware and exception
    handling, like the router itself)."""
    index = RouteIndex(router.middleware_stack, router)
    router.middleware_stack = index
    return index


def body_schema(model: Any) -> dict[str, Any]:
    """A Pydantic model's JSON schema for an OpenAPI requestBody written by hand (openapi_extra), with every
    `$ref` to its own `$defs` inlined: a `#/$defs/...` pointer would be read from the OpenAPI document's root,
    where it does not resolve (issue 12, finding 10). Recursive models are not supported here."""
    schema: dict[str, Any] = model.model_json_schema(ref_template="#/$defs/{model}")
    defs: dict[str, Any] = schema.pop("$defs", {})

    def inline(node: Any, seen: tuple[str, ...] = ()) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                name = ref.removeprefix("#/$defs/")
                if name in seen:
                    raise ValueError(f"{model.__name__}: recursive model {name} cannot be inlined")
                rest = {k: v for k, v in node.items() if k != "$ref"}
                return {**inline(defs[name], (*seen, name)), **inline(rest, seen)}
            return {k: inline(v, seen) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v, seen) for v in node]
        return node

    result: dict[str, Any] = inline(schema)
    return result
