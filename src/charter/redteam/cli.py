"""`charter redteam ...`: probe suites, scanner-report imports, runs, findings and triage, through the API."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import typer

from charter.kit.cli import JsonOpt, client, fail, handle_errors, output, print_json

app = typer.Typer(
    help="Red teaming: probe suites, runs against a target, garak/PyRIT/CSV imports, findings and triage.",
    no_args_is_help=True,
)

FORMATS = ("garak", "pyrit", "csv")
RESULT_COLUMNS = ("probe", "detector", "passed", "fails", "nones", "total", "attack_success_rate", "asr_wilson95")
RUN_COLUMNS = ("id", "source", "release", "status", "attempts_total", "attempts_new", "hits", "file_name", "started_at")
FINDING_COLUMNS = (
    "id",
    "system",
    "probe",
    "owasp_2025",
    "severity",
    "status",
    "attack_success_rate",
    "risk",
    "version",
)


def _rate(value: Any) -> str:
    return "-" if value is None else f"{value:.1%}"


def _result_rows(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for r in results:
        ci = r.get("asr_wilson95")
        rows.append(
            {
                **r,
                "attack_success_rate": _rate(r.get("attack_success_rate")),
                "asr_wilson95": f"{ci[0]:.1%} to {ci[1]:.1%}" if ci else "-",
            }
        )
    return rows


@app.command("suites")
@handle_errors
def suites(as_json: bool = JsonOpt) -> None:
    """The shipped probe suites and their probes with OWASP 2025 and ATLAS classification."""
    data = client().get("/api/v1/redteam/suites")
    if as_json:
        print_json(data)
        return
    rows = [
        {"suite": s["key"], "probe": p["id"], "impact": p["impact"], "owasp_2025": ", ".join(p["owasp_2025"])}
        for s in data
        for p in s["probes"]
    ]
    output(rows, ("suite", "probe", "impact", "owasp_2025"), False, title="Probe suites")


@app.command("import")
@handle_errors
def import_report(
    system: str = typer.Argument(..., help="the AI system's key"),
    file: Path = typer.Argument(..., help="the report file"),
    fmt: str = typer.Option(..., "--format", "-f", help="garak | pyrit | csv"),
    release: int = typer.Option(None, "--release", help="the release version the report tested"),
    as_json: bool = JsonOpt,
) -> None:
    """Import a scanner report; prints, per probe and detector, passed, fails, nones, total, ASR and its CI."""
    if fmt not in FORMATS:
        raise fail(f"--format: unknown '{fmt}'; allowed: {', '.join(FORMATS)}", 2)
    if not file.is_file():
        raise fail(f"{file}: no such file", 2)
    with file.open("rb") as handle:
        data = client().request(
            "POST",
            f"/api/v1/systems/{system}/redteam/imports",
            params={k: v for k, v in {"format": fmt, "release": release}.items() if v is not None},
            files={"file": (file.name, handle, "application/octet-stream")},
        )
    if as_json:
        print_json(data)
        return
    output(_result_rows(data["results"]), RESULT_COLUMNS, False, title=f"{data['file']} ({data['format']})")
    if data["run"] is None:
        typer.echo(f"nothing new: all {data['attempts']} attempts were imported before")
    else:
        typer.echo(
            f"run {data['run']}: {data['new_attempts']} new attempts; findings opened {data['findings_opened']}, "
            f"updated {data['findings_updated']}, fixed {data['findings_fixed']}; risks opened {data['risks_opened']}"
        )
    for warning in data["warnings"]:
        typer.echo(f"warning: {warning}", err=True)


@app.command("run")
@handle_errors
def run(
    system: str = typer.Argument(..., help="the AI system's key"),
    base_url: str = typer.Option(..., "--target-url", help="OpenAI-compatible base URL, e.g. http://host:8000/v1"),
    model: str = typer.Option(..., "--model", help="the model name the target expects"),
    api_key: str = typer.Option(None, "--api-key", help="a reference, env:NAME or file:/path (never the key)"),
    suite: list[str] = typer.Option(None, "--suite", help="suite key (repeatable); default: every shipped suite"),
    probe: list[str] = typer.Option(None, "--probe", help="'<suite>.<probe>' (repeatable)"),
    repeats: int = typer.Option(1, "--repeats", "-n", help="attempts per prompt variant"),
    concurrency: int = typer.Option(8, "--concurrency"),
    rate: float = typer.Option(None, "--rate", help="at most this many attempts started per second"),
    release: int = typer.Option(None, "--release", help="the release version under test"),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="poll until the run ends and print its summary"),
    as_json: bool = JsonOpt,
) -> None:
    """Run probe suites against an OpenAI-compatible target (the server sends the attacks)."""
    target: dict[str, Any] = {"kind": "openai_chat", "base_url": base_url, "model": model}
    if api_key:
        target["api_key"] = api_key
    body = {
        "target": target,
        "suites": suite or None,
        "probes": probe or None,
        "repeats": repeats,
        "concurrency": concurrency,
        "rate_per_second": rate,
        "release": release,
    }
    c = client()
    data = c.post(f"/api/v1/systems/{system}/redteam/runs", body)
    while wait and data["status"] in ("queued", "running"):
        time.sleep(1.0)
        data = c.get(f"/api/v1/redteam/runs/{data['id']}")
    if wait:
        data = c.get(f"/api/v1/redteam/runs/{data['id']}")
    if as_json:
        print_json(data)
        return
    if data["status"] == "failed":
        raise fail(f"run {data['id']} failed: {data['error']}")
    if "results" in data:
        output(_result_rows(data["results"]), RESULT_COLUMNS, False, title=f"Run {data['id']} of {system}")
        typer.echo(
            f"run {data['id']} {data['status']}: {data['hits']} hits, {data['errors']} errors; "
            f"findings {data['findings']}"
        )
    else:
        typer.echo(f"run {data['id']} {data['status']}; follow it with `charter redteam show {data['id']}`")


@app.command("resume")
@handle_errors
def resume(run_id: int = typer.Argument(...), as_json: bool = JsonOpt) -> None:
    """Resume a run a restart interrupted (attempts already stored are not sent again)."""
    data = client().post(f"/api/v1/redteam/runs/{run_id}/resume")
    if as_json:
        print_json(data)
    else:
        typer.echo(f"run {data['id']} resumed")


@app.command("runs")
@handle_errors
def runs(system: str = typer.Argument(..., help="the AI system's key"), as_json: bool = JsonOpt) -> None:
    """A system's runs and imports, newest first."""
    data = client().paginate(f"/api/v1/systems/{system}/redteam/runs")
    output(data, RUN_COLUMNS, as_json, title=f"Red-team runs of {system}")


@app.command("show")
@handle_errors
def show(run: int = typer.Argument(..., help="the run id"), as_json: bool = JsonOpt) -> None:
    """One run: per probe x detector results and the findings it moved."""
    data = client().get(f"/api/v1/redteam/runs/{run}")
    if as_json:
        print_json(data)
        return
    output(_result_rows(data["results"]), RESULT_COLUMNS, False, title=f"Run {run} of {data['system']}")
    typer.echo(f"findings: {data['findings']}")


@app.command("findings")
@handle_errors
def findings(
    system: str = typer.Option(None, "--system", "-s"),
    status: str = typer.Option(None, "--status", help="open | triaged | accepted | fixed | false_positive"),
    severity: str = typer.Option(None, "--severity", help="low | medium | high | critical"),
    live: bool = typer.Option(None, "--live/--closed", help="open or triaged / the rest"),
    as_json: bool = JsonOpt,
) -> None:
    """The findings queue."""
    data = client().paginate("/api/v1/redteam/findings", system=system, status=status, severity=severity, live=live)
    rows = [{**f, "attack_success_rate": _rate(f["attack_success_rate"])} for f in data] if not as_json else data
    output(rows, FINDING_COLUMNS, as_json, title="Red-team findings")


@app.command("finding")
@handle_errors
def finding(finding_id: int = typer.Argument(...), as_json: bool = JsonOpt) -> None:
    """One finding with its hitting attempts."""
    data = client().get(f"/api/v1/redteam/findings/{finding_id}")
    if as_json:
        print_json(data)
        return
    typer.echo(
        f"finding {data['id']} [{data['status']}] {data['probe']} on {data['system']}: {data['severity']}, "
        f"ASR {_rate(data['attack_success_rate'])} ({data['hits']}/{data['evaluated']}), "
        f"OWASP {', '.join(data['owasp_2025']) or 'unclassified'}, risk {data['risk'] or '-'}"
    )
    for a in data["attempts"][:10]:
        typer.echo(f"- run {a['run']}: {a['prompt'][:100]!r} → {str(a['outputs'][:1])[:120]}")


@app.command("triage")
@handle_errors
def triage(
    finding_id: int = typer.Argument(...),
    to: str = typer.Option(..., "--to", help="triaged | accepted | false_positive | open"),
    reason: str = typer.Option(None, "--reason", "-r"),
    version: int = typer.Option(None, help="the version you read (default: the current one)"),
    as_json: bool = JsonOpt,
) -> None:
    """Move a finding; `fixed` is set only by a later run that no longer hits."""
    c = client()
    current = version if version is not None else int(c.get(f"/api/v1/redteam/findings/{finding_id}")["version"])
    data = c.post(f"/api/v1/redteam/findings/{finding_id}/triage", {"to": to, "version": current, "reason": reason})
    if as_json:
        print_json(data)
    else:
        typer.echo(f"finding {data['id']} is now {data['status']}")
