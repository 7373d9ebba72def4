"""`charter sop ...` (templates) and `charter review ...` (runs; also reachable as `charter sop run ...`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from charter.kit.cli import JsonOpt, client, fail, handle_errors, output, print_json

app = typer.Typer(help="Procedure templates (SOPs): validate, install, list, show.", no_args_is_help=True)
review_app = typer.Typer(
    help="Procedure runs (reviews, checklists, runbooks): start, answer, exceptions, submit, sign off.",
    no_args_is_help=True,
)
app.add_typer(review_app, name="run")

SOP_COLUMNS = ("key", "version", "title", "kind", "applies_to", "severities", "item_count", "origin", "versions")
RUN_COLUMNS = ("id", "template_key", "template_version", "subject_type", "subject_id", "status", "completion_pct")


@app.command("validate")
@handle_errors
def validate(files: list[Path] = typer.Argument(..., help="template YAML file(s)")) -> None:
    """Check template files locally (no server needed); errors name file, line and field."""
    from charter.procedures.loader import TemplateInvalid, parse_file

    bad = 0
    for path in files:
        try:
            spec = parse_file(path)
        except TemplateInvalid as exc:
            bad += 1
            for problem in exc.problems:
                field = f"{problem.field}: " if problem.field else ""
                typer.echo(f"error: {_where(path, problem.line)}: {field}{problem.message}", err=True)
            continue
        typer.echo(
            f"ok: {path}: {spec.key} version {spec.version}, {len(spec.sections)} sections, {len(spec.items())} items"
        )
    if bad:
        raise typer.Exit(2)


def _where(path: Path, line: int | None) -> str:
    return f"{path}:{line}" if line else str(path)


@app.command("install")
@handle_errors
def install(file: Path, as_json: bool = JsonOpt) -> None:
    """Install a template version on the server (needs sops:manage)."""
    text = file.read_text(encoding="utf-8")
    with client() as c:
        data = c.post("/api/v1/sops", {"content": text, "filename": file.name})
    if as_json:
        print_json(data)
    else:
        typer.echo(f"installed {data['key']} version {data['version']} ({data['item_count']} items)")


@app.command("list")
@handle_errors
def list_(
    kind: str = typer.Option(None, help="review, checklist, sop or runbook"),
    applies_to: str = typer.Option(None, help="system, release or incident"),
    severity: str = typer.Option(None, help="runbooks for this incident severity"),
    as_json: bool = JsonOpt,
) -> None:
    """List templates (latest version of each)."""
    with client() as c:
        rows = c.get("/api/v1/sops", kind=kind, applies_to=applies_to, severity=severity)
    output(rows, SOP_COLUMNS, as_json)


@app.command("show")
@handle_errors
def show(key: str, version: int = typer.Option(None), as_json: bool = JsonOpt) -> None:
    """Show a template's sections and items."""
    with client() as c:
        data = c.get(f"/api/v1/sops/{key}", version=version)
    if as_json:
        print_json(data)
        return
    typer.echo(
        f"{data['title']} — {data['key']} v{data['version']} ({data['kind']}, for {', '.join(data['applies_to'])})"
    )
    typer.echo(f"sign-off: {', '.join(data['signoff_roles'])}; versions installed: {data['versions']}")
    for section in data["sections"]:
        typer.echo(f"\n{section['title']}  [{section['id']}]")
        for item in section["items"]:
            flags = ("required" if item["required"] else "optional") + (
                ", evidence" if item["evidence_required"] else ""
            )
            refs = f"  ({'; '.join(item['refs'])})" if item["refs"] else ""
            typer.echo(f"  - {item['id']}: {item['question']} [{flags}]{refs}")


# --- runs ------------------------------------------------------------------------------------------


@review_app.command("start")
@handle_errors
def start(
    template: str = typer.Argument(..., help="template key, e.g. ethical-review"),
    system: str = typer.Option(None, help="the AI system's key"),
    release: int = typer.Option(None, help="a release id"),
    incident: str = typer.Option(None, help="an incident key (INC-...) or id"),
    version: int = typer.Option(None, help="template version (default: latest)"),
    title: str = typer.Option(None),
    assignee: str = typer.Option(None, help="assign every item to this user (runbooks)"),
    as_json: bool = JsonOpt,
) -> None:
    """Start a run of a template for a system, a release or an incident."""
    given = [x for x in (system, release, incident) if x is not None]
    if len(given) != 1:
        raise fail("give exactly one of --system, --release, --incident", 2)
    body: dict[str, Any] = {"template": template, "version": version, "title": title, "assignee": assignee}
    if system is not None:
        body |= {"subject_type": "system", "subject_key": system}
    elif release is not None:
        body |= {"subject_type": "release", "subject_id": release}
    else:
        key = str(incident)
        body |= {"subject_type": "incident"} | ({"subject_id": int(key)} if key.isdigit() else {"subject_key": key})
    with client() as c:
        data = c.post("/api/v1/runs", body)
    _print_run(data, as_json)


@review_app.command("list")
@handle_errors
def list_runs(
    system: str = typer.Option(None, help="runs of this system (key)"),
    template: str = typer.Option(None),
    status: str = typer.Option(None),
    as_json: bool = JsonOpt,
) -> None:
    """List runs, newest first."""
    params: dict[str, Any] = {"template": template, "status": status, "limit": 200}
    if system:
        params |= {"subject_type": "system", "subject_key": system}
    with client() as c:
        rows = c.paginate("/api/v1/runs", **params)
    output(rows, RUN_COLUMNS, as_json)


@review_app.command("show")
@handle_errors
def show_run(run_id: int, as_json: bool = JsonOpt) -> None:
    """Show a run: items by section, completion, and whether it is approved (with the issues if not)."""
    with client() as c:
        data = c.get(f"/api/v1/runs/{run_id}")
    _print_run(data, as_json, detail=True)


def _print_run(data: dict[str, Any], as_json: bool, detail: bool = False) -> None:
    if as_json:
        print_json(data)
        return
    typer.echo(f"run {data['id']}: {data['title']}")
    typer.echo(
        f"  template {data['template_key']} v{data['template_version']} · subject {data['subject_type']} "
        f"{data['subject']} · status {data['status']} (version {data['version']})"
    )
    typer.echo(
        f"  completion {data['completion_pct']}%: "
        + ", ".join(f"{s['id']} {s['completion_pct']}%" for s in data["sections"])
    )
    if detail:
        for section in data["sections"]:
            typer.echo(f"\n  {section['title']}")
            for item in section["items"]:
                mark = item["effective_status"] + (" (exception)" if item["exception"] else "")
                extra = f" — {'; '.join(item['reasons'])}" if item["reasons"] and item["status"] != "open" else ""
                typer.echo(f"    [{mark:>14}] {item['item_id']}: {item['question']}{extra}")
    typer.echo("")
    if data["approved"]:
        typer.echo("✅ approved" + (f" by {data['decided_by']}" if data["decided_by"] else ""))
        return
    typer.echo("NOT approved" + (f" (status {data['status']})" if data["status"] != "in_progress" else ""))
    answered = [i for i in data["open_items"] if i["answered"]]
    unanswered = [i for i in data["open_items"] if not i["answered"]]
    if answered:
        typer.echo("\nIssues to address:")
        for item in answered:
            typer.echo(f"- {item['question']}")
            typer.echo(f"  Status: {item['status']}" + (" (exception approved)" if item["excepted"] else ""))
            typer.echo(f"  Response: {item['response']}")
    if unanswered:
        typer.echo(f"\nNot answered yet: {len(unanswered)} item(s): " + ", ".join(i["item_id"] for i in unanswered))


def _item_version(c: Any, run_id: int, item_id: str) -> int:
    run = c.get(f"/api/v1/runs/{run_id}")
    for section in run["sections"]:
        for item in section["items"]:
            if item["item_id"] == item_id:
                return int(item["version"])
    raise fail(f"run {run_id} has no item '{item_id}'")


@review_app.command("answer")
@handle_errors
def answer(
    run_id: int,
    item_id: str,
    status: str = typer.Option(..., "--status", help="pass, fail, needs_review or not_applicable"),
    response: str = typer.Option(None, help="the answer (required for fail and needs_review)"),
    justification: str = typer.Option(None, help="why it does not apply (required for not_applicable)"),
    evidence: list[int] = typer.Option(None, "--evidence", help="evidence id to attach (repeat)"),
    version: int = typer.Option(None, help="the item version you read (default: the current one)"),
    as_json: bool = JsonOpt,
) -> None:
    """Answer one item of a run."""
    with client() as c:
        v = version if version is not None else _item_version(c, run_id, item_id)
        body: dict[str, Any] = {"version": v, "status": status, "response": response, "justification": justification}
        if evidence:
            body["evidence_ids"] = evidence
        data = c.patch(f"/api/v1/runs/{run_id}/items/{item_id}", {k: x for k, x in body.items() if x is not None})
    _print_run(data, as_json)


@review_app.command("assign")
@handle_errors
def assign(
    run_id: int,
    item_id: str,
    assignee: str = typer.Option(None, help="username (omit with --unassign)"),
    due: str = typer.Option(None, help="due time, ISO 8601, e.g. 2026-03-01T12:00:00Z"),
    unassign: bool = typer.Option(False, "--unassign"),
    as_json: bool = JsonOpt,
) -> None:
    """Give an item (a runbook task) an owner and a due time."""
    with client() as c:
        body: dict[str, Any] = {"version": _item_version(c, run_id, item_id)}
        if assignee or unassign:
            body["assignee"] = None if unassign else assignee
        if due:
            body["due_at"] = due
        data = c.patch(f"/api/v1/runs/{run_id}/items/{item_id}", body)
    _print_run(data, as_json)


@review_app.command("exception")
@handle_errors
def exception(
    run_id: int,
    item_id: str,
    justification: str = typer.Option(..., help="why the gap is acceptable"),
    as_json: bool = JsonOpt,
) -> None:
    """Approve an exception for a failed or needs-review required item (governance)."""
    with client() as c:
        body = {"item_id": item_id, "justification": justification, "version": _item_version(c, run_id, item_id)}
        data = c.post(f"/api/v1/runs/{run_id}/exceptions", body)
    _print_run(data, as_json)


def _move(run_id: int, path: str, extra: dict[str, Any], version: int | None, as_json: bool) -> None:
    with client() as c:
        v = version if version is not None else c.get(f"/api/v1/runs/{run_id}")["version"]
        data = c.post(f"/api/v1/runs/{run_id}/{path}", {"version": v, **extra})
    _print_run(data, as_json)


@review_app.command("submit")
@handle_errors
def submit(
    run_id: int, reason: str = typer.Option(None), version: int = typer.Option(None), as_json: bool = JsonOpt
) -> None:
    """Submit a run for sign-off (every required item answered)."""
    _move(run_id, "submit", {"reason": reason}, version, as_json)


@review_app.command("signoff")
@handle_errors
def signoff(
    run_id: int,
    reject: bool = typer.Option(False, "--reject", help="reject instead of approve"),
    reason: str = typer.Option(None, help="required to reject"),
    version: int = typer.Option(None),
    as_json: bool = JsonOpt,
) -> None:
    """Approve (default) or reject a submitted run."""
    _move(run_id, "signoff", {"decision": "reject" if reject else "approve", "reason": reason}, version, as_json)


@review_app.command("reopen")
@handle_errors
def reopen(
    run_id: int, reason: str = typer.Option(None), version: int = typer.Option(None), as_json: bool = JsonOpt
) -> None:
    """Back to in_progress (from submitted or rejected)."""
    _move(run_id, "reopen", {"reason": reason}, version, as_json)


@review_app.command("cancel")
@handle_errors
def cancel(
    run_id: int, reason: str = typer.Option(..., help="why"), version: int = typer.Option(None), as_json: bool = JsonOpt
) -> None:
    """Cancel a run."""
    _move(run_id, "cancel", {"reason": reason}, version, as_json)


@review_app.command("facts")
@handle_errors
def facts(system: str = typer.Option(..., help="the AI system's key")) -> None:
    """The procedure facts deployment gates see for a system."""
    with client() as c:
        print_json(c.get("/api/v1/runs/facts", subject_type="system", subject_key=system))
