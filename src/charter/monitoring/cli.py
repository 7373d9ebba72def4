"""`charter metrics ...`: push metrics, read health and alerts, manage alert rules, check drift."""

from __future__ import annotations

import typer

from charter.kit.cli import JsonOpt, client, fail, handle_errors, output

app = typer.Typer(help="Monitoring: push metrics, health, alerts and rules, drift checks.", no_args_is_help=True)
RULE_COLUMNS = ("key", "kind", "severity", "expression", "enabled", "source", "version")
ALERT_COLUMNS = ("id", "system", "rule", "severity", "state", "value", "summary", "started_at", "resolved_at")


def _pairs(items: list[str] | None, what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        k, sep, v = item.partition("=")
        if not sep or not k:
            raise fail(f"{what} {item!r} must look like name=value")
        out[k.strip()] = v.strip()
    return out


@app.command("push")
@handle_errors
def push(
    system: str = typer.Argument(..., help="system key"),
    file: str = typer.Argument(
        ..., help="CSV (name,value,ts,+label columns; or wide: ts + one column per metric) or JSON Lines"
    ),
    batch_size: int = typer.Option(1000, min=1, max=10000, help="points per request"),
    batch_id: str = typer.Option(None, help="id of this push (a re-run with the same id stores nothing twice)"),
    labels: str = typer.Option("release,stage", help="wide files: columns that are labels, comma-separated"),
    as_json: bool = JsonOpt,
) -> None:
    """Push metric points from a file, in batches."""
    from charter.monitoring.metrics.files import MetricFileError, read_points

    try:
        points = read_points(file, label_columns=tuple(c.strip() for c in labels.split(",") if c.strip()))
    except MetricFileError as exc:
        raise fail(f"{file}: {exc}") from None
    with client() as c:
        result = c.log_metrics(system, points, batch_id, batch_size=batch_size)
    if as_json:
        output(result, (), True)
        return
    replayed = result.get("replayed", 0)
    if replayed and replayed == result["batches"]:
        typer.echo(
            f"batch id {batch_id!r} was already pushed: a replay, nothing new stored "
            f"({result.get('replayed_points', 0)} points in {replayed} batch(es) were stored earlier)"
        )
    else:
        typer.echo(f"{result['accepted']} points accepted in {result['batches']} batch(es)")
        if replayed:
            typer.echo(f"  {replayed} batch(es) were replays of an earlier push: nothing stored twice")
    for a in result["alerts"]:
        typer.echo(
            f"  alert {a['rule']} ({a['severity']}): {a['old_state'] or 'new'} -> {a['new_state']}: {a['summary']}"
        )


@app.command("health")
@handle_errors
def health(system: str, as_json: bool = JsonOpt) -> None:
    """A system's health, firing alerts and time since its last data."""
    with client() as c:
        data = c.get(f"/api/v1/systems/{system}/health")
    if as_json:
        output(data, (), True)
        return
    since = data["minutes_since_last_data"]
    typer.echo(f"{system}: {data['health']}  (last data: {'never' if since is None else f'{since:.0f} min ago'})")
    for a in data["alerts"]:
        typer.echo(f"  {a['severity']:<8} {a['rule']}: {a['summary']}")
    if data.get("drift"):
        d = data["drift"]
        typer.echo(
            f"  drift: {d['columns_drifted']}/{d['columns_total']} columns (dataset drift: {d['dataset_drift']})"
        )


@app.command("series")
@handle_errors
def series(system: str, as_json: bool = JsonOpt) -> None:
    """The system's metric series and their last values."""
    with client() as c:
        rows = c.get(f"/api/v1/systems/{system}/metrics")
    output(rows, ("name", "unit", "labels", "last_value", "last_ts", "points"), as_json)


@app.command("alerts")
@handle_errors
def alerts(
    system: str = typer.Argument(None, help="system key (default: every system)"),
    state: str = typer.Option(None, help="pending, firing or resolved"),
    as_json: bool = JsonOpt,
) -> None:
    """Alerts, newest first."""
    path = f"/api/v1/systems/{system}/alerts" if system else "/api/v1/alerts"
    with client() as c:
        rows = c.get(path, state=state)
    output(rows, ALERT_COLUMNS, as_json)


@app.command("rules")
@handle_errors
def rules(system: str, as_json: bool = JsonOpt) -> None:
    """A system's alert rules."""
    with client() as c:
        rows = c.get(f"/api/v1/systems/{system}/alert-rules")
    output(rows, RULE_COLUMNS, as_json)


@app.command("defaults")
@handle_errors
def defaults(system: str, as_json: bool = JsonOpt) -> None:
    """Install the shipped default rules (seed 002 thresholds) the system does not have yet."""
    with client() as c:
        rows = c.post(f"/api/v1/systems/{system}/alert-rules/defaults")
    output(rows, RULE_COLUMNS, as_json)


@app.command("rule-add")
@handle_errors
def rule_add(
    system: str,
    key: str = typer.Argument(..., help="rule key, e.g. p95-latency"),
    kind: str = typer.Option("threshold", help="threshold, anomaly, no_data or drift"),
    metric: str = typer.Option(None),
    aggregation: str = typer.Option(None, "--agg", help="last, avg, p95, max, min, rate"),
    window: str = typer.Option(None, help="e.g. 15m, 1h"),
    op: str = typer.Option(None, help="<, <=, >, >=, ==, !="),
    threshold: float = typer.Option(None),
    for_: str = typer.Option(None, "--for", help="how long the condition must hold, e.g. 5m"),
    severity: str = typer.Option("warning", help="info, warning or critical"),
    label: list[str] = typer.Option(None, "--label", help="label filter name=value (repeat)"),
    param: list[str] = typer.Option(None, "--param", help="anomaly: z=3.5, min_points=10, direction=both"),
    description: str = typer.Option(None),
    as_json: bool = JsonOpt,
) -> None:
    """Add an alert rule."""
    params: dict[str, object] = {}
    for k, v in _pairs(param, "param").items():
        try:
            params[k] = int(v) if v.isdigit() else float(v)
        except ValueError:
            params[k] = v
    body = {
        "key": key,
        "kind": kind,
        "metric": metric,
        "aggregation": aggregation,
        "window": window,
        "comparison": op,
        "threshold": threshold,
        "for": for_,
        "severity": severity,
        "labels": _pairs(label, "label") or None,
        "params": params or None,
        "description": description,
    }
    with client() as c:
        data = c.post(f"/api/v1/systems/{system}/alert-rules", {k: v for k, v in body.items() if v is not None})
    output(data, RULE_COLUMNS, as_json)


@app.command("rule-set")
@handle_errors
def rule_set(
    system: str,
    key: str,
    threshold: float = typer.Option(None),
    op: str = typer.Option(None),
    window: str = typer.Option(None),
    for_: str = typer.Option(None, "--for"),
    severity: str = typer.Option(None),
    enabled: bool = typer.Option(None, "--enable/--disable"),
    reason: str = typer.Option(None, help="why (kept in the ledger)"),
    as_json: bool = JsonOpt,
) -> None:
    """Change an alert rule (a new version; the change is in the ledger)."""
    changes = {
        "threshold": threshold,
        "comparison": op,
        "window": window,
        "for": for_,
        "severity": severity,
        "enabled": enabled,
        "reason": reason,
    }
    body: dict[str, object] = {k: v for k, v in changes.items() if v is not None}
    with client() as c:
        body["version"] = c.get(f"/api/v1/systems/{system}/alert-rules/{key}")["version"]
        output(c.patch(f"/api/v1/systems/{system}/alert-rules/{key}", body), RULE_COLUMNS, as_json)


@app.command("rule-delete")
@handle_errors
def rule_delete(system: str, key: str, reason: str = typer.Option(None)) -> None:
    """Delete an alert rule (its active alerts resolve)."""
    with client() as c:
        version = c.get(f"/api/v1/systems/{system}/alert-rules/{key}")["version"]
        c.delete(f"/api/v1/systems/{system}/alert-rules/{key}", version=version, reason=reason)
    typer.echo(f"deleted alert rule {key} of {system}")


@app.command("reference")
@handle_errors
def reference(
    system: str,
    file: str = typer.Argument(..., help="dataset: .csv, .jsonl or .parquet"),
    name: str = typer.Option("reference", help="profile name"),
    release: str = typer.Option("", help="the release this reference belongs to"),
    local: bool = typer.Option(False, "--local", help="profile the file here and send only the summary"),
    replace: bool = typer.Option(False, "--replace", help="replace the existing profile of that name"),
    as_json: bool = JsonOpt,
) -> None:
    """Set a drift reference from a dataset (uploaded, or --local: only its profile leaves this machine)."""
    from pathlib import Path

    with client() as c:
        version = None
        if replace:
            version = c.get(f"/api/v1/systems/{system}/drift/profiles/{name}", release=release or None, summary=False)[
                "version"
            ]
        if local:
            from charter.monitoring.drift.datasets import read_file
            from charter.monitoring.drift.profiles import build_profile

            data = c.upload_profile(system, build_profile(read_file(file)), name, release, version)
        else:
            form = {"release": release, **({"version": str(version)} if version else {})}
            with Path(file).open("rb") as fh:
                data = c.request(
                    "POST",
                    f"/api/v1/systems/{system}/drift/profiles/{name}/dataset",
                    files={"file": (Path(file).name, fh)},
                    data=form,
                )
    output(data, ("name", "release", "source", "rows", "version", "updated_at"), as_json)


@app.command("drift")
@handle_errors
def drift(
    system: str,
    file: str = typer.Argument(..., help="current dataset: .csv, .jsonl or .parquet"),
    reference: str = typer.Option("reference", help="reference profile name"),
    release: str = typer.Option(""),
    local: bool = typer.Option(False, "--local", help="profile the file here and send only the summary"),
    drift_share: float = typer.Option(0.5, help="dataset drift when at least this share of columns drift"),
    as_json: bool = JsonOpt,
) -> None:
    """Check a current dataset for drift against a reference."""
    import json
    from pathlib import Path

    with client() as c:
        if local:
            from charter.monitoring.drift.datasets import read_file
            from charter.monitoring.drift.profiles import build_profile

            ref = c.reference_profile(system, reference, release)
            current = build_profile(read_file(file), reference=ref)
            data = c.check_drift(system, current, reference, release, drift_share=drift_share)
        else:
            with Path(file).open("rb") as fh:
                data = c.request(
                    "POST",
                    f"/api/v1/systems/{system}/drift/checks/dataset",
                    files={"file": (Path(file).name, fh)},
                    data={
                        "reference": reference,
                        "release": release,
                        "options": json.dumps({"drift_share": drift_share}),
                    },
                )
    if as_json:
        output(data, (), True)
        return
    verdict = "DRIFT" if data["dataset_drift"] else "no dataset drift"
    typer.echo(
        f"{verdict}: {data['columns_drifted']} of {data['columns_total']} columns drifted "
        f"(share {data['drift_share']:.2f}, threshold {data['share_threshold']:g}); check {data['id']}"
    )
    output(data["features"], ("column", "column_type", "method", "value", "threshold", "drifted"), False)


@app.command("post-deploy")
@handle_errors
def post_deploy(
    system: str,
    window: list[str] = typer.Option(None, "--window", help="check window per stage in hours: pilot=24 (repeat)"),
    severity: str = typer.Option(None, help="alerts of at least this severity put a release at risk"),
    auto_rollback: bool = typer.Option(None, "--auto-rollback/--no-auto-rollback"),
    reason: str = typer.Option(None),
    as_json: bool = JsonOpt,
) -> None:
    """Show (or change) the post-deployment check policy and the recent check windows."""
    path = f"/api/v1/systems/{system}/post-deploy"
    with client() as c:
        config = c.get(f"{path}/config")
        if window or severity or auto_rollback is not None:
            windows = {**config["windows"], **{k: float(v) for k, v in _pairs(window, "window").items()}}
            body = {
                "windows": windows,
                "severity": severity,
                "auto_rollback": auto_rollback,
                "version": config["version"],
                "reason": reason,
            }
            config = c.request("PUT", f"{path}/config", json={k: v for k, v in body.items() if v is not None})
        watches = c.get(f"{path}/checks")
    if as_json:
        output({"config": config, "checks": watches}, (), True)
        return
    hours = ", ".join(f"{k} {v:g} h" for k, v in config["windows"].items()) or "none"
    typer.echo(
        f"windows: {hours}; at risk from severity {config['severity']}; automatic rollback: {config['auto_rollback']}"
    )
    output(watches, ("release_version", "stage", "status", "started_at", "ends_at", "rollback_result"), False)
