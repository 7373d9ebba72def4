"""Users: list; administrators create users, change roles, disable and re-enable accounts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError

from charter.access import service
from charter.access.schemas import UserCreate, UserUpdate
from charter.kit.errors import CharterError
from charter.kit.roles import PERMISSIONS, ROLE_PERMISSIONS, ROLES
from charter.web.deps import Form, WebCtx, WebRoute, field
from charter.web.forms import GENERAL, field_errors, optional_int, values
from charter.web.render import redirect, render

router = APIRouter(route_class=WebRoute, include_in_schema=False)


def _page(request: Request, ctx: Any, status: int = 200, **context: Any) -> Response:
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
    try:
        user = service.create_user(ctx, UserCreate.model_validate(payload))
        ctx.commit()
    except ValidationError as exc:
        return _page(request, ctx, 422, form=submitted, errors=field_errors(exc))
    except CharterError as exc:
        return _page(request, ctx, exc.status, form=submitted, errors={GENERAL: exc.detail})
    return redirect(request, "/users", f"Created user '{user.username}' with role {user.role}.")


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
    try:
        user = service.update_user(ctx, username, UserUpdate.model_validate(data))
        ctx.commit()
    except ValidationError as exc:
        return redirect(request, "/users", f"{username}: " + "; ".join(field_errors(exc).values()), "error")
    except CharterError as exc:
        if exc.status == 403:
            raise
        return redirect(request, "/users", exc.detail, "error")
    if action == "disable":
        message = f"Disabled '{username}': their sessions and tokens stop working now."
    elif action == "enable":
        message = f"Re-enabled '{username}'."
    else:
        message = f"'{username}' now has the role {user.role}."
    return redirect(request, "/users", message)
