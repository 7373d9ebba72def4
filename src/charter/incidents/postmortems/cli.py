"""`charter incident postmortem ...`: write, submit, approve, export; action items."""

from __future__ import annotations

from typing import Any

import typer

from charter.kit.cli import JsonOpt, client, handle_errors, output

app = typer.Typer(help="Postmortems and their action items.", no_args_is_help=True)
BASE = "/api/v1/incidents"
ACTION_COLUMNS = (
    "id",
    "incident",
    "title",
    "owner",
    "due_date",
    "status",
    "overdue",
    "link_type",
    "link_ref",
    "version",
)


@app.command("show")
@handle_errors
def show(key: str, as_json: bool = JsonOpt) -> None:
    """Show the postmortem (durations computed from the timeline)."""
    with client() as c:
        data = c.get(f"{BASE}/{key}/postmortem")
    if as_json:
        output(data, (), True)
        return
    typer.echo(f"{data['incident']} postmortem: {data['status']} (version {data['version']}, author {data['author']})")
    for name, secs in data["durations"].items():
        typer.echo(f"  {name}: {'-' if secs is None else f'{secs // 60} min'}")
    for f in ("summary", "impact_harm", "detection", "root_cause"):
        typer.echo(f"{f}: {data[f] or '-'}")
    for i, why in enumerate(data["five_whys"], 1):
        typer.echo(f"why {i}: {why}")
    output(data["action_items"], ACTION_COLUMNS, False, title="action items")


@app.command("edit")
@handle_errors
def edit(
    key: str,
    file: str = typer.Option(None, "--file", help="a YAML file with any postmortem fields"),
    summary: str = typer.Option(None),
    impact_users: int = typer.Option(None),
    impact_minutes: int = typer.Option(None),
    impact_harm: str = typer.Option(None),
    detection: str = typer.Option(None),
    root_cause: str = typer.Option(None),
    factor: list[str] = typer.Option(None, "--factor", help="contributing factor (repeat)"),
    why: list[str] = typer.Option(None, "--why", help="one of the five whys, in order (repeat)"),
    well: list[str] = typer.Option(None, "--well", help="what went well (repeat)"),
    badly: list[str] = typer.Option(None, "--badly", help="what went badly (repeat)"),
    as_json: bool = JsonOpt,
) -> None:
    """Write or change the postmortem (created on first use; only a draft can change)."""
    body: dict[str, Any] = {}
    if file:
        from pathlib import Path

        from charter.kit.content import parse_yaml, read_text

        loaded, _lines = parse_yaml(read_text(Path(file)), file)
        if not isinstance(loaded, dict):
            raise ValueError(f"{file}: expected a mapping of postmortem fields")
        body.update(loaded)
    given = {
        "summary": summary,
        "impact_users": impact_users,
        "impact_duration_minutes": impact_minutes,
        "impact_harm": impact_harm,
        "detection": detection,
        "root_cause": root_cause,
        "contributing_factors": factor or None,
        "five_whys": why or None,
        "went_well": well or None,
        "went_badly": badly or None,
    }
    body.update({k: v for k, v in given.items() if v is not None})
    with client() as c:
        from charter.client import ClientError

        try:
            body.setdefault("version", c.get(f"{BASE}/{key}/postmortem")["version"])
        except ClientError as exc:
            if exc.status != 404:
                raise
        data = c.request("PUT", f"{BASE}/{key}/postmortem", json=body)
    if as_json:
        output(data, (), True)
    else:
        typer.echo(f"postmortem of {key}: {data['status']} (version {data['version']})")


def _review(key: str, step: str, note: str | None, as_json: bool) -> None:
    with client() as c:
        version = c.get(f"{BASE}/{key}/postmortem")["version"]
        data = c.post(f"{BASE}/{key}/postmortem/{step}", {"version": version, "note": note})
    if as_json:
        output(data, (), True)
    else:
        typer.echo(f"postmortem of {key}: {data['status']}")


@app.command("submit")
@handle_errors
def submit(key: str, as_json: bool = JsonOpt) -> None:
    """Submit the postmortem for approval."""
    _review(key, "submit", None, as_json)


@app.command("approve")
@handle_errors
def approve(key: str, note: str = typer.Option(None), as_json: bool = JsonOpt) -> None:
    """Approve the postmortem (an approver or governance lead who did not write it)."""
    _review(key, "approve", note, as_json)


@app.command("send-back")
@handle_errors
def send_back(key: str, note: str = typer.Option(..., help="what must change"), as_json: bool = JsonOpt) -> None:
    """Send the postmortem back to draft."""
    _review(key, "send-back", note, as_json)


@app.command("export")
@handle_errors
def export(key: str, out: str = typer.Option(None, "-o", "--out", help="write to this file instead of stdout")) -> None:
    """Export the postmortem as Markdown."""
    with client() as c:
        text = c.get(f"{BASE}/{key}/postmortem.md")
    text = text.decode() if isinstance(text, bytes) else str(text)
    if out:
        from pathlib import Path

        Path(out).write_text(text, encoding="utf-8")
        typer.echo(f"written to {out}")
    else:
        typer.echo(text, nl=False)


@app.command("action-add")
@handle_errors
def action_add(
    key: str,
    title: str,
    owner: str = typer.Option(...),
    due: str = typer.Option(..., help="due date, YYYY-MM-DD"),
    description: str = typer.Option(""),
    link_type: str = typer.Option(None, help="risk, procedure or release: what this action changes"),
    link_ref: str = typer.Option(None, help="risk key, procedure template key or release id"),
    as_json: bool = JsonOpt,
) -> None:
    """Add an action item to the postmortem."""
    body = {
        "title": title,
        "owner": owner,
        "due_date": due,
        "description": description,
        "link_type": link_type,
        "link_ref": link_ref,
    }
    with client() as c:
        output(c.post(f"{BASE}/{key}/postmortem/actions", body), ACTION_COLUMNS, as_json)


@app.command("action-update")
@handle_errors
def action_update(
    key: str = typer.Argument(..., help="the incident key"),
    item_id: int = typer.Argument(...),
    status: str = typer.Option(None, help="open, in_progress, done or wont_do"),
    owner: str = typer.Option(None),
    due: str = typer.Option(None),
    version: int = typer.Option(None, help="the version you read (default: the current one)"),
    as_json: bool = JsonOpt,
) -> None:
    """Change an action item."""
    body: dict[str, Any] = {k: v for k, v in {"status": status, "owner": owner, "due_date": due}.items() if v}
    with client() as c:
        if version is None:
            items = c.get(f"{BASE}/{key}/postmortem")["action_items"]
            match = [i for i in items if i["id"] == item_id]
            if not match:
                raise ValueError(f"{key} has no action item {item_id}")
            version = match[0]["version"]
        body["version"] = version
        output(c.patch(f"{BASE}/actions/{item_id}", body), ACTION_COLUMNS, as_json)


@app.command("overdue")
@handle_errors
def overdue(system: str = typer.Option(None), as_json: bool = JsonOpt) -> None:
    """Open action items past their due date."""
    with client() as c:
        output(c.get(f"{BASE}/actions/overdue", system=system), ACTION_COLUMNS, as_json)
