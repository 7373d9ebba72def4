"""What every CLI command shares: output (table or --json), one-line errors, local database access.

Keep this module light: `charter --help` must start fast, so heavy imports happen inside functions.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import typer

if TYPE_CHECKING:
    from charter.client import Client

F = TypeVar("F", bound=Callable[..., Any])

JsonOpt = typer.Option(False, "--json", help="print JSON for scripts instead of a table")


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print one line on stderr and return the Exit to raise (1: failure, 2: usage)."""
    line = " ".join(part.strip() for part in str(message).splitlines() if part.strip())
    typer.echo(f"error: {line}", err=True)
    return typer.Exit(code)


def handle_errors(fn: F) -> F:
    """Turn every known error into one line on stderr and a non-zero exit code; no traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except BrokenPipeError:  # `charter ... | head`: the reader left; not an error worth a line
            raise typer.Exit(silence_broken_pipe()) from None
        except Exception as exc:
            known = describe_error(exc)
            if known is None:
                raise  # a bug: keep the traceback
            message, code = known
            raise fail(message, code) from None

    return wrapper  # type: ignore[return-value]


BROKEN_PIPE_EXIT = 141  # what a shell reports for a program ended by SIGPIPE (128 + 13)


def silence_broken_pipe() -> int:
    """Point stdout at /dev/null so the final flush cannot fail again; return the exit code to use.

    The pattern the Python docs recommend for output into a closed pipe (library/signal.html, "Note on SIGPIPE").
    """
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a real file (tests, embedding): nothing left to flush
        pass
    return BROKEN_PIPE_EXIT


def describe_error(exc: BaseException) -> tuple[str, int] | None:
    """(one-line message, exit code) for an error a person can act on; None for a bug."""
    from pydantic import ValidationError
    from sqlalchemy.exc import SQLAlchemyError

    from charter.client import ClientError
    from charter.kit.errors import CharterError

    if isinstance(exc, ClientError):
        return exc.detail + (f" [{exc.status}]" if exc.status else ""), 2 if exc.status == 422 else 1
    if isinstance(exc, CharterError):
        return exc.detail, 2 if exc.status == 422 else 1
    if isinstance(exc, ValidationError):
        return validation_message(exc), 2 if exc.title != "Settings" else 1
    if isinstance(exc, SQLAlchemyError):
        orig = getattr(exc, "orig", None) or exc
        first = (str(orig).strip().splitlines() or [exc.__class__.__name__])[0]
        return f"database error: {first} (check CHARTER_DATABASE_URL / CHARTER_DATA_DIR)", 1
    if isinstance(exc, OSError | ValueError):
        return str(exc) or exc.__class__.__name__, 1
    return None


def validation_message(exc: Any) -> str:
    """One line for a pydantic ValidationError; settings errors name their CHARTER_ variable."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()))
        if exc.title == "Settings":
            loc = f"CHARTER_{loc.upper()}" if loc else "configuration"
        msg = str(err.get("msg", "")).removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts) or str(exc)


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
