from __future__ import annotations

from fastapi import APIRouter, Request

from charter.access import login_limit, service
from charter.access.deps import CtxDep, PrincipalDep
from charter.access.models import User
from charter.access.schemas import (
    LoginRequest,
    Me,
    TokenCreate,
    TokenIssued,
    TokenRead,
    UserCreate,
    UserRead,
    UserUpdate,
)
from charter.context import Ctx
from charter.kit.errors import Unauthenticated
from charter.kit.principal import Principal
from charter.kit.roles import PERMISSIONS, ROLE_PERMISSIONS
from charter.kit.routing import API

router = APIRouter(prefix=API, tags=["access"])


@router.post("/auth/login", status_code=201, summary="Exchange a username and password for a personal token")
def login(body: LoginRequest, request: Request) -> TokenIssued:
    state = request.app.state
    ip = request.client.host if request.client else ""
    with state.session_factory() as session:
        login_limit.check(session, state.clock, body.username, ip)  # the console's limit, shared
        try:
            user = service.authenticate_password(session, body.username, body.password)
        except Unauthenticated:
            session.rollback()
            login_limit.record_failure(session, state.clock, body.username, ip)
            session.commit()
            raise
        login_limit.clear(session, body.username, ip)
        ctx = Ctx(
            session=session,
            principal=service.principal_of(user),
            clock=state.clock,
            settings=state.settings,
            request_id=getattr(request.state, "request_id", None),
        )
        token, clear = service.issue_personal_token(ctx, user, state.settings.personal_token_hours)
        ctx.commit()
        return TokenIssued.model_validate(
            {**TokenRead.model_validate(token).model_dump(), "token": clear, "username": user.username}
        )


@router.get("/auth/me", summary="Who am I, and what may I do")
def me(principal: PrincipalDep) -> Me:
    return Me(
        username=principal.name,
        role=principal.role,
        kind=principal.kind,
        permissions=sorted(principal.permissions),
    )


@router.get("/auth/roles", summary="The role matrix")
def roles(principal: PrincipalDep) -> dict[str, object]:
    return {"permissions": PERMISSIONS, "roles": {r: sorted(p) for r, p in ROLE_PERMISSIONS.items()}}


@router.get("/users", summary="List users")
def list_users(ctx: CtxDep) -> list[UserRead]:
    return [UserRead.model_validate(u) for u in service.list_users(ctx)]


@router.post("/users", status_code=201, summary="Create a user")
def create_user(body: UserCreate, ctx: CtxDep) -> UserRead:
    user = service.create_user(ctx, body)
    ctx.commit()
    return UserRead.model_validate(user)


@router.patch("/users/{username}", summary="Change a user (role, disabled, password...)")
def update_user(username: str, body: UserUpdate, ctx: CtxDep) -> UserRead:
    user = service.update_user(ctx, username, body)
    ctx.commit()
    return UserRead.model_validate(user)


def _token_read(token: object, username: str) -> TokenRead:
    return TokenRead.model_validate({**TokenRead.model_validate(token).model_dump(), "username": username})


@router.get("/tokens", summary="List tokens (yours, or everyone's for admins)")
def list_tokens(ctx: CtxDep, username: str | None = None) -> list[TokenRead]:
    return [_token_read(t, u) for t, u in service.list_tokens(ctx, username)]


@router.post("/tokens", status_code=201, summary="Create a machine token (the secret is shown once)")
def create_token(body: TokenCreate, ctx: CtxDep) -> TokenIssued:
    token, clear = service.issue_token(ctx, body)
    ctx.commit()
    owner = body.username or ctx.principal.name
    return TokenIssued.model_validate({**_token_read(token, owner).model_dump(), "token": clear})


@router.delete("/tokens/{token_id}", summary="Revoke a token")
def revoke_token(token_id: int, ctx: CtxDep, reason: str | None = None) -> TokenRead:
    token = service.revoke_token(ctx, token_id, reason)
    ctx.commit()
    owner = ctx.session.get(User, token.user_id)
    return _token_read(token, owner.username if owner else "")


_ = Principal  # re-exported type for OpenAPI readers
