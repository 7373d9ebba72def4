"""`charter user ...` and `charter token ...`: admin bootstrap commands on the local database."""

from __future__ import annotations

import typer

from charter.kit.cli import JsonOpt, fail, handle_errors, output, validation_message

user_app = typer.Typer(help="Users (local admin commands, work directly on the database).", no_args_is_help=True)
token_app = typer.Typer(
    help="Machine tokens (local admin commands, work directly on the database).", no_args_is_help=True
)

USER_COLUMNS = ("username", "role", "display_name", "email", "disabled", "created_at")
TOKEN_COLUMNS = (
    "id",
    "name",
    "username",
    "kind",
    "prefix",
    "scopes",
    "expires_at",
    "revoked_at",
    "last_used_at",
)


@user_app.command("create")
@handle_errors
def user_create(
    username: str,
    role: str = typer.Option(..., help="admin, governance, approver, engineer, auditor or viewer"),
    password: str = typer.Option(
        ...,
        prompt=True,
        hide_input=True,
        confirmation_prompt=True,
        envvar="CHARTER_NEW_USER_PASSWORD",
        help="at least 12 characters",
    ),
    display_name: str = typer.Option("", help="full name"),
    email: str = typer.Option(None),
    as_json: bool = JsonOpt,
) -> None:
    """Create a user."""
    from pydantic import ValidationError

    from charter.access import service
    from charter.access.schemas import UserCreate, UserRead

    try:
        data = UserCreate(
            username=username,
            role=role,
            password=password,
            display_name=display_name,
            email=email,
        )
    except ValidationError as exc:
        raise fail(validation_message(exc), 2) from None
    from charter.context import local_context

    with local_context() as ctx:
        user = service.create_user(ctx, data)
        row = UserRead.model_validate(user).model_dump(mode="json")
    output(row, USER_COLUMNS, as_json)


@user_app.command("list")
@handle_errors
def user_list(as_json: bool = JsonOpt) -> None:
    """List users."""
    from charter.access import service
    from charter.access.schemas import UserRead
    from charter.context import local_context

    with local_context(commit=False) as ctx:
        rows = [UserRead.model_validate(u).model_dump(mode="json") for u in service.list_users(ctx)]
    output(rows, USER_COLUMNS, as_json)


@user_app.command("disable")
@handle_errors
def user_disable(username: str, enable: bool = typer.Option(False, "--enable", help="re-enable instead")) -> None:
    """Disable (or --enable) a user; their tokens stop working at once."""
    from charter.access import service
    from charter.context import local_context

    with local_context() as ctx:
        service.set_disabled(ctx, username, not enable)
    typer.echo(f"user '{username}' {'enabled' if enable else 'disabled'}")


@token_app.command("create")
@handle_errors
def token_create(
    name: str,
    user: str = typer.Option(..., "--user", help="the user the token acts for"),
    scope: list[str] = typer.Option(
        None, "--scope", help="a permission, e.g. gate:check (repeat); omit for all of the user's permissions"
    ),
    expires_in_days: int = typer.Option(None, help="days until the token expires"),
    as_json: bool = JsonOpt,
) -> None:
    """Create a token for USER and print it once."""
    from pydantic import ValidationError

    from charter.access import service
    from charter.access.schemas import TokenCreate

    try:
        data = TokenCreate(name=name, username=user, scopes=scope or None, expires_in_days=expires_in_days)
    except ValidationError as exc:
        raise fail(validation_message(exc), 2) from None
    from charter.context import local_context

    with local_context() as ctx:
        token, clear = service.issue_token(ctx, data)
        info = {
            "id": token.id,
            "name": token.name,
            "username": user,
            "scopes": token.scopes,
            "expires_at": token.expires_at,
            "token": clear,
        }
    if as_json:
        output(info, (), True)
        return
    typer.echo(f"token {info['id']} '{name}' for {user} (scopes: {', '.join(scope) if scope else 'all'})")
    typer.echo("store it now, it will not be shown again:")
    typer.echo(clear)


@token_app.command("list")
@handle_errors
def token_list(user: str = typer.Option(None, "--user"), as_json: bool = JsonOpt) -> None:
    """List tokens (never their secrets)."""
    from charter.access import service
    from charter.access.schemas import TokenRead
    from charter.context import local_context

    with local_context(commit=False) as ctx:
        rows = [
            TokenRead.model_validate(t).model_dump(mode="json") | {"username": u}
            for t, u in service.list_tokens(ctx, user)
        ]
    output(rows, TOKEN_COLUMNS, as_json)


@token_app.command("revoke")
@handle_errors
def token_revoke(token_id: int, reason: str = typer.Option(None, help="why")) -> None:
    """Revoke a token; it stops working at once."""
    from charter.access import service
    from charter.context import local_context

    with local_context() as ctx:
        service.revoke_token(ctx, token_id, reason)
    typer.echo(f"token {token_id} revoked")
