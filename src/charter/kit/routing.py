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

from typing import Any

from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Match, Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

API = "/api/v1"
"""The prefix of every API route: domain routers are declared with `prefix=f"{API}/..."`."""

_ANY = None  # a segment with a parameter


def add_routes(target: Router, source: Router) -> None:
    """Append `source`'s routes to `target` as they are (paths, tags, dependencies and route class were
    fixed when `source` declared them; nothing is prefixed). Use it instead of `include_router`."""
    for route in source.routes:
        if type(route).__name__ == "_IncludedRouter" or not isinstance(route, BaseRoute):
            raise TypeError(
                f"{route!r} is a nested router (include_router): declare its routes with the full prefix "
                "and add them with charter.kit.routing.add_routes"
            )
        target.routes.append(route)


def _shape(route: Any) -> tuple[str | None, ...] | None:
    """The segments of a plain route's path template (None for a parameter), or None when the route may
    match paths of another shape and must always be tried."""
    if not isinstance(route, Route) or type(route).matches not in _PLAIN_MATCHES:
        return None
    template = route.path
    if ":path}" in template:
        return None
    return tuple(_ANY if "{" in part else part for part in template.split("/"))


# `matches` implementations that match a path with the route's compiled template and nothing else.
_PLAIN_MATCHES = frozenset({Route.matches, APIRoute.matches})


class RouteIndex:
    """ASGI: dispatch HTTP requests straight to the first fully matching route among those whose shape
    fits; otherwise hand over to `router_app` (the router's own scan)."""

    def __init__(self, router_app: ASGIApp, router: Router) -> None:
        self.app = router_app
        self.router = router
        self._built_for: list[Any] | None = None
        self._size = -1
        self._by_length: dict[int, list[tuple[int, Any, tuple[tuple[int, str], ...]]]] = {}
        self._always: list[tuple[int, Any, tuple[tuple[int, str], ...]]] = []

    def _build(self) -> None:
        routes = self.router.routes
        by_length: dict[int, list[tuple[int, Any, tuple[tuple[int, str], ...]]]] = {}
        always: list[tuple[int, Any, tuple[tuple[int, str], ...]]] = []
        for position, route in enumerate(routes):
            shape = _shape(route)
            if shape is None:
                always.append((position, route, ()))
                continue
            literals = tuple((i, part) for i, part in enumerate(shape) if part is not _ANY)
            by_length.setdefault(len(shape), []).append((position, route, literals))
        self._by_length = {n: sorted(rs + always, key=lambda r: r[0]) for n, rs in by_length.items()}
        self._always = always
        self._built_for, self._size = routes, len(routes)

    def candidates(self, path: str) -> list[Any]:
        """The routes that may match `path`, in registration order."""
        routes = self.router.routes
        if routes is not self._built_for or len(routes) != self._size:
            self._build()  # routes added or replaced after start (tests, plugins)
        parts = path.split("/")
        bucket = self._by_length.get(len(parts), self._always)
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
