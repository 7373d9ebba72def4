"""`charter risk ...`: the risk register, through the API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from charter.kit.cli import JsonOpt, client, fail, handle_errors, output, print_json
from charter.risk.matrices.cli import category_app, matrix_app

app = typer.Typer(
    help="Risk register: add, assess, treat, accept; heat map, report, CSV; risk matrices.", no_args_is_help=True
)
app.add_typer(matrix_app, name="matrix")
app.add_typer(category_app, name="category")

COLUMNS = ("key", "system", "title", "category", "status", "level", "score", "owner", "next_review_at", "version")
LEVEL_STYLE = {"LOW": "green", "MEDIUM": "yellow", "HIGH": "dark_orange", "CRITICAL": "bold red"}


def _matrix(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    name, _, version = text.partition("@")
    return {"name": name, "version": int(version) if version else None}


def _scores(
    likelihood: str | None, impact: str | None, r_likelihood: str | None, r_impact: str | None
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for field, value in (
        ("likelihood", likelihood),
        ("impact", impact),
        ("residual_likelihood", r_likelihood),
        ("residual_impact", r_impact),
    ):
        if value is not None:
            body[field] = int(value) if value.isdigit() else value
    return body


def _version(c: Any, key: str, version: int | None) -> int:
    return version if version is not None else int(c.get(f"/api/v1/risks/{key}")["version"])


def _echo(data: Any, as_json: bool, line: str) -> None:
    if as_json:
        print_json(data)
    else:
        typer.echo(line)


def _summary(data: dict[str, Any]) -> str:
    score = f"{data['level']} (Score: {data['score']})" if data.get("score") else data["level"]
    return f"{data['key']} [{data['status']}] {data['title']}: {score}"


LikelihoodOpt = typer.Option(None, "--likelihood", "-l", help="inherent likelihood: 1-5 or a label, e.g. LIKELY")
ImpactOpt = typer.Option(None, "--impact", "-i", help="inherent impact: 1-5 or a label, e.g. CATASTROPHIC")
RLikelihoodOpt = typer.Option(None, "--residual-likelihood", help="likelihood after mitigation")
RImpactOpt = typer.Option(None, "--residual-impact", help="impact after mitigation")
MatrixOpt = typer.Option(None, "--matrix", help="score with NAME[@VERSION] (default: the risk's, or the active one)")
VersionOpt = typer.Option(None, help="the version you read (default: the current one)")


@app.command("add")
@handle_errors
def add(
    system: str = typer.Option(..., "--system", "-s", help="the AI system's key"),
    title: str = typer.Option(..., "--title", "-t"),
    category: str = typer.Option(..., "--category", "-c", help="safety, fairness, privacy, security, ..."),
    description: str = typer.Option("", "--description", "-d"),
    owner: str = typer.Option(None, help="owner username (default: you)"),
    likelihood: str = LikelihoodOpt,
    impact: str = ImpactOpt,
    residual_likelihood: str = RLikelihoodOpt,
    residual_impact: str = RImpactOpt,
    matrix: str = MatrixOpt,
    rationale: str = typer.Option("", help="why these scores (kept with the assessment)"),
    as_json: bool = JsonOpt,
) -> None:
    """Identify a risk; with --likelihood and --impact it is assessed at once."""
    body: dict[str, Any] = {
        "system": system,
        "title": title,
        "category": category,
        "description": description,
        "owner": owner,
        "matrix": _matrix(matrix),
        "rationale": rationale,
        **_scores(likelihood, impact, residual_likelihood, residual_impact),
    }
    with client() as c:
        data = c.post("/api/v1/risks", body)
    _echo(data, as_json, _summary(data))


@app.command("list")
@handle_errors
def list_(
    system: str = typer.Option(None, "--system", "-s"),
    category: str = typer.Option(None),
    level: str = typer.Option(None, help="LOW, MEDIUM, HIGH, CRITICAL or UNASSESSED"),
    status: str = typer.Option(None),
    owner: str = typer.Option(None),
    overdue: bool = typer.Option(None, "--overdue/--not-overdue", help="only risks whose review is (not) overdue"),
    open_: bool = typer.Option(None, "--open/--not-open", help="only open (or not open) risks"),
    q: str = typer.Option(None, help="search title, description and key"),
    sort: str = typer.Option("key", help="key, score, next_review_at, created_at, updated_at, title; '-' for desc"),
    as_json: bool = JsonOpt,
) -> None:
    """List the register; overdue reviews are flagged with '!'."""
    with client() as c:
        rows = c.paginate(
            "/api/v1/risks",
            system=system,
            category=category,
            level=level.upper() if level else None,
            status=status,
            owner=owner,
            overdue=overdue,
            open=open_,
            q=q,
            sort=sort,
            limit=200,
        )
    if not as_json:
        for row in rows:
            if row["needs_review"]:
                row["next_review_at"] = f"! {row['next_review_at'][:10]}" + (
                    " (acceptance expired)" if row["acceptance_expired"] else ""
                )
            else:
                row["next_review_at"] = row["next_review_at"][:10]
    output(rows, COLUMNS, as_json)


@app.command("show")
@handle_errors
def show(key: str, as_json: bool = JsonOpt) -> None:
    """Show one risk with its mitigations and assessment history."""
    with client() as c:
        data = c.get(f"/api/v1/risks/{key}")
    if as_json:
        print_json(data)
        return
    mitigations = data.pop("mitigations")
    assessments = data.pop("assessments")
    for field, value in data.items():
        typer.echo(f"{field:>26}: {', '.join(map(str, value)) if isinstance(value, list) else value}")
    if mitigations:
        typer.echo("\nmitigations:")
        for m in mitigations:
            due = f" due {m['due_date']}" + (" (OVERDUE)" if m["overdue"] else "") if m["due_date"] else ""
            typer.echo(f"  M{m['number']} [{m['status']}] {m['description']} (owner {m['owner']}{due})")
    if assessments:
        typer.echo("\nassessments:")
        for a in assessments:
            typer.echo(
                f"  {a['assessed_at'][:16]} {a['kind']:<8} {a['likelihood']}x{a['impact']} = {a['score']} "
                f"{a['level']} ({a['matrix']}@{a['matrix_version']}, {a['assessed_by']})"
            )


@app.command("update")
@handle_errors
def update(
    key: str,
    title: str = typer.Option(None),
    description: str = typer.Option(None),
    category: str = typer.Option(None),
    owner: str = typer.Option(None),
    next_review: str = typer.Option(None, help="next review date, e.g. 2026-06-30"),
    reason: str = typer.Option(None, help="why (kept in the ledger)"),
    version: int = VersionOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Change a risk's title, description, category, owner or next review date."""
    changes = {"title": title, "description": description, "category": category, "owner": owner}
    body: dict[str, Any] = {k: v for k, v in changes.items() if v is not None}
    if next_review:
        body["next_review_at"] = next_review
    body["reason"] = reason
    with client() as c:
        body["version"] = _version(c, key, version)
        data = c.patch(f"/api/v1/risks/{key}", body)
    _echo(data, as_json, _summary(data))


@app.command("assess")
@handle_errors
def assess(
    key: str,
    likelihood: str = LikelihoodOpt,
    impact: str = ImpactOpt,
    residual_likelihood: str = RLikelihoodOpt,
    residual_impact: str = RImpactOpt,
    matrix: str = MatrixOpt,
    rationale: str = typer.Option("", help="why these scores"),
    version: int = VersionOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Score the inherent risk (--likelihood/--impact) and/or the residual risk."""
    body: dict[str, Any] = {
        "matrix": _matrix(matrix),
        "rationale": rationale,
        **_scores(likelihood, impact, residual_likelihood, residual_impact),
    }
    with client() as c:
        body["version"] = _version(c, key, version)
        data = c.post(f"/api/v1/risks/{key}/assess", body)
    if as_json:
        print_json(data)
        return
    typer.echo(_summary(data))
    typer.echo(f"  inherent: {data['inherent_level']} (Score: {data['inherent_score']})")
    if data["residual_level"]:
        typer.echo(f"  residual: {data['residual_level']} (Score: {data['residual_score']})")


@app.command("move")
@handle_errors
def move(
    key: str,
    to: str = typer.Argument(..., help="assessed, treating, mitigated, closed, identified (reopen: assessed)"),
    reason: str = typer.Option(None, help="why; required to reopen"),
    version: int = VersionOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Move a risk to another status."""
    with client() as c:
        v = _version(c, key, version)
        data = c.post(f"/api/v1/risks/{key}/transitions", {"to": to, "version": v, "reason": reason})
    _echo(data, as_json, f"{key} is now '{data['status']}' (version {data['version']})")


@app.command("mitigate")
@handle_errors
def mitigate(
    key: str,
    description: str = typer.Argument(None, help="what will be done (to add a mitigation)"),
    number: int = typer.Option(None, "--number", "-n", help="change mitigation N instead of adding one"),
    owner: str = typer.Option(None, help="username (default: the risk owner)"),
    due: str = typer.Option(None, help="due date, e.g. 2026-03-31"),
    status: str = typer.Option(None, help="planned, in_progress, done or cancelled"),
    reason: str = typer.Option(None),
    version: int = typer.Option(None, help="the mitigation version you read (default: current)"),
    as_json: bool = JsonOpt,
) -> None:
    """Add a mitigation, or change one with --number."""
    with client() as c:
        if number is None:
            if not description:
                raise fail("give a DESCRIPTION to add a mitigation, or --number N to change one", 2)
            body = {"description": description, "owner": owner, "due_date": due, "status": status or "planned"}
            data = c.post(f"/api/v1/risks/{key}/mitigations", body)
        else:
            if version is None:
                current = c.get(f"/api/v1/risks/{key}")["mitigations"]
                match = [m for m in current if m["number"] == number]
                version = match[0]["version"] if match else 1
            changes = {"description": description, "owner": owner, "due_date": due, "status": status}
            patch: dict[str, Any] = {k: v for k, v in changes.items() if v is not None}
            data = c.patch(f"/api/v1/risks/{key}/mitigations/{number}", {**patch, "version": version, "reason": reason})
    if as_json:
        print_json(data)
    else:
        typer.echo(f"{key}/M{data['number']} [{data['status']}] {data['description']}")


@app.command("accept")
@handle_errors
def accept(
    key: str,
    justification: str = typer.Option(..., help="why the residual risk is acceptable"),
    until: str = typer.Option(..., help="when the acceptance lapses, e.g. 2026-12-31"),
    version: int = VersionOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Accept a residual risk (governance; never the risk's owner)."""
    with client() as c:
        v = _version(c, key, version)
        data = c.post(
            f"/api/v1/risks/{key}/accept", {"version": v, "justification": justification, "expires_at": until}
        )
    if as_json:
        print_json(data)
    else:
        typer.echo(f"{key} accepted by {data['accepted_by']} until {data['accepted_until'][:10]}")


@app.command("heatmap")
@handle_errors
def heatmap(
    system: str = typer.Option(None, "--system", "-s"),
    include_closed: bool = typer.Option(False, "--include-closed"),
    as_json: bool = JsonOpt,
) -> None:
    """Counts per likelihood x impact cell: inherent/residual."""
    with client() as c:
        data = c.get("/api/v1/risks/heatmap", system=system, include_closed=include_closed or None)
    if as_json:
        print_json(data)
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    for grid in data["grids"]:
        table = Table(title=f"{grid['title']} ({grid['matrix']}@{grid['matrix_version']}) — inherent/residual")
        table.add_column("likelihood \\ impact")
        for p in grid["impact"]:
            table.add_column(p["label"], justify="center")
        width = len(grid["impact"])
        for r, point in enumerate(reversed(grid["likelihood"])):
            cells = grid["cells"][r * width : (r + 1) * width]
            table.add_row(
                point["label"],
                *[f"[{LEVEL_STYLE.get(x['level'], '')}]{x['inherent']}/{x['residual']}[/]" for x in cells],
            )
        console.print(table)
        typer.echo(f"total: {grid['inherent_total']} inherent, {grid['residual_total']} residual")
    if data["unassessed"]:
        typer.echo(f"not yet assessed: {data['unassessed']}")


@app.command("report")
@handle_errors
def report(
    system: str = typer.Option(None, "--system", "-s"),
    include_closed: bool = typer.Option(False, "--include-closed"),
) -> None:
    """The seed 002 risk assessment report, highest score first."""
    with client() as c:
        text = c.get("/api/v1/risks/report", system=system, include_closed=include_closed or None)
    typer.echo(text.decode() if isinstance(text, bytes) else text, nl=False)


@app.command("facts")
@handle_errors
def facts(system: str = typer.Option(..., "--system", "-s")) -> None:
    """The risk facts deployment gates evaluate for a system (JSON)."""
    with client() as c:
        print_json(c.get("/api/v1/risks/facts", system=system))


@app.command("export")
@handle_errors
def export(
    system: str = typer.Option(None, "--system", "-s"),
    status: str = typer.Option(None),
    output_file: Path = typer.Option(None, "--output", "-o", help="write here instead of stdout"),
) -> None:
    """Export the register as CSV."""
    with client() as c:
        data = c.get("/api/v1/risks/export.csv", system=system, status=status)
    text = data.decode() if isinstance(data, bytes) else str(data)
    if output_file:
        output_file.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {text.count(chr(10)) - 1} risk(s) to {output_file}")
    else:
        typer.echo(text, nl=False)


@app.command("import")
@handle_errors
def import_(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True),
    dry_run: bool = typer.Option(False, "--dry-run", help="validate only"),
) -> None:
    """Import risks from CSV: every row is checked; any problem imports nothing."""
    from charter.client import ClientError

    with client() as c:
        try:
            data = c.request(
                "POST",
                "/api/v1/risks/import",
                content=file.read_bytes(),
                headers={"Content-Type": "text/csv"},
                params={"dry_run": "true"} if dry_run else None,
            )
        except ClientError as exc:
            errors = exc.problem.get("errors") or []
            if exc.status != 422 or not errors:
                raise
            typer.echo(f"error: {exc.detail}", err=True)
            for e in errors:
                typer.echo(f"  {file}: row {e['row']}, column {e['column']}: {e['msg']}", err=True)
            raise typer.Exit(2) from None
    if dry_run:
        typer.echo(f"{file}: {data['rows']} row(s) valid; nothing imported (dry run)")
    else:
        typer.echo(f"imported {len(data['created'])} risk(s): {', '.join(data['created'])}")


@app.command("sweep")
@handle_errors
def sweep() -> None:
    """Send risks whose acceptance has lapsed back to 'assessed' (for a scheduler)."""
    with client() as c:
        data = c.post("/api/v1/risks/expire-acceptances")
    typer.echo(f"acceptance expired: {', '.join(data['expired']) or 'none'}")
