"""Typed FastAPI dependencies: the acting principal and the unit-of-work context."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request

from charter.access.principal import Principal
from charter.access.service import authenticate_token
from charter.context import Ctx
from charter.errors import Unauthenticated


def current_principal(request: Request) -> Principal:
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        # The web console authenticates by session cookie (set by charter.web).
        resolver = getattr(request.app.state, "cookie_principal", None)
        principal = resolver(request) if resolver else None
        if principal is None:
            raise Unauthenticated(
                "send 'Authorization: Bearer <token>' (create one with 'charter token create' "
                "or POST /api/v1/auth/login)"
            )
        request.state.principal = principal
        return principal  # type: ignore[no-any-return]
    factory = request.app.state.session_factory
    with factory() as session:
        principal = authenticate_token(session, request.app.state.clock, credentials.strip())
        session.commit()  # last_used_at
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def unit_of_work(request: Request, principal: PrincipalDep) -> Iterator[Ctx]:
    """A session for one request. The endpoint commits (ctx.commit()); anything else rolls back."""
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
