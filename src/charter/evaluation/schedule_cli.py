"""`charter eval schedule ...`: continuous validation (add, list, run-due)."""

from __future__ import annotations

import json

import typer

from charter.kit.cli import JsonOpt, client, fail, handle_errors, output

app = typer.Typer(
    help="Continuous validation: re-run a pinned dataset on a schedule; a drop fires an alert.", no_args_is_help=True
)
BASE = "/api/v1/eval/schedules"


@app.command("add")
@handle_errors
def add(
    system: str,
    name: str,
    dataset: str = typer.Option(..., help="NAME[@VERSION]: pinned when the schedule is added"),
    target: str = typer.Option(...),
    stage: str = typer.Option("production", help="the stage whose deployed release is validated"),
    scorer: str = typer.Option("exact", help="a scorer type or a JSON configuration"),
    every: str = typer.Option("24h", help="interval: 30m, 24h, 7d"),
    max_drop: float = typer.Option(0.05, help="alert when the pass rate falls more than this below the baseline"),
    baseline: float = typer.Option(None, help="default: the first run's pass rate"),
    as_json: bool = JsonOpt,
) -> None:
    """Add a schedule; it gets a critical alert rule eval-regression-NAME in monitoring."""
    try:
        scorer_config = json.loads(scorer) if scorer.lstrip().startswith("{") else scorer
    except json.JSONDecodeError as exc:
        raise fail(f"--scorer is not JSON: {exc.msg}", 2) from None
    body = {
        "system": system,
        "name": name,
        "dataset": dataset,
        "target": target,
        "stage": stage,
        "scorer": scorer_config,
        "every": every,
        "max_drop": max_drop,
        "baseline": baseline,
    }
    with client() as c:
        data = c.post(BASE, body)
    if as_json:
        output(data, (), True)
    else:
        typer.echo(
            f"schedule {name}: {data['dataset']}@{data['dataset_version']} on {data['target']} every "
            f"{data['interval_seconds']} s against {data['stage']}; next run {data['next_run_at']}"
        )


@app.command("list")
@handle_errors
def list_(system: str, as_json: bool = JsonOpt) -> None:
    with client() as c:
        rows = c.get(BASE, system=system)
    output(
        rows,
        ("name", "dataset", "dataset_version", "target", "stage", "baseline", "next_run_at", "last_run_id"),
        as_json,
    )


@app.command("run-due")
@handle_errors
def run_due(as_json: bool = JsonOpt) -> None:
    """Run the schedules that are due now (the sweeper does this every round)."""
    from charter.client import Client

    with Client(timeout=24 * 3600.0) as c:
        rows = c.post(f"{BASE}/run-due")
    if as_json:
        output(rows, (), True)
        return
    if not rows:
        typer.echo("no schedule is due")
    for r in rows:
        state = "DROP" if r["dropped"] else "ok"
        typer.echo(f"run {r['run']}: {state} - {r['reason']}")
