"""Users: list; administrators create users, change roles, disable and re-enable accounts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request, Response

from charter.access import service
from charter.access.schemas import UserCreate, UserUpdate
from charter.context import Ctx
from charter.kit.roles import PERMISSIONS, ROLE_PERMISSIONS, ROLES
from charter.web.actions import run_and_redirect, run_or_rerender
from charter.web.deps import Form, WebCtx, WebRoute, field
from charter.web.forms import optional_int, values
from charter.web.render import render

if TYPE_CHECKING:
    from charter.access.models import User

router = APIRouter(route_class=WebRoute, include_in_schema=False)


def _page(request: Request, ctx: Ctx, status: int = 200, **context: Any) -> Response:
    context.setdefault("form", {"role": "viewer"})
    context.setdefault("errors", {})
    return render(
        request,
        "users/list.html",
        status=status,
        users=service.list_users(ctx),
        roles=ROLES,
        permissions=PERMISSIONS,
        role_permissions=ROLE_PERMISSIONS,
        **context,
    )


@router.get("/users")
def users_page(request: Request, ctx: WebCtx) -> Response:
    return _page(request, ctx)


@router.post("/users")
def create(request: Request, ctx: WebCtx, form: Form) -> Response:
    password = form.get("password")
    payload = {
        "username": field(form, "username"),
        "role": field(form, "role"),
        "display_name": field(form, "display_name"),
        "email": field(form, "email") or None,
        "password": password if isinstance(password, str) else "",
    }
    submitted = {k: v for k, v in values(form).items() if k != "password"}
    return run_or_rerender(
        request,
        ctx,
        lambda: service.create_user(ctx, UserCreate.model_validate(payload)),
        form_page=lambda status, errors: _page(request, ctx, status, form=submitted, errors=errors),
        to="/users",
        ok=lambda user: f"Created user '{user.username}' with role {user.role}.",
        forbidden="show",
    )


@router.post("/users/{username}")
def change(request: Request, ctx: WebCtx, form: Form, username: str) -> Response:
    """One form per user row: change the role, or disable / enable the account."""
    version = optional_int(field(form, "version"))
    action = field(form, "action")
    data: dict[str, Any] = {"version": version}
    if action == "disable":
        data["disabled"] = True
    elif action == "enable":
        data["disabled"] = False
    else:
        data["role"] = field(form, "role")

    def done(user: User) -> str:
        if action == "disable":
            return f"Disabled '{username}': their sessions and tokens stop working now."
        if action == "enable":
            return f"Re-enabled '{username}'."
        return f"'{username}' now has the role {user.role}."

    return run_and_redirect(
        request,
        ctx,
        lambda: service.update_user(ctx, username, UserUpdate.model_validate(data)),
        back="/users",
        ok=done,
        prefix=f"{username}: ",
    )
