"""`charter compliance ...`: frameworks, requirements, mappings, coverage and gaps (over the HTTP API)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from charter.kit.cli import JsonOpt, client, fail, handle_errors, output, print_json

app = typer.Typer(help="Compliance frameworks, control mappings, coverage, evidence packs, exports.",
                  no_args_is_help=True)  # fmt: skip
BASE = "/api/v1/compliance"
FrameworkOpt = typer.Option(..., "--framework", "-f", help="framework id (charter compliance frameworks)")


@app.command("frameworks")
@handle_errors
def frameworks(as_json: bool = JsonOpt) -> None:
    """List the catalogs: id, title, version and the number of assessable requirements."""
    with client() as c:
        rows = c.get(f"{BASE}/frameworks")
    if as_json:
        print_json([{k: r[k] for k in ("id", "title", "version", "requirements")} for r in rows])
    else:
        output(rows, ("id", "title", "version", "requirements", "custom"), False)


@app.command("show")
@handle_errors
def show(
    framework: str = typer.Argument(..., help="framework id"),
    requirement: str = typer.Argument(None, help="a requirement id, e.g. 'Art. 9' (omit for the whole catalog)"),
    as_json: bool = JsonOpt,
) -> None:
    """Show a catalog, or one requirement with its controls and crosswalk."""
    with client() as c:
        if requirement is None:
            data = c.get(f"{BASE}/frameworks/{framework}")
        else:
            data = c.get(f"{BASE}/requirement", ref=f"{framework}:{requirement}")
    if as_json:
        print_json(data)
    elif requirement is None:
        typer.echo(f"{data['title']} {data['version']} — {data['licence']}; {data['attribution']}")
        output(data["entries"], ("id", "kind", "assessable", "title"), False)
    else:
        typer.echo(f"{data['ref']}: {data['title']}")
        output(data["mappings"], ("control", "relation", "reason"), False, title="controls")
        if data["crosswalk"]:
            output(data["crosswalk"], ("other", "relation", "reason"), False, title="crosswalk")


@app.command("map")
@handle_errors
def map_control(
    control: str = typer.Argument(..., help="control reference, e.g. sop:ethical-review/bias-tested"),
    requirement: str = typer.Argument(..., help="<framework>:<requirement>, e.g. 'eu-ai-act:Art. 10'"),
    relation: str = typer.Option("satisfies", help="satisfies, partially, or removed"),
    reason: str = typer.Option(..., help="why the control supports the requirement"),
    version: int = typer.Option(None, help="the mapping edit's version, when changing one"),
    as_json: bool = JsonOpt,
) -> None:
    """Map a control to a requirement (or remove a link with --relation removed)."""
    body = {"control": control, "requirement": requirement, "relation": relation, "reason": reason,
            "version": version}  # fmt: skip
    with client() as c:
        data = c.request("PUT", f"{BASE}/mappings", json=body)
    if as_json:
        print_json(data)
    else:
        typer.echo(f"{data['control']} → {data['requirement']}: {data['relation']}")


def _coverage_table(data: dict[str, Any]) -> None:
    counts = data["counts"]
    typer.echo(
        f"{data['system']} / {data['framework']} ({data['risk_tier']} tier, {data['role']}): "
        + ", ".join(f"{counts[s]} {s.replace('_', ' ')}" for s in ("met", "partial", "missing", "not_applicable"))
    )
    output(data["requirements"], ("id", "status", "why"), False)


@app.command("coverage")
@handle_errors
def coverage(
    system: str = typer.Argument(..., help="system key"),
    framework: str = FrameworkOpt,
    record: bool = typer.Option(False, "--record", help="also keep the counts (coverage over time)"),
    as_json: bool = JsonOpt,
) -> None:
    """Each requirement met / partial / missing / not applicable, with the controls and evidence behind it."""
    with client() as c:
        if record:
            c.post(f"{BASE}/systems/{system}/history", params={"framework": framework})
        data = c.get(f"{BASE}/systems/{system}/coverage", framework=framework)
    if as_json:
        print_json(data)
    else:
        _coverage_table(data)


@app.command("gaps")
@handle_errors
def gaps(system: str = typer.Argument(...), framework: str = FrameworkOpt, as_json: bool = JsonOpt) -> None:
    """The requirements partly met or missing, and why."""
    with client() as c:
        data = c.get(f"{BASE}/systems/{system}/gaps", framework=framework)
    if as_json:
        print_json(data)
    else:
        _coverage_table(data)


@app.command("applicability")
@handle_errors
def applicability(
    system: str = typer.Argument(...),
    framework: str = FrameworkOpt,
    requirement: str = typer.Option(None, "--requirement", "-r", help="one requirement id (default: the framework)"),
    applicable: bool = typer.Option(..., "--applicable/--not-applicable"),
    reason: str = typer.Option(..., help="why it does or does not apply"),
    version: int = typer.Option(None),
) -> None:
    """Say whether a framework or one requirement applies to a system (not applicable needs a reason)."""
    body = {"framework": framework, "requirement": requirement, "applicable": applicable, "reason": reason,
            "version": version}  # fmt: skip
    with client() as c:
        data = c.request("PUT", f"{BASE}/systems/{system}/applicability", json=body)
    state = "applies" if data["applicable"] else "does not apply"
    typer.echo(f"{data['framework']}:{data['requirement'] or '*'} {state} to {system} (version {data['version']})")


@app.command("install")
@handle_errors
def install(
    file: Path = typer.Argument(..., help="a framework file in the catalog format (docs/compliance.md)"),
    version: int = typer.Option(None, help="the installed catalog's version, to replace it"),
) -> None:
    """Install an organisation's own catalog; problems are listed with their line numbers."""
    if not file.is_file():
        raise fail(f"no file at {file}")
    body = {"filename": file.name, "content": file.read_text(encoding="utf-8"), "version": version}
    with client() as c:
        data = c.post(f"{BASE}/frameworks", body)
    typer.echo(f"installed {data['id']} {data['version']}: {data['requirements']} assessable requirements")


@app.command("pack")
@handle_errors
def pack(
    system: str = typer.Argument(...),
    framework: str = FrameworkOpt,
    out: Path = typer.Option(..., "-o", "--output", help="where to write the zip"),
) -> None:
    """Write an evidence pack (verify it offline with 'charter audit verify-pack')."""
    with client() as c:
        data = c.get(f"{BASE}/systems/{system}/pack", framework=framework)
    out.write_bytes(data)
    typer.echo(f"wrote {out} ({len(data)} bytes)")


@app.command("export")
@handle_errors
def export(
    system: str = typer.Argument(...),
    format: str = typer.Option(..., "--format", help="cyclonedx, oscal, model-card or annex-iv"),
    out: Path = typer.Option(..., "-o", "--output", help="where to write it"),
    framework: str = typer.Option(None, "--framework", "-f", help="for oscal: the framework assessed"),
    html: bool = typer.Option(False, "--html", help="model-card: HTML instead of Markdown"),
) -> None:
    """Export the system's ML-BOM, OSCAL assessment results, model card or Annex IV outline."""
    import json

    kind = "model-card-html" if format == "model-card" and html else format
    with client() as c:
        data = c.get(f"{BASE}/systems/{system}/export", format=kind, framework=framework)
    if isinstance(data, dict | list):
        out.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    else:
        out.write_bytes(data)
    typer.echo(f"wrote {out}")


@app.command("attach")
@handle_errors
def attach(
    system: str = typer.Argument(...),
    control: str = typer.Argument(..., help="an organisation's own control, custom:<name>"),
    evidence_id: int = typer.Argument(..., help="existing evidence (charter evidence add)"),
) -> None:
    """Attach evidence by hand to an organisation's own control for a system."""
    with client() as c:
        data = c.post(f"{BASE}/systems/{system}/controls/evidence", {"control": control, "evidence_id": evidence_id})
    typer.echo(f"evidence {data['evidence_id']} attached to {data['control']} for {system}")
