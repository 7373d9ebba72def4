"""`charter risk matrix ...` and `charter risk category ...`: scoring method and categories, through the API."""

from __future__ import annotations

from pathlib import Path

import typer

from charter.kit.cli import JsonOpt, client, handle_errors, output, print_json

matrix_app = typer.Typer(help="Risk matrices (scales, level bands, review cadence).", no_args_is_help=True)
category_app = typer.Typer(help="Risk categories.", no_args_is_help=True)

MATRIX_COLUMNS = ("name", "version", "title", "active", "shipped", "installed", "levels")


@matrix_app.command("install")
@handle_errors
def matrix_install(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True),
    activate: bool = typer.Option(True, "--activate/--no-activate", help="use it for new assessments"),
    as_json: bool = JsonOpt,
) -> None:
    """Install a risk matrix from YAML (see docs/risk.md for the format)."""
    from charter.client import ClientError

    body = {"source": file.read_text(encoding="utf-8"), "filename": str(file), "activate": activate}
    with client() as c:
        try:
            data = c.post("/api/v1/risk-matrices", body)
        except ClientError as exc:
            errors = exc.problem.get("errors") or []
            if exc.status != 422 or not errors or "line" not in errors[0]:
                raise
            for e in errors:
                field = f" {e['field']}:" if e.get("field") else ""
                typer.echo(f"error: {e['file']}:{e['line']}:{field} {e['msg']}", err=True)
            raise typer.Exit(2) from None
    if as_json:
        print_json(data)
    else:
        state = "active" if data["active"] else "installed, not active"
        typer.echo(f"risk matrix {data['name']}@{data['version']} ({data['title']}): {state}")


@matrix_app.command("list")
@handle_errors
def matrix_list(as_json: bool = JsonOpt) -> None:
    """List risk matrices."""
    with client() as c:
        rows = c.get("/api/v1/risk-matrices")
    if not as_json:
        for row in rows:
            row.pop("content", None)
    output(rows, MATRIX_COLUMNS, as_json)


@matrix_app.command("show")
@handle_errors
def matrix_show(name: str, version: int = typer.Option(None)) -> None:
    """Show a risk matrix (JSON)."""
    with client() as c:
        print_json(c.get(f"/api/v1/risk-matrices/{name}", version=version))


@matrix_app.command("activate")
@handle_errors
def matrix_activate(name: str, version: int) -> None:
    """Use NAME VERSION for new assessments."""
    with client() as c:
        data = c.post(f"/api/v1/risk-matrices/{name}/{version}/activate")
    typer.echo(f"new assessments use {data['name']}@{data['version']}")


@category_app.command("list")
@handle_errors
def category_list(as_json: bool = JsonOpt) -> None:
    """List risk categories."""
    with client() as c:
        output(c.get("/api/v1/risk-categories"), ("key", "label", "shipped", "examples"), as_json)


@category_app.command("add")
@handle_errors
def category_add(
    key: str,
    label: str = typer.Option(...),
    description: str = typer.Option(""),
    example: list[str] = typer.Option(None, "--example", help="an example (repeat)"),
) -> None:
    """Add a risk category."""
    with client() as c:
        data = c.post(
            "/api/v1/risk-categories",
            {"key": key, "label": label, "description": description, "examples": example or []},
        )
    typer.echo(f"category {data['key']} ({data['label']}) added")
