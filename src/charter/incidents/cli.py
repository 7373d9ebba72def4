"""`charter incident ...`: open, list, show, ack, update, severity, resolve, close, postmortem, ..."""

from __future__ import annotations

from typing import Any

import typer

from charter.incidents.postmortems.cli import app as postmortem_app
from charter.kit.cli import JsonOpt, client, handle_errors, output

app = typer.Typer(help="Incidents: open, acknowledge, handle, escalate, report, learn.", no_args_is_help=True)
policy_app = typer.Typer(help="Escalation policies.", no_args_is_help=True)
app.add_typer(postmortem_app, name="postmortem")
app.add_typer(policy_app, name="policy")

COLUMNS = ("key", "severity", "status", "system", "title", "commander", "acknowledged_at", "version")
BASE = "/api/v1/incidents"


def _version(c: Any, key: str, version: int | None) -> int:
    return version if version is not None else int(c.get(f"{BASE}/{key}")["version"])


def _moved(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        output(data, (), True)
    else:
        typer.echo(f"{data['key']} is {data['status']} ({data['severity']}, version {data['version']})")


@app.command("open")
@handle_errors
def open_(
    title: str = typer.Argument(..., help="what is happening, in one line"),
    system: str = typer.Option(..., help="AI system key"),
    severity: str = typer.Option(..., help="LOW, MEDIUM, HIGH or CRITICAL"),
    description: str = typer.Option(""),
    harm: str = typer.Option(None, help="harm category: safety, fairness, privacy, security, ..."),
    affected: int = typer.Option(None, help="estimated number of affected users"),
    source: str = typer.Option("manual", help="manual, alert, user_feedback or api"),
    started_at: str = typer.Option(None, help="when impact began (ISO 8601); default: now"),
    commander: str = typer.Option(None, help="username; default: you"),
    policy: str = typer.Option(None, help="escalation policy key"),
    as_json: bool = JsonOpt,
) -> None:
    """Open an incident: pages escalation level 1 and starts the severity's playbook."""
    body = {
        "title": title,
        "system": system,
        "severity": severity,
        "description": description,
        "harm_category": harm,
        "affected_users": affected,
        "source": source,
        "started_at": started_at,
        "commander": commander,
        "escalation_policy": policy,
    }
    with client() as c:
        data = c.post(BASE, {k: v for k, v in body.items() if v is not None})
    if as_json:
        output(data, (), True)
        return
    typer.echo(f"opened {data['key']} ({data['severity']}) on {data['system']}; commander: {data['commander'] or '-'}")
    if data.get("release"):
        typer.echo(f"deployed release when it started: {data['release']}")
    for link in data.get("links", []):
        if link["kind"] == "procedure_run":
            typer.echo(f"playbook: {link['label']} (run {link['ref']})")


@app.command("list")
@handle_errors
def list_(
    status: str = typer.Option(None),
    category: str = typer.Option(None, help="open, active, mitigated, resolved, closed, declined, duplicate"),
    severity: str = typer.Option(None),
    system: str = typer.Option(None),
    serious: bool = typer.Option(None, help="only EU AI Act serious incidents (--serious) or others"),
    unacked: bool = typer.Option(False, help="only unacknowledged"),
    q: str = typer.Option(None, help="search in title and key"),
    as_json: bool = JsonOpt,
) -> None:
    """List incidents, newest first."""
    params = {
        "status": status,
        "category": category,
        "severity": severity,
        "system": system,
        "serious": None if serious is None else str(serious).lower(),
        "unacknowledged": "true" if unacked else None,
        "q": q,
    }
    with client() as c:
        rows = c.paginate(BASE, **params, limit=200)
    output(rows, COLUMNS, as_json)


@app.command("show")
@handle_errors
def show(key: str, timeline: bool = typer.Option(True, help="print the timeline too"), as_json: bool = JsonOpt) -> None:
    """Show an incident: state, escalation, regulatory clock, links and timeline."""
    with client() as c:
        data = c.get(f"{BASE}/{key}")
        events = c.get(f"{BASE}/{key}/timeline") if timeline else []
    if as_json:
        output({**data, "timeline": events}, (), True)
        return
    fields = ("key", "title", "system", "release", "severity", "harm_category", "status", "commander", "reporter")
    for f in fields:
        typer.echo(f"{f:>16}: {data.get(f) if data.get(f) is not None else '-'}")
    esc = data["escalation"]
    typer.echo(
        f"{'escalation':>16}: policy {esc['policy']}, level {esc['level']}/{esc['levels']}"
        + (f", next at {esc['next_escalation_at']}" if esc["next_escalation_at"] else "")
        + (" (exhausted)" if esc["exhausted"] else "")
    )
    typer.echo(f"{'acknowledged':>16}: {data['acknowledged_at'] or 'NO'} {data['acknowledged_by'] or ''}")
    reg = data["regulatory"]
    if reg["serious"]:
        state = f"reported {reg['reported_at']}" if reg["reported_at"] else f"time left {reg['time_left']}"
        typer.echo(f"{'serious incident':>16}: {reg['article']}, due {reg['deadline']} ({state})")
    typer.echo(f"{'allowed moves':>16}: {', '.join(data['allowed_transitions']) or '-'}")
    for link in data["links"]:
        typer.echo(f"{'link':>16}: {link['kind']} {link['ref']} {link['label']}")
    for e in events:
        who = e["author"] or e["actor"]
        typer.echo(f"  {e['at'][:19]}  {(e['event'] or 'update'):<11} {who}: {e['body']}")


@app.command("ack")
@handle_errors
def ack(key: str, as_json: bool = JsonOpt) -> None:
    """Acknowledge an incident: stops its escalation."""
    with client() as c:
        data = c.post(f"{BASE}/{key}/ack")
    if as_json:
        output(data, (), True)
    elif data["already"]:
        typer.echo(f"{key} was already acknowledged by {data['acknowledged_by']} at {data['acknowledged_at']}")
    else:
        typer.echo(f"{key} acknowledged at {data['acknowledged_at']}")


@app.command("update")
@handle_errors
def update(key: str, message: str = typer.Argument(..., help="the update to post on the timeline")) -> None:
    """Post an update to the incident's timeline."""
    with client() as c:
        data = c.post(f"{BASE}/{key}/timeline", {"body": message})
    typer.echo(f"update {data['id']} posted to {key}")


@app.command("edit")
@handle_errors
def edit(
    key: str,
    title: str = typer.Option(None),
    description: str = typer.Option(None),
    harm: str = typer.Option(None),
    affected: int = typer.Option(None),
    started_at: str = typer.Option(None),
    reason: str = typer.Option(None),
    version: int = typer.Option(None),
    as_json: bool = JsonOpt,
) -> None:
    """Change an incident's fields."""
    body: dict[str, Any] = {
        k: v
        for k, v in {
            "title": title,
            "description": description,
            "harm_category": harm,
            "affected_users": affected,
            "started_at": started_at,
            "reason": reason,
        }.items()
        if v is not None
    }
    with client() as c:
        body["version"] = _version(c, key, version)
        _moved(c.patch(f"{BASE}/{key}", body), as_json)


@app.command("severity")
@handle_errors
def severity(
    key: str,
    level: str = typer.Argument(..., help="LOW, MEDIUM, HIGH or CRITICAL"),
    reason: str = typer.Option(None),
    version: int = typer.Option(None),
    as_json: bool = JsonOpt,
) -> None:
    """Change the severity (starts that severity's playbook; re-times escalation)."""
    with client() as c:
        body = {"severity": level, "reason": reason, "version": _version(c, key, version)}
        _moved(c.post(f"{BASE}/{key}/severity", body), as_json)


def _move(key: str, to: str, reason: str | None, version: int | None, as_json: bool, **extra: Any) -> None:
    with client() as c:
        body = {"to": to, "reason": reason, "version": _version(c, key, version), **extra}
        _moved(c.post(f"{BASE}/{key}/transitions", body), as_json)


@app.command("status")
@handle_errors
def status(
    key: str,
    to: str = typer.Argument(..., help="investigating, mitigated, resolved, closed, ... (see 'show')"),
    reason: str = typer.Option(None),
    duplicate_of: str = typer.Option(None, help="for 'duplicate': the incident it duplicates"),
    version: int = typer.Option(None),
    as_json: bool = JsonOpt,
) -> None:
    """Move an incident to another status."""
    extra = {"duplicate_of": duplicate_of} if duplicate_of else {}
    _move(key, to, reason, version, as_json, **extra)


def _to_category(key: str, category: str, reason: str | None, version: int | None, as_json: bool) -> None:
    """Move to the status of `category` (statuses are data; categories are fixed)."""
    with client() as c:
        incident = c.get(f"{BASE}/{key}")
        statuses = c.get(f"{BASE}/catalog")["statuses"]
    keys = [s["key"] for s in statuses if s["category"] == category]
    allowed = [k for k in keys if k in incident["allowed_transitions"]]
    _move(key, (allowed or keys)[0], reason, version if version is not None else incident["version"], as_json)


@app.command("resolve")
@handle_errors
def resolve(
    key: str, reason: str = typer.Option(None), version: int = typer.Option(None), as_json: bool = JsonOpt
) -> None:
    """Mark an incident resolved."""
    _to_category(key, "resolved", reason, version, as_json)


@app.command("close")
@handle_errors
def close(
    key: str, reason: str = typer.Option(None), version: int = typer.Option(None), as_json: bool = JsonOpt
) -> None:
    """Close an incident (HIGH and CRITICAL need an approved postmortem)."""
    _to_category(key, "closed", reason, version, as_json)


@app.command("reopen")
@handle_errors
def reopen(
    key: str,
    reason: str = typer.Option(..., help="why it needs attention again"),
    to: str = typer.Option("investigating", help="the status to reopen to"),
    version: int = typer.Option(None),
    as_json: bool = JsonOpt,
) -> None:
    """Reopen a resolved, closed, declined or duplicate incident."""
    _move(key, to, reason, version, as_json)


@app.command("role")
@handle_errors
def role(
    key: str,
    name: str = typer.Argument(..., help="commander, technical_lead, communications, scribe, liaison"),
    username: str = typer.Argument(None, help="who takes the role; omit with --renounce"),
    renounce: bool = typer.Option(False, help="the current holder gives the role up"),
) -> None:
    """Give an incident role to someone, or renounce it."""
    with client() as c:
        if renounce:
            c.delete(f"{BASE}/{key}/roles/{name}")
            typer.echo(f"{name} of {key} renounced")
            return
        if not username:
            raise typer.BadParameter("give the username, or --renounce")
        c.post(f"{BASE}/{key}/roles", {"role": name, "username": username})
    typer.echo(f"{username} is now {name} of {key}")


@app.command("serious")
@handle_errors
def serious(
    key: str,
    aware_at: str = typer.Option(None, help="when the organisation became aware (ISO 8601) — required"),
    case: str = typer.Option(
        "standard", help="standard (15 d), widespread_or_critical_infrastructure (2 d), death (10 d)"
    ),
    reason: str = typer.Option(None),
    as_json: bool = JsonOpt,
) -> None:
    """Flag as an EU AI Act serious incident (Art. 73 reporting clock)."""
    with client() as c:
        data = c.post(f"{BASE}/{key}/serious", {"case": case, "aware_at": aware_at, "reason": reason})
    reg = data["regulatory"]
    if as_json:
        output(reg, (), True)
    else:
        typer.echo(
            f"{key}: {reg['case_label']} ({reg['article']}); report due {reg['deadline']} — {reg['time_left']} left"
        )


@app.command("reported")
@handle_errors
def reported(
    key: str,
    at: str = typer.Option(None, help="when it was reported; default: now"),
    reference: str = typer.Option(None),
) -> None:
    """Record that the serious incident was reported to the authority."""
    with client() as c:
        data = c.post(f"{BASE}/{key}/serious/report", {"reported_at": at, "reference": reference})
    typer.echo(f"{key} reported at {data['regulatory']['reported_at']}")


@app.command("rollback")
@handle_errors
def rollback(
    key: str, reason: str = typer.Option(...), stage: str = typer.Option(None), as_json: bool = JsonOpt
) -> None:
    """Roll back the system to its previous approved release (linked to the incident both ways)."""
    with client() as c:
        data = c.post(f"{BASE}/{key}/rollback", {"reason": reason, "stage": stage})
    links = [lk for lk in data["links"] if lk["kind"] == "rollback"]
    if as_json:
        output(links, (), True)
    else:
        typer.echo(f"{key}: {links[-1]['label'] if links else 'rolled back'}")


@app.command("metrics")
@handle_errors
def metrics(
    since: str = typer.Option(None),
    until: str = typer.Option(None),
    system: str = typer.Option(None),
    as_json: bool = JsonOpt,
) -> None:
    """MTTA, MTTR, incidents per system and severity, overdue action items."""
    with client() as c:
        data = c.get(f"{BASE}/metrics", since=since, until=until, system=system)
    if as_json:
        output(data, (), True)
        return
    typer.echo(f"incidents: {data['incidents']}   MTTA: {data['mtta'] or '-'}   MTTR: {data['mttr'] or '-'}")
    rows = [{"system": s, **counts} for s, counts in data["by_system_severity"].items()]
    output(rows, ("system", "LOW", "MEDIUM", "HIGH", "CRITICAL"), False, title="incidents per system and severity")
    output(
        data["overdue_action_items"], ("id", "incident", "title", "owner", "due_date", "status"), False, title="overdue"
    )


@app.command("sweep")
@handle_errors
def sweep(as_json: bool = JsonOpt) -> None:
    """Run the escalation, deadline and delivery sweeps now (the server runs them periodically)."""
    with client() as c:
        data = c.post(f"{BASE}/sweep")
    output(data, (), True) if as_json else typer.echo(
        f"escalated: {', '.join(data['escalation'].get('escalated', [])) or '-'}; "
        f"reminders: {', '.join(data['regulatory'].get('reminded', [])) or '-'}; "
        f"delivered: {data['deliveries']['delivered']}, retrying: {data['deliveries']['retrying']}"
    )


@policy_app.command("list")
@handle_errors
def policy_list(as_json: bool = JsonOpt) -> None:
    """Escalation policies."""
    with client() as c:
        rows = c.get(f"{BASE}/escalation-policies")
    for r in rows:
        r["levels"] = " → ".join("+".join(str(next(iter(t.values()))) for t in lv["notify"]) for lv in r["levels"])
    output(rows, ("key", "name", "origin", "levels", "repeat", "ack_timeouts", "systems"), as_json)


@policy_app.command("install")
@handle_errors
def policy_install(path: str = typer.Argument(..., help="a YAML file with one policy")) -> None:
    """Install or replace an escalation policy from a YAML file."""
    from pathlib import Path

    from charter.kit.content import parse_yaml, read_text

    definition, _lines = parse_yaml(read_text(Path(path)), path)
    with client() as c:
        data = c.post(f"{BASE}/escalation-policies", {"definition": definition})
    typer.echo(f"escalation policy '{data['key']}' installed ({len(data['levels'])} levels)")
