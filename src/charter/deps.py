"""Typed FastAPI dependencies: the acting principal and the unit-of-work context."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from charter.access.principal import Principal
from charter.access.service import resolve_token, touch_token
from charter.clock import Clock
from charter.context import Ctx
from charter.db import read_only
from charter.errors import Unauthenticated


async def current_principal(request: Request) -> Principal:
    """The caller, from its bearer token (or the console's session cookie).

    Async: on SQLite the token lookup is a read-only transaction, which never waits for a lock, so it runs
    on the event loop and saves a thread-pool hop per request; anything that may block (PostgreSQL, the
    cookie resolver, the once-a-minute last_used_at write) runs in the thread pool."""
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        # The web console authenticates by session cookie (set by charter.web).
        resolver = getattr(request.app.state, "cookie_principal", None)
        by_cookie: Principal | None = await run_in_threadpool(resolver, request) if resolver else None
        if by_cookie is None:
            raise Unauthenticated(
                "send 'Authorization: Bearer <token>' (create one with 'charter token create' "
                "or POST /api/v1/auth/login)"
            )
        request.state.principal = by_cookie
        return by_cookie
    factory = request.app.state.session_factory
    clock = request.app.state.clock
    clear = credentials.strip()
    if _lookup_never_blocks(factory):
        principal, touch = _resolve(factory, clock, clear)
    else:
        principal, touch = await run_in_threadpool(_resolve, factory, clock, clear)
    if touch is not None:  # at most once a minute per token: a short write transaction of its own
        await run_in_threadpool(_touch, factory, clock, touch)
    request.state.principal = principal
    return principal


def _lookup_never_blocks(factory: sessionmaker[Session]) -> bool:
    bind = factory.kw.get("bind")
    return bind is not None and bind.dialect.name == "sqlite"


def _resolve(factory: sessionmaker[Session], clock: Clock, clear: str) -> tuple[Principal, int | None]:
    with factory() as session:
        # A read: on SQLite it takes no write lock, so authentication never queues behind writers.
        read_only(session)
        found = resolve_token(session, clock, clear)
        session.rollback()
    return found


def _touch(factory: sessionmaker[Session], clock: Clock, token_id: int) -> None:
    with factory() as session:
        touch_token(session, token_id, clock.now())
        session.commit()


PrincipalDep = Annotated[Principal, Depends(current_principal)]


async def unit_of_work(request: Request, principal: PrincipalDep) -> AsyncIterator[Ctx]:
    """A session for one request. The endpoint commits (ctx.commit()); anything else rolls back.

    Async on purpose: creating a session does no I/O, and by the time it is closed the endpoint has
    committed (no I/O either) or failed (a short rollback), so it runs on the event loop instead of
    costing two thread-pool hops per request."""
    session = request.app.state.session_factory()
    try:
        yield Ctx(
            session=session,
            principal=principal,
            clock=request.app.state.clock,
            settings=request.app.state.settings,
            request_id=getattr(request.state, "request_id", None),
        )
    finally:
        session.rollback()
        session.close()


CtxDep = Annotated[Ctx, Depends(unit_of_work)]
