"""`charter audit ...`: read, verify, checkpoint and export the ledger."""

from __future__ import annotations

import typer

from charter.cli.common import JsonOpt, client, handle_errors, output

app = typer.Typer(help="The tamper-evident audit ledger.", no_args_is_help=True)
COLUMNS = ("seq", "ts", "actor", "action", "entity_type", "entity_id", "reason")


@app.command("log")
@handle_errors
def log(
    entity_type: str = typer.Option(None, "--type", help="entity type, e.g. system"),
    entity_id: str = typer.Option(None, "--id", help="entity id or key"),
    actor: str = typer.Option(None),
    action: str = typer.Option(None, help="action prefix"),
    since: str = typer.Option(None, help="ISO time"),
    limit: int = typer.Option(50),
    as_json: bool = JsonOpt,
) -> None:
    """List ledger entries, newest first."""
    with client() as c:
        page = c.get(
            "/api/v1/audit/entries",
            entity_type=entity_type,
            entity_id=entity_id,
            actor=actor,
            action=action,
            since=since,
            limit=limit,
        )
    output(page["items"], COLUMNS, as_json)
