"""`charter system ...`: the AI system inventory, through the API."""

from __future__ import annotations

import typer

from charter.kit.cli import JsonOpt, client, handle_errors, output

app = typer.Typer(help="AI systems: register, list, change, move between stages.", no_args_is_help=True)
COLUMNS = ("key", "name", "stage", "risk_tier", "owner", "deployment_type", "tags", "version")


@app.command("register")
@handle_errors
def register(
    key: str = typer.Argument(..., help="slug, e.g. support-chatbot"),
    name: str = typer.Option(..., help="display name"),
    deployment_type: str = typer.Option(..., "--type", help="in_house_model, vendor_api, vendor_saas or embedded"),
    description: str = typer.Option(""),
    problem: str = typer.Option("", help="the problem the system solves (seed 003: define the problem)"),
    owner: str = typer.Option(None, help="owner username (default: you)"),
    business_unit: str = typer.Option(""),
    vendor: str = typer.Option(None, help="vendor name (required for vendor_api / vendor_saas)"),
    data: list[str] = typer.Option(None, "--data", help="data category processed (repeat), e.g. personal"),
    users_affected: int = typer.Option(None),
    tier: str = typer.Option("unclassified", help="EU AI Act tier: prohibited, high, limited, minimal"),
    tier_reason: str = typer.Option("", help="why this tier (required with --tier)"),
    tag: list[str] = typer.Option(None, "--tag", help="tag (repeat)"),
    as_json: bool = JsonOpt,
) -> None:
    """Register an AI system (stage: proposed)."""
    body = {
        "key": key,
        "name": name,
        "deployment_type": deployment_type,
        "description": description,
        "problem_statement": problem,
        "owner": owner,
        "business_unit": business_unit,
        "vendor_name": vendor,
        "data_categories": data or [],
        "users_affected": users_affected,
        "risk_tier": tier,
        "risk_tier_reason": tier_reason,
        "tags": tag or [],
    }
    with client() as c:
        output(c.post("/api/v1/systems", body), COLUMNS, as_json)


@app.command("list")
@handle_errors
def list_(
    stage: str = typer.Option(None),
    tier: str = typer.Option(None),
    owner: str = typer.Option(None),
    tag: str = typer.Option(None),
    q: str = typer.Option(None, help="search in name and key"),
    sort: str = typer.Option("key", help="key, name, stage, risk_tier, created_at, updated_at; '-' for desc"),
    as_json: bool = JsonOpt,
) -> None:
    """List AI systems."""
    with client() as c:
        rows = c.paginate(
            "/api/v1/systems", stage=stage, risk_tier=tier, owner=owner, tag=tag, q=q, sort=sort, limit=200
        )
    output(rows, COLUMNS, as_json)


@app.command("show")
@handle_errors
def show(key: str, as_json: bool = JsonOpt) -> None:
    """Show one AI system."""
    with client() as c:
        data = c.get(f"/api/v1/systems/{key}")
    if as_json:
        output(data, (), True)
        return
    for field, value in data.items():
        typer.echo(f"{field:>20}: {', '.join(map(str, value)) if isinstance(value, list) else value}")


@app.command("update")
@handle_errors
def update(
    key: str,
    name: str = typer.Option(None),
    description: str = typer.Option(None),
    problem: str = typer.Option(None),
    owner: str = typer.Option(None),
    business_unit: str = typer.Option(None),
    vendor: str = typer.Option(None),
    tier: str = typer.Option(None),
    tier_reason: str = typer.Option(None),
    tag: list[str] = typer.Option(None, "--tag", help="replace the tags (repeat)"),
    reason: str = typer.Option(None, help="why (kept in the ledger)"),
    version: int = typer.Option(None, help="the version you read (default: the current one)"),
    as_json: bool = JsonOpt,
) -> None:
    """Change an AI system's fields."""
    body: dict[str, object] = {
        k: v
        for k, v in {
            "name": name,
            "description": description,
            "problem_statement": problem,
            "owner": owner,
            "business_unit": business_unit,
            "vendor_name": vendor,
            "risk_tier": tier,
            "risk_tier_reason": tier_reason,
            "tags": tag or None,
            "reason": reason,
        }.items()
        if v is not None
    }
    with client() as c:
        body["version"] = version if version is not None else c.get(f"/api/v1/systems/{key}")["version"]
        output(c.patch(f"/api/v1/systems/{key}", body), COLUMNS, as_json)


@app.command("move")
@handle_errors
def move(
    key: str,
    to: str = typer.Argument(..., help="proposed, sandbox, pilot, production or retired"),
    reason: str = typer.Option(None, help="why (kept in the ledger)"),
    version: int = typer.Option(None, help="the version you read (default: the current one)"),
    as_json: bool = JsonOpt,
) -> None:
    """Move an AI system to another lifecycle stage."""
    with client() as c:
        v = version if version is not None else c.get(f"/api/v1/systems/{key}")["version"]
        data = c.post(f"/api/v1/systems/{key}/transitions", {"to": to, "version": v, "reason": reason})
    if as_json:
        output(data, (), True)
    else:
        typer.echo(f"{key} is now in stage '{data['stage']}' (version {data['version']})")
