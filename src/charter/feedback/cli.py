"""`charter feedback ...` (keys, interactions, end-user feedback) and `charter queue ...` (review queues)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from charter.kit.cli import JsonOpt, client, fail, handle_errors, output

app = typer.Typer(help="Interactions, end-user feedback and feedback keys.", no_args_is_help=True)
keys_app = typer.Typer(help="Feedback keys: write-only, one system, revocable.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
queue_app = typer.Typer(help="Review queues: list, create, take the next item, review it.", no_args_is_help=True)

KEY_COLUMNS = ("id", "system", "name", "prefix", "rate_per_minute", "created_at", "revoked_at")
FEEDBACK_COLUMNS = ("id", "interaction", "rating", "category", "status", "reporter", "created_at", "comment")
QUEUE_COLUMNS = ("key", "system", "blocking", "pending", "leased", "done", "lease_seconds", "double_review_rate")


def _score(items: list[str] | None) -> dict[str, Any]:
    """name=value pairs; values are read as JSON (3, true, "text") and otherwise kept as text."""
    out: dict[str, Any] = {}
    for item in items or []:
        k, sep, v = item.partition("=")
        if not sep or not k:
            raise fail(f"score {item!r} must look like name=value (e.g. accuracy=4, hallucination=false)")
        try:
            out[k.strip()] = json.loads(v)
        except ValueError:
            out[k.strip()] = v
    return out


def _read_json(path: str, what: str) -> Any:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise fail(f"{path}: cannot read the {what} file ({exc.strerror})") from None
    try:
        if path.endswith(".jsonl"):
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        return json.loads(text)
    except ValueError as exc:
        raise fail(f"{path}: not valid JSON ({exc})") from None


# ----------------------------------------------------------------------------- feedback keys


@keys_app.command("create")
@handle_errors
def keys_create(
    system: str,
    name: str = typer.Option("feedback", help="what the key is for (e.g. the web widget)"),
    rate: int = typer.Option(600, min=1, help="posts a minute allowed for this key"),
    as_json: bool = JsonOpt,
) -> None:
    """Create a feedback key for SYSTEM; the key is printed once."""
    with client() as c:
        data = c.post(f"/api/v1/systems/{system}/feedback-keys", {"name": name, "rate_per_minute": rate})
    if as_json:
        output(data, (), True)
        return
    typer.echo(data["key"])
    typer.echo(
        f"feedback key {data['id']} ({data['prefix']}…) for {system}: it can post feedback for this system and "
        "nothing else; it is shown only now",
        err=True,
    )


@keys_app.command("list")
@handle_errors
def keys_list(system: str, as_json: bool = JsonOpt) -> None:
    """The feedback keys of SYSTEM (never the keys themselves)."""
    with client() as c:
        output(c.get(f"/api/v1/systems/{system}/feedback-keys"), KEY_COLUMNS, as_json)


@keys_app.command("revoke")
@handle_errors
def keys_revoke(
    system: str,
    key: str = typer.Argument(..., help="the key's id, or the key itself (chf_...: found by its prefix)"),
    as_json: bool = JsonOpt,
) -> None:
    """Revoke a feedback key of SYSTEM: it stops working at once."""
    with client() as c:
        key_id = key
        if key.startswith("chf_"):  # the secret never leaves this machine: matched by its shown prefix
            found = [k for k in c.get(f"/api/v1/systems/{system}/feedback-keys") if key.startswith(k["prefix"])]
            if not found:
                raise fail(f"no feedback key of {system} starts with {key[:12]}")
            key_id = str(found[0]["id"])
        elif not key.isdigit():
            raise fail(f"{key!r} is neither a key id nor a feedback key (chf_...)")
        data = c.post(f"/api/v1/systems/{system}/feedback-keys/{key_id}/revoke")
    if as_json:
        output(data, (), True)
        return
    typer.echo(f"feedback key {data['id']} ({data['prefix']}…) of {system} revoked")


# ----------------------------------------------------------------------------- interactions and feedback


@app.command("send")
@handle_errors
def send(system: str, file: str, as_json: bool = JsonOpt) -> None:
    """Send interactions from a JSON Lines file (one {id, input, output, ...} a line) or a JSON list."""
    items = _read_json(file, "interactions")
    if not isinstance(items, list):
        raise fail(f"{file}: expected a list of interactions (or one a line in a .jsonl file)")
    with client() as c:
        data = c.post(f"/api/v1/systems/{system}/interactions", {"interactions": items})
    if as_json:
        output(data, (), True)
        return
    typer.echo(
        f"{data['accepted']} interaction(s) accepted, {data['duplicates']} duplicate(s), {data['queued']} queued"
    )
    for held in data["held"]:
        typer.echo(f"  held for review: {held}")


@app.command("decision")
@handle_errors
def decision(system: str, interaction: str, wait: float = typer.Option(0, help="long-poll up to N seconds"),
             as_json: bool = JsonOpt) -> None:  # fmt: skip
    """The blocking-review decision of an interaction: held, approved, edited (text), rejected or not_held."""
    with client() as c:
        data = c.get(f"/api/v1/systems/{system}/interactions/{interaction}/decision", wait=wait or None)
    if as_json:
        output(data, (), True)
        return
    typer.echo(f"{interaction}: {data['decision']}" + (f" by {data['decided_by']}" if data["decided_by"] else ""))
    if data["decision"] == "edited":
        typer.echo(f"  text: {data['text']}")


@app.command("post")
@handle_errors
def post(
    system: str,
    interaction: str = typer.Option(None, help="the interaction id"),
    rating: str = typer.Option(None, help="up or down"),
    category: str = typer.Option(None, help="inaccurate, biased, harmful or other"),
    comment: str = typer.Option("", help="free text"),
    key: str = typer.Option(None, help="post with this feedback key instead of your login (as an application)"),
    as_json: bool = JsonOpt,
) -> None:
    """Post feedback on an interaction (a flag: --rating down or a --category)."""
    from charter.client import Client

    body = {"interaction": interaction, "rating": rating, "category": category, "comment": comment}
    with Client(token=key) if key else client() as c:
        data = c.post(f"/api/v1/systems/{system}/feedback", {k: v for k, v in body.items() if v not in (None, "")})
    if as_json:
        output(data, (), True)
        return
    typer.echo(f"feedback {data['id']} recorded ({'flag, ' if data['flagged'] else ''}status: {data['status']})")
    if data.get("incident"):
        typer.echo(f"  flag-rate spike: incident {data['incident']} is open")


@app.command("settings")
@handle_errors
def settings(
    system: str,
    pii_guard: str = typer.Option(None, help="off, mask or redact: the PII guard before interactions are stored"),
    retention_days: int = typer.Option(None, help="days interactions are kept"),
    spike_flags: int = typer.Option(None, help="flags in the window that make a spike"),
    spike_window: int = typer.Option(None, help="the spike window in minutes"),
    spike_rate: float = typer.Option(None, help="flags per interaction in the window that make a spike (0-1)"),
    spike_severity: str = typer.Option(None, help="severity of the incident a spike opens"),
    as_json: bool = JsonOpt,
) -> None:
    """Show (no options) or change a system's feedback settings."""
    changes = {
        "pii_guard": pii_guard,
        "retention_days": retention_days,
        "spike_min_flags": spike_flags,
        "spike_window_minutes": spike_window,
        "spike_rate": spike_rate,
        "spike_severity": spike_severity,
    }
    body = {k: v for k, v in changes.items() if v is not None}
    path = f"/api/v1/systems/{system}/feedback-settings"
    with client() as c:
        data = c.request("PUT", path, json=body) if body else c.get(path)
    output(data, ("system", "pii_guard", "retention_days", "spike_min_flags", "spike_window_minutes", "spike_rate",
                  "spike_severity", "version"), as_json)  # fmt: skip


@app.command("list")
@handle_errors
def list_feedback(system: str, flagged: bool = typer.Option(False, "--flagged", help="flags only"),
                  as_json: bool = JsonOpt) -> None:  # fmt: skip
    """The feedback inbox of SYSTEM, newest first."""
    with client() as c:
        output(
            c.get(f"/api/v1/systems/{system}/feedback", flagged="true" if flagged else None), FEEDBACK_COLUMNS, as_json
        )


@app.command("show")
@handle_errors
def show(system: str, feedback_id: int, as_json: bool = JsonOpt) -> None:
    """One feedback and the status of its flag."""
    with client() as c:
        output(c.get(f"/api/v1/systems/{system}/feedback/{feedback_id}"), (*FEEDBACK_COLUMNS, "incident"), as_json)


# ----------------------------------------------------------------------------- queues


@queue_app.command("list")
@handle_errors
def queue_list(system: str = typer.Option(None, help="only this system's queues"), as_json: bool = JsonOpt) -> None:
    """Review queues with their pending, leased and done counts."""
    with client() as c:
        output(c.get("/api/v1/review-queues", system=system), QUEUE_COLUMNS, as_json)


@queue_app.command("create")
@handle_errors
def queue_create(
    key: str,
    system: str = typer.Option(..., help="the system whose interactions it reviews"),
    rate: float = typer.Option(0.05, min=0, max=1, help="random sampling rate"),
    mode: str = typer.Option("random", help="random, all (pilot) or none (flags only)"),
    keyword: list[str] = typer.Option(None, help="queue interactions containing this word (repeat)"),
    rubric: str = typer.Option(None, help="a JSON file with the rubric (default: accuracy, tone, hallucination)"),
    blocking: bool = typer.Option(False, "--blocking", help="hold every output until a reviewer decides"),
    lease: int = typer.Option(600, help="lease seconds"),
    double: float = typer.Option(0.0, min=0, max=1, help="share of items reviewed twice (agreement)"),
    as_json: bool = JsonOpt,
) -> None:
    """Create a review queue for a system."""
    body: dict[str, Any] = {
        "key": key,
        "system": system,
        "sampling": {"mode": mode, "rate": rate, "keywords": keyword or []},
        "blocking": blocking,
        "lease_seconds": lease,
        "double_review_rate": double,
    }
    if rubric:
        body["rubric"] = _read_json(rubric, "rubric")
    with client() as c:
        data = c.post("/api/v1/review-queues", body)
    if as_json:
        output(data, (), True)
        return
    typer.echo(f"review queue {data['key']} created for {data['system']}"
               + (" (blocking: outputs are held until reviewed)" if data["blocking"] else ""))  # fmt: skip


@queue_app.command("next")
@handle_errors
def queue_next(queue: str, as_json: bool = JsonOpt) -> None:
    """Lease the next item of QUEUE to yourself and show it."""
    with client() as c:
        item = c.post(f"/api/v1/review-queues/{queue}/next")
    if item is None:
        typer.echo(f"nothing to review in {queue}")
        return
    if as_json:
        output(item, (), True)
        return
    i = item["interaction"]
    typer.echo(f"item {item['id']} ({item['reason']}), leased to you until {item['lease_expires_at']}")
    typer.echo(f"  interaction {i['id']}  model {i['model'] or '-'}  prompt {i['prompt'] or '-'}")
    typer.echo(f"  input:  {i['input']}")
    typer.echo(f"  output: {i['output']}")
    names = ", ".join(f"{r['name']} ({r['type']})" for r in item["rubric"])
    typer.echo(f"  rubric: {names}")
    typer.echo(f"review it: charter queue review {item['id']} --approve|--reject|--edit TEXT --score name=value")


@queue_app.command("review")
@handle_errors
def queue_review(
    item: int,
    approve: bool = typer.Option(False, "--approve"),
    reject: bool = typer.Option(False, "--reject"),
    edit: str = typer.Option(None, "--edit", help="the corrected output"),
    score: list[str] = typer.Option(None, help="rubric score name=value (repeat)"),
    comment: str = typer.Option("", help="why"),
    as_json: bool = JsonOpt,
) -> None:
    """Approve, edit or reject a leased item, with rubric scores."""
    chosen = [a for a, on in (("approve", approve), ("reject", reject), ("edit", edit is not None)) if on]
    if len(chosen) != 1:
        raise fail("choose exactly one of --approve, --reject, --edit TEXT")
    body: dict[str, Any] = {"action": chosen[0], "scores": _score(score), "comment": comment}
    if edit is not None:
        body["correction"] = edit
    with client() as c:
        data = c.post(f"/api/v1/queue-items/{item}/review", body)
    if as_json:
        output(data, (), True)
        return
    typer.echo(f"item {item}: {data['action']} recorded (interaction {data['interaction']})")
