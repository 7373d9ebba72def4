"""`charter prompt ...`: the prompt registry through the API (prompt files are parsed here, checked again there)."""

from __future__ import annotations

from typing import Any

import typer

from charter.kit.cli import JsonOpt, client, handle_errors, output, print_json

app = typer.Typer(help="Prompts: versions, diff, labels (protected ones move through releases), render.")
LIST = ("name", "type", "latest", "labels", "tags", "updated_at")
HISTORY = ("at", "label", "from_version", "to_version", "kind", "actor", "release", "gate", "approved_by", "reason")


def _base(system: str, name: str) -> str:
    return f"/api/v1/systems/{system}/prompts/{name}"


def _split(ref: str) -> tuple[str, str | None]:
    """NAME or NAME@label / NAME@3."""
    name, sep, selector = ref.rpartition("@")
    return (name, selector) if sep else (ref, None)


def _content_from_file(path: str, kind: str | None) -> dict[str, Any]:
    """A prompt file (front matter) gives type, config and tags; a .json file with --type chat the messages; any
    other file is the template."""
    import json
    from pathlib import Path

    from charter.prompts.files import parse_prompt_file, prompt_name

    text = Path(path).read_text(encoding="utf-8")
    if prompt_name(Path(path).name) is not None:
        parsed = parse_prompt_file(text, path, name="file")
        body = parsed.content.to_dict()
        body["tags"] = list(parsed.tags) or None
        if parsed.message:
            body["message"] = parsed.message
        return body
    if kind == "chat":
        try:
            messages = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"{path}: a chat prompt file is JSON, a list of {{role, content}}: {exc}") from None
        return {"type": "chat", "messages": messages}
    return {"type": "text", "template": text[:-1] if text.endswith("\n") else text}


@app.command("create")
@handle_errors
def create(
    system: str,
    name: str,
    file: str = typer.Option(..., "--file", help="template file, prompt file (.prompt.md) or chat messages (.json)"),
    kind: str = typer.Option(None, "--type", help="text (default) or chat"),
    message: str = typer.Option(None, "--message", "-m", help="commit message"),
    tag: list[str] = typer.Option(None, "--tag", help="tag (repeat); replaces the prompt's tags"),
    base: int = typer.Option(None, "--base", help="the latest version you edited; refused if someone was faster"),
    as_json: bool = JsonOpt,
) -> None:
    """Create a prompt version from a file (the prompt is created with its first version)."""
    body = _content_from_file(file, kind)
    if kind is not None and body["type"] != kind:
        raise ValueError(f"{file} holds a {body['type']} prompt, not {kind}")
    body.update(name=name, base_version=base)
    if message is not None:
        body["message"] = message
    if tag:
        body["tags"] = tag
    with client() as c:
        data = c.post(f"/api/v1/systems/{system}/prompts", {k: v for k, v in body.items() if v is not None})
    if as_json:
        print_json(data)
    elif data["created"]:
        typer.echo(f"created {system}/{data['name_at_version']} ({data['hash'][:19]}…)")
    else:
        typer.echo(f"unchanged: {system}/{data['name_at_version']} has the same content; no version created")


@app.command("push")
@handle_errors
def push(
    system: str,
    folder: str,
    dry_run: bool = typer.Option(False, "--dry-run", help="show what would change, change nothing"),
    message: str = typer.Option(None, "--message", "-m", help="commit message for files without one"),
    as_json: bool = JsonOpt,
) -> None:
    """Sync a folder of prompt files (NAME.prompt.md): new and changed prompts get a version, unchanged ones not."""
    from pathlib import Path

    from charter.prompts.files import load_prompt_dir

    files = [
        {"name": f.name, "path": f.path, **f.content.to_dict(), "tags": list(f.tags), "message": f.message}
        for f in load_prompt_dir(Path(folder))
    ]
    with client() as c:
        data = c.post(f"/api/v1/systems/{system}/prompt-push", {"files": files, "dry_run": dry_run, "message": message})
    if as_json:
        print_json(data)
        return
    for item in data["items"]:
        typer.echo(f"{item['status']:<9} {item['name']}  ({item['path']})")
    counts = data["counts"]
    verb = "would create" if dry_run else "created"
    typer.echo(
        f"{counts['new']} new, {counts['changed']} changed, {counts['unchanged']} unchanged; {verb} "
        f"{len(data['created']) if not dry_run else counts['new'] + counts['changed']} version(s)"
    )


@app.command("list")
@handle_errors
def list_(system: str, as_json: bool = JsonOpt) -> None:
    """List a system's prompts with their labels."""
    with client() as c:
        rows = c.get(f"/api/v1/systems/{system}/prompts")
    if not as_json:
        rows = [{**r, "labels": [f"{k}→{v}" for k, v in r["labels"].items()]} for r in rows]
    output(rows, LIST, as_json)


@app.command("show")
@handle_errors
def show(
    system: str,
    ref: str = typer.Argument(..., help="NAME, NAME@label or NAME@version (default: latest)"),
    resolved: bool = typer.Option(False, "--resolved", help="with includes spliced in, as served"),
    as_json: bool = JsonOpt,
) -> None:
    """Show a prompt version: template or messages, config, variables, hash, labels."""
    name, selector = _split(ref)
    with client() as c:
        if resolved:
            params = {"version": selector} if selector and selector.isdigit() else {"label": selector or "latest"}
            data = c.get(_base(system, name), **params)
        else:
            data = c.get(f"{_base(system, name)}/versions/{selector or 'latest'}")
    if as_json:
        print_json(data)
        return
    labels = ", ".join(data.get("labels", [])) if not resolved else data.get("label")
    typer.echo(f"{system}/{data['name_at_version']}  ({data['type']}, {data['hash'][:19]}…)  labels: {labels or '-'}")
    if not resolved:
        typer.echo(f"  by {data['author']} at {data['created_at']}: {data['message'] or '(no message)'}")
        typer.echo(f"  variables: {', '.join(data['variables']) or '-'}")
    if data.get("config"):
        typer.echo("  config: " + ", ".join(f"{k}={v}" for k, v in data["config"].items()))
    if data["type"] == "text":
        typer.echo(data["template"])
    else:
        for m in data["messages"]:
            typer.echo(f"[{m['role']}]\n{m['content']}")


@app.command("versions")
@handle_errors
def versions(system: str, name: str, as_json: bool = JsonOpt) -> None:
    """List a prompt's versions, newest first."""
    with client() as c:
        rows = c.get(f"{_base(system, name)}/versions")
    output(rows, ("version", "hash", "labels", "author", "created_at", "message"), as_json)


@app.command("diff")
@handle_errors
def diff(system: str, name: str, old: str, new: str, as_json: bool = JsonOpt) -> None:
    """Diff two versions (numbers or labels): template by line and word, variables, config."""
    with client() as c:
        data = c.get(f"{_base(system, name)}/diff", **{"from": old, "to": new})
    if as_json:
        print_json(data)
    else:
        typer.echo(data["text"])


@app.command("label")
@handle_errors
def label(
    system: str,
    name: str,
    label_name: str = typer.Argument(..., metavar="LABEL"),
    version: int = typer.Option(..., "--version", help="the version the label points at from now on"),
    reason: str = typer.Option(None, "--reason"),
    current: int = typer.Option(None, "--current", help="the version you saw the label at (0: unset)"),
    as_json: bool = JsonOpt,
) -> None:
    """Move an unprotected label (protected ones, e.g. production, move only through a release)."""
    with client() as c:
        data = c.request(
            "PUT",
            f"{_base(system, name)}/labels/{label_name}",
            json={"version": version, "reason": reason, "current": current},
        )
    if as_json:
        print_json(data)
    else:
        was = data["from_version"] if data["from_version"] is not None else "unset"
        typer.echo(f"{system}/{name}: label {label_name} moved {was} → {data['to_version']}")


@app.command("history")
@handle_errors
def history(system: str, name: str, label_name: str = typer.Option(None, "--label"), as_json: bool = JsonOpt) -> None:
    """Every label move, newest first: who, when, from → to, how (direct, release, rollback), why."""
    with client() as c:
        rows = c.get(f"{_base(system, name)}/history", label=label_name)
    if not as_json:
        rows = [
            {
                **r,
                "gate": f"#{r['gate_evaluation_id']}" if r["gate_evaluation_id"] else None,
                "approved_by": ", ".join(a["user"] for a in r["approvals"] if a["decision"] == "approve") or None,
            }
            for r in rows
        ]
    output(rows, HISTORY, as_json)


@app.command("render")
@handle_errors
def render(
    system: str,
    ref: str = typer.Argument(..., help="NAME@label or NAME@version (default: production)"),
    var: list[str] = typer.Option(None, "--var", help="NAME=VALUE (repeat)"),
    strict: bool = typer.Option(False, "--strict", help="refuse variables the prompt does not use"),
    as_json: bool = JsonOpt,
) -> None:
    """Render a prompt with variables (a missing variable is an error naming it)."""
    values: dict[str, str] = {}
    for item in var or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--var {item!r}: write NAME=VALUE")
        values[key] = value
    name, selector = _split(ref)
    body: dict[str, Any] = {"variables": values, "strict": strict}
    if selector and selector.isdigit():
        body["version"] = int(selector)
    else:
        body["label"] = selector or "production"
    with client() as c:
        data = c.post(f"{_base(system, name)}/render", body)
    if as_json:
        print_json(data)
    elif data["type"] == "text":
        typer.echo(data["output"])
    else:
        for m in data["output"]:
            typer.echo(f"[{m['role']}]\n{m['content']}")


@app.command("protect")
@handle_errors
def protect(
    system: str,
    labels: list[str] = typer.Argument(..., help="the labels that move only through releases (replaces the list)"),
    reason: str = typer.Option(None, "--reason"),
) -> None:
    """Choose which labels of the system's prompts are protected (default: production)."""
    with client() as c:
        current = c.get(f"/api/v1/systems/{system}/prompt-settings")
        data = c.request(
            "PUT",
            f"/api/v1/systems/{system}/prompt-settings",
            json={"protected_labels": labels, "version": current["version"], "reason": reason},
        )
    typer.echo(f"{system}: protected labels are now {', '.join(data['protected_labels']) or 'none'}")


@app.command("import")
@handle_errors
def import_(
    system: str,
    file: str,
    fmt: str = typer.Option(..., "--format", help="langfuse or mlflow"),
    as_json: bool = JsonOpt,
) -> None:
    """Import prompt versions from a Langfuse or MLflow export (JSON)."""
    from pathlib import Path

    from charter.prompts.exchange import load_json

    document = load_json(Path(file).read_text(encoding="utf-8"), file)
    with client() as c:
        data = c.post(f"/api/v1/systems/{system}/prompt-import", {"format": fmt, "document": document})
    if as_json:
        print_json(data)
        return
    typer.echo(
        f"{data['versions']} version(s) read, {len(data['created'])} created: {', '.join(data['created']) or '-'}"
    )
    if data["skipped_protected"]:
        typer.echo("protected labels not moved (use a release): " + ", ".join(data["skipped_protected"]))


@app.command("export")
@handle_errors
def export(
    system: str,
    fmt: str = typer.Option("langfuse", "--format", help="langfuse or mlflow"),
    folder: str = typer.Option(None, "--dir", help="write the latest version of each prompt as prompt files here"),
) -> None:
    """Export every version as Langfuse or MLflow JSON, or the latest versions as a folder of prompt files."""
    from pathlib import Path

    from charter.prompts.files import dump_prompt_file
    from charter.prompts.templates import PromptContent

    with client() as c:
        if folder is None:
            print_json(c.get(f"/api/v1/systems/{system}/prompt-export", format=fmt))
            return
        prompts = c.get(f"/api/v1/systems/{system}/prompts")
        for p in prompts:
            data = c.get(f"{_base(system, p['name'])}/versions/latest")
            target = Path(folder) / f"{p['name']}.prompt.md"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(dump_prompt_file(PromptContent.from_dict(data), tags=p["tags"]), encoding="utf-8")
    typer.echo(f"wrote {len(prompts)} prompt file(s) to {folder}")
