"""`charter policy ...`: gate policies. (`charter gate check` is the release gate's: charter.releases.cli.)"""

from __future__ import annotations

from typing import Any

import typer

from charter.kit.cli import JsonOpt, client, handle_errors, output, print_json

app = typer.Typer(help="Gate policies: CEL rules per release stage, versioned.", no_args_is_help=True)
COLUMNS = ("name", "version", "stage", "enabled", "source", "rules", "created_by", "created_at")


def _row(p: dict[str, Any]) -> dict[str, Any]:
    return {**p, "rules": len(p["rules"])}


def _load_file(path: str) -> dict[str, Any]:
    from pathlib import Path

    from charter.policy.content import parse_document

    return parse_document(Path(path).read_text(encoding="utf-8"), path).model_dump()


@app.command("list")
@handle_errors
def list_(stage: str = typer.Option(None, help="sandbox, pilot or production"), as_json: bool = JsonOpt) -> None:
    """List policies (latest version of each)."""
    with client() as c:
        rows = c.get("/api/v1/policies", stage=stage)
    output(rows if as_json else [_row(r) for r in rows], COLUMNS, as_json)


@app.command("show")
@handle_errors
def show(name: str, version: int = typer.Option(None), as_json: bool = JsonOpt) -> None:
    """Show a policy and its rules."""
    with client() as c:
        p = c.get(f"/api/v1/policies/{name}", version=version)
    if as_json:
        print_json(p)
        return
    state = "enabled" if p["enabled"] else "disabled"
    typer.echo(f"{p['name']} v{p['version']} — stage {p['stage']}, {state}, {p['source']}")
    if p["description"]:
        typer.echo(f"  {p['description'].strip()}")
    for r in p["rules"]:
        typer.echo(f"\n  [{r['id']}]{' (approval)' if r['kind'] == 'approval' else ''} {r['description']}")
        typer.echo(f"    {r['expression']}")


@app.command("versions")
@handle_errors
def versions(name: str, as_json: bool = JsonOpt) -> None:
    """Every version of a policy."""
    with client() as c:
        rows = c.get(f"/api/v1/policies/{name}/versions")
    output(rows if as_json else [_row(r) for r in rows], (*COLUMNS, "reason"), as_json)


@app.command("save")
@handle_errors
def save(
    file: str = typer.Argument(..., help="a policy YAML file (name, stage, description, rules)"),
    reason: str = typer.Option(None, help="why this version (kept in the ledger)"),
    disable: bool = typer.Option(False, "--disable", help="save it disabled"),
    as_json: bool = JsonOpt,
) -> None:
    """Save a new version of a policy from YAML; rules are type-checked (errors give line and column)."""
    doc = _load_file(file)
    name = doc.pop("name")
    if reason:
        doc["reason"] = reason
    if disable:
        doc["enabled"] = False
    with client() as c:
        p = c.request("PUT", f"/api/v1/policies/{name}", json=doc)
    output(p if as_json else _row(p), COLUMNS, as_json)


@app.command("validate")
@handle_errors
def validate(file: str = typer.Argument(..., help="a policy YAML file")) -> None:
    """Check a policy file against the server's facts schema without saving it."""
    doc = _load_file(file)
    with client() as c:
        result = c.post("/api/v1/policies/validate", {"rules": doc["rules"]})
    typer.echo(f"{file}: {result['rules']} rule(s) compile and type-check")


@app.command("install-defaults")
@handle_errors
def install_defaults(as_json: bool = JsonOpt) -> None:
    """Install (or update to) the shipped default policies."""
    with client() as c:
        rows = c.post("/api/v1/policies/install-defaults")
    output(rows, ("name", "version", "stage", "changed"), as_json)


@app.command("facts")
@handle_errors
def facts(as_json: bool = JsonOpt) -> None:
    """The facts gate rules can use, with their CEL types."""
    with client() as c:
        rows = c.get("/api/v1/gate-facts")
    if as_json:
        print_json(rows)
        return
    for row in rows:
        spec = row["schema"]
        if isinstance(spec, str):
            typer.echo(f"{row['name']}: {spec}    [{row['source']}]")
            continue
        typer.echo(f"{row['name']}:    [{row['source']}]")
        for field, sig in spec.items():
            typer.echo(f"  {row['name']}.{field}: {sig}")


@app.command("evaluation")
@handle_errors
def evaluation(evaluation_id: int, as_json: bool = JsonOpt) -> None:
    """Show a stored gate evaluation with the facts it saw."""
    with client() as c:
        data = c.get(f"/api/v1/gate-evaluations/{evaluation_id}")
    if as_json:
        print_json(data)
        return
    print_gate(data)
    typer.echo("\nfacts:")
    print_json(data["facts"])


def print_gate(data: dict[str, Any]) -> None:
    verdict = "PASSED" if data["passed"] else "FAILED"
    used = ", ".join(f"{p['name']} v{p['version']}" for p in data["policies"]) or "no policy"
    typer.echo(
        f"Gate to {data['stage']} for {data['system']} release {data['release_version']}: {verdict} "
        f"({used}; evaluation #{data['id']})"
    )
    for r in data["results"]:
        mark = "PASS" if r["passed"] else "FAIL"
        line = f"  {mark}  {r['rule']}"
        line += f" — {r['reason']}" if not r["passed"] else (f" — {r['description']}" if r["description"] else "")
        typer.echo(line)
