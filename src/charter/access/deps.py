"""Typed FastAPI dependencies: the acting principal and the unit-of-work context."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Annotated, NamedTuple

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from charter.access.service import resolve_cached_token, resolve_token, touch_token
from charter.context import Ctx
from charter.kit.clock import Clock
from charter.kit.db import read_only
from charter.kit.errors import Unauthenticated
from charter.kit.principal import Principal
from charter.ledger.head import read_head


async def current_principal(request: Request) -> Principal:
    """The caller, from its bearer token (or the console's session cookie).

    The token's state (principal, revocation, expiry, disabled user) is cached while the ledger head is
    unchanged, so a repeat caller costs one read of the head (charter.ledger.head). Async: on SQLite that
    read, and the token lookup on a miss (a read-only transaction), never wait for a lock, so they run on
    the event loop and save a thread-pool hop per request; anything that may block (PostgreSQL, the cookie
    resolver, the once-a-minute last_used_at write) runs in the thread pool."""
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
    if _reads_never_block(factory):
        principal, touch, head = _resolve(factory, clock, clear)
    else:
        principal, touch, head = await run_in_threadpool(_resolve, factory, clock, clear)
    if touch is not None:  # at most once a minute per token: a short write transaction of its own
        await run_in_threadpool(_touch, factory, clock, touch)
    request.state.principal = principal
    request.state.ledger_head = head  # read just before authenticating; the gate check's hot path uses it
    return principal


def _reads_never_block(factory: sessionmaker[Session]) -> bool:
    """SQLite reads (WAL, no write lock) never wait, so they may run on the event loop."""
    bind = factory.kw.get("bind")
    return bind is not None and bind.dialect.name == "sqlite"


class Resolved(NamedTuple):
    principal: Principal
    touch_token_id: int | None  # the token's last_used_at is due an update
    head: str | None  # the ledger head read just before (the gate check's fast path uses it)


def _resolve(factory: sessionmaker[Session], clock: Clock, clear: str) -> Resolved:
    bind = factory.kw.get("bind")
    head = read_head(bind) if bind is not None else None
    if head is not None:
        cached = resolve_cached_token(clock, clear, head)
        if cached is not None:
            return Resolved(cached[0], cached[1], head)
    with factory() as session:
        # A read: on SQLite it takes no write lock, so authentication never queues behind writers.
        read_only(session)
        principal, touch = resolve_token(session, clock, clear, head=head)
        session.rollback()
    return Resolved(principal, touch, head)


def _touch(factory: sessionmaker[Session], clock: Clock, token_id: int) -> None:
    with factory() as session:
        touch_token(session, token_id, clock.now())
        session.commit()


PrincipalDep = Annotated[Principal, Depends(current_principal)]


READ_METHODS = frozenset({"GET", "HEAD"})


async def unit_of_work(request: Request, principal: PrincipalDep) -> AsyncIterator[Ctx]:
    """A session for one request. The endpoint commits (ctx.commit()); anything else rolls back. A GET or HEAD
    runs in a read-only transaction (no SQLite write lock; a write in it raises): reads never write.

    Async on purpose: creating a session does no I/O, and by the time it is closed the endpoint has
    committed (no I/O either) or failed (a short rollback), so it runs on the event loop instead of
    costing two thread-pool hops per request."""
    with request_ctx(request, principal, read=request.method in READ_METHODS) as ctx:
        yield ctx


async def writing_unit_of_work(request: Request, principal: PrincipalDep) -> AsyncIterator[Ctx]:
    """A session for a GET that records what it answered (deployment verification): an ordinary write
    transaction, declared at the endpoint."""
    with request_ctx(request, principal) as ctx:
        yield ctx


@contextmanager
def request_ctx(request: Request, principal: Principal, *, read: bool = False) -> Iterator[Ctx]:
    """The context of a request's unit of work: rolled back and closed at the end; the endpoint commits what
    it keeps. read=True: a read-only transaction."""
    state = request.app.state
    session = state.session_factory()
    if read:
        read_only(session)
    try:
        yield Ctx(
            session=session,
            principal=principal,
            clock=state.clock,
            settings=state.settings,
            request_id=getattr(request.state, "request_id", None),
        )
    finally:
        session.rollback()
        session.close()


CtxDep = Annotated[Ctx, Depends(unit_of_work)]
WritingCtxDep = Annotated[Ctx, Depends(writing_unit_of_work)]
