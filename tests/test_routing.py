"""Route lookup by path shape (charter.kit.routing): same route as the full scan, far fewer tries."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import APIRouter
from starlette.routing import Match, Route

from charter.kit.routing import API, RouteIndex, add_routes

SAMPLE = {"int": "7", "str": "x1", "path": "a/b.txt", "float": "1.5", "uuid": "0" * 8 + "-0000-0000-0000-" + "0" * 12}


def _concrete(template: str) -> str:
    return re.sub(r"{\w+(?::(\w+))?}", lambda m: SAMPLE[m.group(1) or "str"], template)


def _scan(routes, scope):  # type: ignore[no-untyped-def]
    for route in routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return route
    return None


def _index(app) -> RouteIndex:  # type: ignore[no-untyped-def]
    index = app.router.middleware_stack
    assert isinstance(index, RouteIndex)
    return index


def test_the_index_picks_the_route_the_full_scan_picks_for_every_route(app) -> None:
    index = _index(app)
    routes = [r for r in app.router.routes if isinstance(r, Route)]
    assert len(routes) > 150
    checked = 0
    for route in routes:
        path = _concrete(route.path)
        for method in sorted(route.methods or {"GET"}):
            scope = {"type": "http", "path": path, "method": method, "root_path": "", "headers": []}
            assert _scan(index.candidates(path), scope) is _scan(app.router.routes, scope), (method, path)
            checked += 1
    assert checked > 200


def test_a_gate_check_tries_a_handful_of_routes_instead_of_every_one(app) -> None:
    index = _index(app)
    path = f"{API}/systems/support-chatbot/releases/1/gate"
    candidates = index.candidates(path)
    assert 1 <= len(candidates) <= 4
    assert len(app.router.routes) > 200
    assert any(r.path == f"{API}/systems/{{key}}/releases/{{version}}/gate" for r in candidates)


def test_unmatched_wrong_method_and_trailing_slash_answer_as_before(client_for) -> None:
    c = client_for("engineer")
    missing = c.get(f"{API}/no-such-thing")
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
    wrong = c.delete(f"{API}/systems")
    assert wrong.status_code == 405 and "GET" in wrong.headers["allow"]
    assert c.get(f"{API}/systems").status_code == 200


def test_routes_added_after_start_are_found(app, client_for) -> None:
    c = client_for("engineer")
    assert c.get("/late-route/7").status_code == 404

    @app.get("/late-route/{n}")
    def late(n: int) -> dict[str, int]:
        return {"n": n}

    assert c.get("/late-route/7").json() == {"n": 7}


def test_nested_routers_are_refused_with_the_way_out() -> None:
    outer, inner, target = APIRouter(), APIRouter(), APIRouter()

    @inner.get("/x")
    def x() -> None: ...

    outer.include_router(inner, prefix="/inner")
    if not any(type(r).__name__ == "_IncludedRouter" for r in outer.routes):
        pytest.skip("this FastAPI copies included routes (no nested router to refuse)")
    with pytest.raises(TypeError, match="add_routes"):
        add_routes(target, outer)


def test_gets_that_write_run_in_the_thread_pool_never_on_the_event_loop(app) -> None:
    """A GET declared with WritingCtxDep (it records what it answered) takes the SQLite write lock, which may
    wait: it must be marked `threaded` so it never runs inline on the event loop."""
    from fastapi.routing import APIRoute

    from charter.access.deps import writing_unit_of_work

    def depends_on(dependant: Any, call: Any) -> bool:
        return any(d.call is call or depends_on(d, call) for d in dependant.dependencies)

    writing_gets = [
        r
        for r in app.routes
        if isinstance(r, APIRoute) and r.methods <= {"GET", "HEAD"} and depends_on(r.dependant, writing_unit_of_work)
    ]
    assert writing_gets, "the deployment verification GET records its answer"
    for route in writing_gets:
        original = route.endpoint.__wrapped__
        assert getattr(original, "__charter_threaded__", False), f"{route.path} writes: mark it @threaded"
