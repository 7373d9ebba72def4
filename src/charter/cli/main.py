"""The `charter` command. Each domain adds its sub-app from its own cli.py (imported lazily-light)."""

from __future__ import annotations

import typer

from charter.access.cli import token_app, user_app
from charter.cli.common import handle_errors
from charter.modules import CLI_NAMES, load

app = typer.Typer(
    name="charter",
    help="Charter: AI governance and operations — policy, risk, controls, releases, monitoring, incidents.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="Database migrations (local).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")
for _domain, _name in CLI_NAMES.items():
    _module = load(_domain, "cli")
    if _module is not None:
        app.add_typer(_module.app, name=_name)


@app.command()
@handle_errors
def serve(
    host: str = typer.Option(None, help="bind address (default CHARTER_HOST or 127.0.0.1)"),
    port: int = typer.Option(None, help="port (default CHARTER_PORT or 8000)"),
    demo: bool = typer.Option(False, "--demo", help="seed the demo scenario into an empty database"),
) -> None:
    """Migrate the database, create the first admin if needed, and serve the API and console."""
    import uvicorn

    from charter.app import create_app
    from charter.bootstrap import prepare
    from charter.settings import Settings

    settings = Settings()
    engine, notes = prepare(settings, demo=demo)
    for line in notes:
        typer.echo(line)
    bind_host = host or settings.host
    bind_port = port or settings.port
    typer.echo(f"Charter is serving at http://{bind_host}:{bind_port}/  (API docs: /docs)")
    uvicorn.run(create_app(settings, engine=engine), host=bind_host, port=bind_port, log_level="info")


@db_app.command("upgrade")
@handle_errors
def db_upgrade(revision: str = typer.Argument("head")) -> None:
    """Apply migrations up to REVISION (default: head)."""
    from charter.db import make_engine
    from charter.migrate import migration_status, upgrade
    from charter.settings import Settings

    engine = make_engine(Settings().db_url)
    upgrade(engine, revision)
    with engine.connect() as conn:
        status = migration_status(conn)
    typer.echo(f"database at revision {', '.join(status['database_revision'])}")


@db_app.command("current")
@handle_errors
def db_current() -> None:
    """Show the database revision and whether it is current."""
    from charter.db import make_engine
    from charter.migrate import migration_status
    from charter.settings import Settings

    with make_engine(Settings().db_url).connect() as conn:
        status = migration_status(conn)
    state = "current" if status["current"] else f"behind (code is at {', '.join(status['code_revision'])})"
    typer.echo(f"{', '.join(status['database_revision']) or '(empty)'}: {state}")
    if not status["current"]:
        raise typer.Exit(1)


@app.command()
@handle_errors
def login(
    username: str = typer.Option(..., prompt=True),
    password: str = typer.Option(..., prompt=True, hide_input=True),
    url: str = typer.Option(None, help="server URL (default CHARTER_URL or http://127.0.0.1:8000)"),
) -> None:
    """Log in and keep a personal token in ~/.config/charter (CHARTER_CONFIG_DIR)."""
    from charter.client import Client, save_credentials

    with Client(url=url, token="") as c:
        data = c.login(username, password)
        path = save_credentials(c.url, data["token"], username)
    typer.echo(f"logged in to {c.url} as {username}; token saved to {path} (expires {data['expires_at']})")


@app.command()
def logout() -> None:
    """Forget the saved token."""
    from charter.client import config_dir

    path = config_dir() / "credentials.json"
    path.unlink(missing_ok=True)
    typer.echo("logged out")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
