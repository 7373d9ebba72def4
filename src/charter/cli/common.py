"""What every CLI command shares: output (table or --json), one-line errors, local database access.

Keep this module light: `charter --help` must start fast, so heavy imports happen inside functions.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import typer

if TYPE_CHECKING:
    from charter.client import Client
    from charter.context import Ctx

F = TypeVar("F", bound=Callable[..., Any])

JsonOpt = typer.Option(False, "--json", help="print JSON for scripts instead of a table")


def fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def handle_errors(fn: F) -> F:
    """Turn every known error into one line on stderr and a non-zero exit code; no traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from charter.client import ClientError
        from charter.errors import CharterError

        try:
            return fn(*args, **kwargs)
        except ClientError as exc:
            code = 2 if exc.status == 422 else 1
            raise fail(f"{exc.detail}" + (f" [{exc.status}]" if exc.status else ""), code) from None
        except CharterError as exc:
            raise fail(exc.detail, 2 if exc.status == 422 else 1) from None
        except (OSError, ValueError) as exc:
            raise fail(str(exc)) from None

    return wrapper  # type: ignore[return-value]


def client() -> Client:
    from charter.client import Client

    return Client()


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str, ensure_ascii=False))


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[str], title: str | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    if not rows:
        typer.echo("(none)")
        return
    table = Table(title=title, show_lines=False)
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*[_cell(row.get(c)) for c in columns])
    Console(width=200 if not sys.stdout.isatty() else None).print(table)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def output(data: Any, columns: Sequence[str], as_json: bool, title: str | None = None) -> None:
    if as_json:
        print_json(data)
    elif isinstance(data, list):
        print_table(data, columns, title)
    else:
        print_table([data], columns, title)


@contextmanager
def local_ctx(commit: bool = True) -> Iterator[Ctx]:
    """A context on the local database (CHARTER_DATABASE_URL / CHARTER_DATA_DIR) for admin commands.

    Acts as the built-in 'system' principal named after the operating-system user.
    """
    import getpass

    from charter.access.principal import Principal
    from charter.clock import SystemClock
    from charter.context import Ctx
    from charter.db import make_engine, make_session_factory
    from charter.settings import Settings

    settings = Settings()
    engine = make_engine(settings.db_url)
    _require_migrated(engine)
    session = make_session_factory(engine)()
    principal = Principal(kind="system", user_id=None, name=f"cli:{getpass.getuser()}", role="admin")
    ctx = Ctx(session=session, principal=principal, clock=SystemClock(), settings=settings)
    try:
        yield ctx
        if commit:
            ctx.commit()
    finally:
        session.rollback()
        session.close()
        engine.dispose()


def _require_migrated(engine: Any) -> None:
    from charter.migrate import migration_status

    with engine.connect() as conn:
        status = migration_status(conn)
    if not status["current"]:
        raise fail("the database is not migrated; run 'charter db upgrade' first")
