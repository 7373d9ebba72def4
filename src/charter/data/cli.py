"""`charter data ...`: the dataset register, lineage, retention and deletions, through the API.
`charter pii ...` (pii_app): scan files locally; audit, guard and restore through the API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from charter.data.cli_pii import pii_app
from charter.kit.cli import JsonOpt, client, fail, handle_errors, output, print_json

__all__ = ["app", "pii_app"]

app = typer.Typer(help="Data governance: dataset register, lineage, retention, deletions.", no_args_is_help=True)
COLUMNS = ("id", "namespace", "name", "classification", "legal_basis", "status", "retain_until", "owner", "systems")


def _find(c: Any, name: str, namespace: str) -> dict[str, Any]:
    page = c.get("/api/v1/datasets", namespace=namespace, name=name, limit=1)
    if not page["items"]:
        raise fail(f"no registered dataset {name!r} in namespace {namespace!r} (charter data list shows the register)")
    item: dict[str, Any] = page["items"][0]
    return item


@app.command("register")
@handle_errors
def register(
    name: str = typer.Argument(..., help="OpenLineage dataset name, e.g. raw/tickets"),
    namespace: str = typer.Option(..., help="OpenLineage namespace (the data source), e.g. s3://support-data"),
    legal_basis: str = typer.Option(
        ...,
        help="consent, contract, legal_obligation, vital_interests, public_task, legitimate_interests or not_personal",
    ),
    classification: str = typer.Option(..., help="public, internal, confidential or restricted"),
    purpose: str = typer.Option("", help="why the data is kept"),
    owner: str = typer.Option(None, help="owner username (default: you)"),
    pii: list[str] = typer.Option(None, "--pii", help="PII category held (repeat), e.g. EMAIL_ADDRESS"),
    location: str = typer.Option("", help="where the data lives (URI)"),
    retention_days: int = typer.Option(None, help="retention period in days (default: until deleted)"),
    system: list[str] = typer.Option(None, "--system", help="key of an AI system using it (repeat)"),
    as_json: bool = JsonOpt,
) -> None:
    """Register a dataset."""
    body = {
        "namespace": namespace,
        "name": name,
        "owner": owner,
        "purpose": purpose,
        "legal_basis": legal_basis,
        "classification": classification,
        "pii_categories": pii or [],
        "location": location,
        "retention_days": retention_days,
        "systems": system or [],
    }
    with client() as c:
        data = c.post("/api/v1/datasets", body)
    if as_json:
        print_json(data)
    else:
        typer.echo(f"registered dataset {data['namespace']}/{data['name']} (id {data['id']})")


@app.command("list")
@handle_errors
def list_(
    namespace: str = typer.Option(None),
    classification: str = typer.Option(None),
    status: str = typer.Option(None, help="active, expired or deleted"),
    system: str = typer.Option(None, help="only datasets this AI system uses"),
    as_json: bool = JsonOpt,
) -> None:
    """List the dataset register."""
    with client() as c:
        rows = c.paginate(
            "/api/v1/datasets", namespace=namespace, classification=classification, status=status, system=system,
            limit=200,
        )  # fmt: skip
    output(rows, COLUMNS, as_json)


@app.command("show")
@handle_errors
def show(name: str, namespace: str = typer.Option(...), as_json: bool = JsonOpt) -> None:
    """Show one dataset's register entry and its deletion records."""
    with client() as c:
        data = _find(c, name, namespace)
        data["deletions"] = c.get(f"/api/v1/datasets/{data['id']}/deletions")
    if as_json:
        print_json(data)
        return
    for field, value in data.items():
        typer.echo(f"{field:>18}: {', '.join(map(str, value)) if isinstance(value, list) else value}")


@app.command("lineage")
@handle_errors
def lineage(
    name: str,
    namespace: str = typer.Option(..., help="the dataset's OpenLineage namespace"),
    upstream: bool = typer.Option(False, "--upstream", help="what the dataset is derived from"),
    downstream: bool = typer.Option(False, "--downstream", help="what is derived from the dataset"),
    depth: int = typer.Option(None, help="job hops to follow (default: all)"),
    as_json: bool = JsonOpt,
) -> None:
    """Datasets and jobs upstream or downstream of a dataset, transitively (nearest first)."""
    if upstream == downstream:
        raise fail("give exactly one of --upstream or --downstream", 2)
    direction = "upstream" if upstream else "downstream"
    with client() as c:
        data = c.get("/api/v1/lineage", namespace=namespace, name=name, direction=direction, depth=depth)
    if as_json:
        print_json(data)
        return
    typer.echo(f"{direction} of {namespace}/{name}:")
    for kind in ("datasets", "jobs"):
        typer.echo(f"  {kind}:" + ("" if data[kind] else " (none)"))
        for ref in data[kind]:
            typer.echo(f"    {ref['namespace']}/{ref['name']}")


@app.command("systems")
@handle_errors
def systems(
    name: str,
    namespace: str = typer.Option(...),
    stage: str = typer.Option(None, help="only releases deployed at this stage, e.g. production"),
    as_json: bool = JsonOpt,
) -> None:
    """Which AI systems used this dataset, directly or through data derived from it."""
    with client() as c:
        data = c.get("/api/v1/lineage/systems", namespace=namespace, name=name, stage=stage)
    if as_json:
        print_json(data)
        return
    if not data:
        typer.echo("no system used it")
    for row in data:
        via = ", ".join(f"{d['namespace']}/{d['name']}" for d in row["datasets"])
        typer.echo(f"{row['system']}  (via {via})")


@app.command("emit")
@handle_errors
def emit(file: Path = typer.Argument(..., exists=True, dir_okay=False, help="a JSON event, or a JSON array")) -> None:
    """Send OpenLineage events from a file (one event, or an array sent as one all-or-nothing batch)."""
    import json

    try:
        body = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise fail(f"{file}: not a JSON file ({exc})") from exc
    with client() as c:
        if isinstance(body, list):
            data = c.post("/api/v1/lineage/batch", body)
            typer.echo(f"accepted {data['accepted']} event(s), {data['duplicates']} already known")
        else:
            c.post("/api/v1/lineage", body)
            typer.echo("accepted 1 event")


@app.command("sweep")
@handle_errors
def sweep(as_json: bool = JsonOpt) -> None:
    """Flag every dataset past its retention period as expired (the server's sweeper does this too)."""
    with client() as c:
        data = c.post("/api/v1/retention/sweep")
    if as_json:
        print_json(data)
        return
    typer.echo("expired: " + (", ".join(data["expired"]) or "none"))


@app.command("delete")
@handle_errors
def delete(
    name: str,
    namespace: str = typer.Option(...),
    method: str = typer.Option(
        ..., help="crypto_erase, overwrite, storage_delete, physical_destruction or vendor_certificate"
    ),
    description: str = typer.Option("", help="how: what was deleted, where"),
    certificate: Path = typer.Option(None, exists=True, dir_okay=False, help="the deletion certificate (a file)"),
    deleted_at: str = typer.Option(None, help="when the data was deleted (ISO 8601; default: now)"),
    as_json: bool = JsonOpt,
) -> None:
    """Record that a dataset was deleted: who (you), when, how, with the certificate stored as evidence."""
    with client() as c:
        dataset = _find(c, name, namespace)
        evidence_id = None
        if certificate is not None:
            with certificate.open("rb") as fh:
                evidence = c.request(
                    "POST", "/api/v1/evidence",
                    files={"file": (certificate.name, fh)},
                    data={"title": f"deletion certificate: {namespace}/{name}"},
                )  # fmt: skip
            evidence_id = evidence["id"]
        body = {
            "method": method,
            "description": description,
            "deleted_at": deleted_at,
            "evidence_id": evidence_id,
            "version": dataset["version"],
        }
        data = c.post(f"/api/v1/datasets/{dataset['id']}/deletions", body)
    if as_json:
        print_json(data)
    else:
        typer.echo(f"recorded the deletion of {namespace}/{name} by {data['deleted_by']} ({data['method']})")
