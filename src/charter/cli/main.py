"""The `charter` command. Each domain adds its sub-app from its own cli.py (imported lazily-light)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup

from charter.access.cli import token_app, user_app
from charter.kit.cli import handle_errors
from charter.kit.registry import DOMAINS_SPEC, load


class OneLineErrors(TyperGroup):
    """Usage errors as one line on stderr (exit 2), like every other Charter error (exit 1)."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        def run() -> Any:
            return super(OneLineErrors, self).main(args, prog_name, complete_var, False, windows_expand_args, **extra)

        if not standalone_mode:
            return run()
        try:
            rv = run()
        except typer.TyperException as exc:  # click's ClickException / UsageError (exit code 2)
            message = exc.format_message()
            if message:  # empty: no arguments, the help was printed
                ctx = getattr(exc, "ctx", None)
                hint = f" (see '{ctx.command_path} --help')" if ctx is not None and exc.exit_code == 2 else ""
                typer.echo(f"error: {message}{hint}", err=True)
            sys.exit(exc.exit_code)
        except typer.Abort:
            typer.echo("error: aborted", err=True)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)


app = typer.Typer(
    cls=OneLineErrors,
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
for _domain in DOMAINS_SPEC:
    _module = load(_domain.name, "cli") if _domain.cli else None
    if _module is None:
        continue
    app.add_typer(_module.app, name=_domain.cli)
    for _attr, _name in _domain.extra_cli:
        app.add_typer(getattr(_module, _attr), name=_name)


@app.command()
@handle_errors
def serve(
    host: str = typer.Option(None, help="bind address (default CHARTER_HOST or 127.0.0.1)"),
    port: int = typer.Option(None, help="port (default CHARTER_PORT or 8000)"),
    demo: bool = typer.Option(False, "--demo", help="seed the demo scenario into an empty database"),
    workers: int = typer.Option(
        1,
        "--workers",
        min=1,
        help="server processes (uvicorn workers); 2+ use more CPU cores (PostgreSQL); on SQLite keep 1",
    ),
) -> None:
    """Migrate the database, create the first admin if needed, and serve the API and console."""
    import uvicorn

    from charter.bootstrap import prepare
    from charter.http.app import create_app
    from charter.kit.settings import Settings

    settings = Settings()
    engine, notes = prepare(settings, demo=demo)
    for line in notes:
        typer.echo(line)
    bind_host = host or settings.host
    bind_port = port or settings.port
    typer.echo(f"Charter is serving at http://{bind_host}:{bind_port}/  (API docs: /docs)")
    if workers == 1:
        app_ = create_app(settings, engine=engine, sweeper_interval=settings.sweep_interval_seconds)
        uvicorn.run(app_, host=bind_host, port=bind_port, log_level="info")
        return
    # Each worker process builds its app from the environment (charter.http.app:create_app, no sweeper);
    # the periodic sweeps run once, in this supervising process.
    from charter.kit.clock import SystemClock
    from charter.kit.db import make_session_factory
    from charter.sweeps import Sweeper

    sweeper = None
    if settings.sweep_interval_seconds:
        sweeper = Sweeper(
            session_factory=make_session_factory(engine),
            clock=SystemClock(),
            settings=settings,
            interval=settings.sweep_interval_seconds,
        ).start()
    try:
        uvicorn.run(
            "charter.http.app:create_app",
            factory=True,
            host=bind_host,
            port=bind_port,
            workers=workers,
            log_level="info",
        )
    finally:
        if sweeper is not None:
            sweeper.stop()


@db_app.command("upgrade")
@handle_errors
def db_upgrade(revision: str = typer.Argument("head")) -> None:
    """Apply migrations up to REVISION (default: head), then install the shipped content (policies, SOPs)."""
    from charter.bootstrap import install_defaults
    from charter.kit.db import make_engine
    from charter.kit.migrate import migration_status, upgrade
    from charter.kit.settings import Settings

    settings = Settings()
    engine = make_engine(settings.db_url)
    upgrade(engine, revision)
    with engine.connect() as conn:
        status = migration_status(conn)
    typer.echo(f"database at revision {', '.join(status['database_revision'])}")
    if status["current"]:
        for note in install_defaults(engine, settings):
            typer.echo(note)


@db_app.command("current")
@handle_errors
def db_current() -> None:
    """Show the database revision and whether it is current."""
    from charter.kit.db import make_engine
    from charter.kit.migrate import migration_status
    from charter.kit.settings import Settings

    with make_engine(Settings().db_url).connect() as conn:
        status = migration_status(conn)
    state = "current" if status["current"] else f"behind (code is at {', '.join(status['code_revision'])})"
    typer.echo(f"{', '.join(status['database_revision']) or '(empty)'}: {state}")
    if not status["current"]:
        raise typer.Exit(1)


@db_app.command("backup")
@handle_errors
def db_backup(file: Path = typer.Argument(..., help="where to write the copy (an SQLite database file)")) -> None:
    """Copy the live SQLite database to FILE (online backup: the server may keep running). PostgreSQL: pg_dump."""
    from charter.kit.db import make_engine
    from charter.kit.settings import Settings
    from charter.kit.sqlite import backup

    engine = make_engine(Settings().db_url)
    try:
        pages = backup(engine, file)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"backed up {pages} pages to {file}")


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
