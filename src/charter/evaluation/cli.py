"""`charter eval ...`: datasets, targets, runs, agreement and calibration (benchmarks: benchmarks_cli.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from charter.evaluation.benchmark_cli import app as benchmark_app
from charter.evaluation.schedule_cli import app as schedule_app
from charter.kit.cli import JsonOpt, client, fail, handle_errors, output

app = typer.Typer(
    help="Evaluation: datasets, targets, runs, expert benchmarks, judge calibration.", no_args_is_help=True
)
dataset_app = typer.Typer(help="Evaluation datasets (immutable versions).", no_args_is_help=True)
target_app = typer.Typer(help="Targets: how Charter calls the system under test (or a judge).", no_args_is_help=True)
app.add_typer(dataset_app, name="dataset")
app.add_typer(target_app, name="target")
app.add_typer(benchmark_app, name="benchmark")
app.add_typer(schedule_app, name="schedule")

BASE = "/api/v1/eval"


def _format_of(path: Path, given: str | None) -> str:
    if given:
        return given
    from charter.evaluation.dataset_files import format_for

    found = format_for(path.name)
    if found is None:
        raise fail(
            f"cannot tell the format of {path.name}: pass --format (csv, jsonl, inspect_csv, inspect_json, "
            "inspect_jsonl, langfuse_json, langfuse_jsonl)",
            2,
        )
    return found


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise fail(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise fail(f"{path} is not UTF-8 text") from None


# ----------------------------------------------------------------------------- datasets


@dataset_app.command("import")
@handle_errors
def dataset_import(
    system: str = typer.Argument(..., help="AI system key"),
    name: str = typer.Argument(..., help="dataset name"),
    file: Path = typer.Argument(..., help="the file: .csv, .jsonl, or any format with --format"),
    fmt: str = typer.Option(
        None,
        "--format",
        help="csv, jsonl, inspect_csv, inspect_json, inspect_jsonl, "
        "langfuse_json, langfuse_jsonl (default: from the file name)",
    ),
    description: str = typer.Option(""),
    input_key: str = typer.Option(None, help="Langfuse: the key of an object input that holds the prompt"),
    expected_key: str = typer.Option(None, help="Langfuse: the key of an object expectedOutput to compare with"),
    as_json: bool = JsonOpt,
) -> None:
    """Import a dataset file as a new immutable version (the same content twice adds no version)."""
    body = {
        "system": system,
        "name": name,
        "format": _format_of(file, fmt),
        "content": _read(file),
        "description": description,
        "input_key": input_key,
        "expected_key": expected_key,
    }
    with client() as c:
        data = c.post(f"{BASE}/datasets", body)
    if as_json:
        output(data, (), True)
    elif data["new"]:
        typer.echo(f"imported {system}/{name}@{data['version']}: {data['samples']} samples ({data['content_hash']})")
    else:
        typer.echo(f"{system}/{name}@{data['version']} already holds this content ({data['content_hash']})")


@dataset_app.command("list")
@handle_errors
def dataset_list(system: str, as_json: bool = JsonOpt) -> None:
    """The datasets of a system with their newest version."""
    with client() as c:
        rows = c.get(f"{BASE}/datasets", system=system)
    if as_json:
        output(rows, (), True)
        return
    flat = [
        {
            "name": r["name"],
            "version": r["versions"][-1]["version"],
            "samples": r["versions"][-1]["samples"],
            "content_hash": r["versions"][-1]["content_hash"],
        }
        for r in rows
        if r["versions"]
    ]
    output(flat, ("name", "version", "samples", "content_hash"), False)


@dataset_app.command("show")
@handle_errors
def dataset_show(system: str, name: str, as_json: bool = JsonOpt) -> None:
    """A dataset's versions."""
    with client() as c:
        data = c.get(f"{BASE}/datasets/{system}/{name}")
    output(
        data if as_json else data["versions"],
        ("version", "samples", "content_hash", "source_format", "created_by", "created_at"),
        as_json,
    )


@dataset_app.command("export")
@handle_errors
def dataset_export(
    system: str,
    ref: str = typer.Argument(..., help="NAME or NAME@VERSION"),
    fmt: str = typer.Option("jsonl", "--format"),
    out: Path = typer.Option(None, "--out", help="write to this file (default: standard output)"),
) -> None:
    """Export a dataset version in any supported format."""
    with client() as c:
        text = c.get(f"{BASE}/datasets/{system}/{ref}/export", format=fmt)
    text = text.decode() if isinstance(text, bytes) else str(text)
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8", newline="")
        typer.echo(f"wrote {out}")


# ----------------------------------------------------------------------------- targets


@target_app.command("add")
@handle_errors
def target_add(
    name: str,
    kind: str = typer.Option("openai_chat", help="openai_chat, http_json or offline"),
    base_url: str = typer.Option(None, help="openai_chat: the base URL, e.g. https://api.example.com/v1"),
    model: str = typer.Option(None),
    api_key: str = typer.Option(None, help="a reference, never the key: env:NAME or file:/path"),
    config: str = typer.Option(None, help="the whole configuration as JSON, or @file.json"),
    description: str = typer.Option(""),
    as_json: bool = JsonOpt,
) -> None:
    """Add a target. Credentials are stored only as a reference (env:NAME or file:/path)."""
    if config:
        text = _read(Path(config[1:])) if config.startswith("@") else config
        try:
            body: dict[str, Any] = json.loads(text)
        except json.JSONDecodeError as exc:
            raise fail(f"--config is not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}", 2) from None
    else:
        body = {"kind": kind, "base_url": base_url, "model": model, "api_key": api_key}
        body = {k: v for k, v in body.items() if v is not None}
    with client() as c:
        data = c.post(f"{BASE}/targets", {"name": name, "config": body, "description": description})
    if as_json:
        output(data, (), True)
    else:
        typer.echo(f"added target {data['name']} ({data['kind']})")


@target_app.command("list")
@handle_errors
def target_list(as_json: bool = JsonOpt) -> None:
    with client() as c:
        rows = c.get(f"{BASE}/targets")
    output(rows, ("name", "kind", "description", "created_by"), as_json)


@target_app.command("test")
@handle_errors
def target_test(name: str, as_json: bool = JsonOpt) -> None:
    """Call the target once: reachable, or why not (exit 1)."""
    with client() as c:
        data = c.post(f"{BASE}/targets/{name}/test")
    if as_json:
        output(data, (), True)
    else:
        typer.echo(f"{name}: {'reachable' if data['reachable'] else 'NOT reachable'} - {data['detail']}")
    if not data["reachable"]:
        raise typer.Exit(1)


# ----------------------------------------------------------------------------- runs


def _scorer(text: str) -> dict[str, Any] | str:
    """'exact' or 'contains:{"values": ["x"]}' or a JSON object."""
    kind, colon, options = text.partition(":")
    if text.lstrip().startswith("{"):
        kind, options, colon = "", text, ":"
    if not colon:
        return text
    try:
        parsed = json.loads(options)
    except json.JSONDecodeError as exc:
        raise fail(f"--scorer {text!r}: the options are not JSON ({exc.msg})", 2) from None
    if not isinstance(parsed, dict):
        raise fail(f"--scorer {text!r}: the options must be a JSON object", 2)
    return {"type": kind, **parsed} if kind else parsed


def print_run(data: dict[str, Any]) -> None:
    typer.echo(
        f"run {data['id']}: {data['status']} - {data['completed']} completed, {data['errored']} errored "
        f"of {data['planned']} ({data['dataset']}@{data['dataset_version']} on {data['target']})"
    )
    for name, s in (data.get("summary") or {}).items():
        low, high = s["pass_rate_wilson95"]
        rate = "-" if s["pass_rate"] is None else f"{s['pass_rate']:.3f}"
        typer.echo(f"  {name}: pass rate {rate} [{low:.3f}, {high:.3f}], {s['passed']} passed")
    if data.get("passed") is not None:
        typer.echo(f"  {'PASSED' if data['passed'] else 'FAILED'} (threshold {data['pass_threshold']})")
    if data.get("error"):
        typer.echo(f"  error: {data['error']}")


@app.command("run")
@handle_errors
def run(
    system: str,
    dataset: str = typer.Option(..., help="NAME or NAME@VERSION"),
    target: str = typer.Option(...),
    scorer: list[str] = typer.Option(["exact"], help="a scorer type, or TYPE:{json options}; repeatable"),
    pass_threshold: float = typer.Option(None, help="the run passes when every scorer's pass rate reaches this"),
    release: int = typer.Option(None, help="the release version under test"),
    concurrency: int = typer.Option(8),
    timeout: float = typer.Option(60.0, help="seconds per call"),
    epochs: int = typer.Option(1),
    wait: bool = typer.Option(True, help="wait for the run to finish"),
    as_json: bool = JsonOpt,
) -> None:
    """Run a dataset version against a target and score every answer."""
    body = {
        "system": system,
        "dataset": dataset,
        "target": target,
        "scorers": [_scorer(s) for s in scorer],
        "pass_threshold": pass_threshold,
        "release": release,
        "concurrency": concurrency,
        "timeout_s": timeout,
        "epochs": epochs,
        "wait": wait,
    }
    from charter.client import Client

    with Client(timeout=24 * 3600.0) as c:  # the server answers when the run has ended
        data = c.post(f"{BASE}/runs", body)
    if as_json:
        output(data, (), True)
    else:
        print_run(data)
    if data["status"] == "failed" or data.get("passed") is False:
        raise typer.Exit(1)


@app.command("show")
@handle_errors
def show(
    run_id: int,
    items: bool = typer.Option(False, help="every item with its output and scores"),
    as_json: bool = JsonOpt,
) -> None:
    """A run: status, scores with their intervals (and items)."""
    with client() as c:
        data = c.get(f"{BASE}/runs/{run_id}", items=str(items).lower())
    if as_json:
        output(data, (), True)
        return
    print_run(data)
    for item in data.get("items", []):
        shown = {k: v["value"] for k, v in item["scores"].items()}
        typer.echo(f"  [{item['status']}] {item['sample_id']}: {item['output'] or item['error']!r} {shown}")


@app.command("resume")
@handle_errors
def resume(run_id: int, as_json: bool = JsonOpt) -> None:
    """Resume a run whose runner stopped: only the missing items are called."""
    with client() as c:
        data = c.post(f"{BASE}/runs/{run_id}/resume")
    output(data, (), True) if as_json else print_run(data)


# ----------------------------------------------------------------------------- agreement and judge calibration


def _pairs(file: Path, human: str, judge: str) -> tuple[list[str], list[str]]:
    import csv

    rows = list(csv.DictReader(_read(file).splitlines()))
    columns = list(rows[0]) if rows else []
    for col in (human, judge):
        if col not in columns:
            raise fail(f"{file}: no column {col!r}; columns: {', '.join(columns) or 'none'}", 2)
    return [r[human] for r in rows], [r[judge] for r in rows]


def print_calibration(data: dict[str, Any]) -> None:
    def f(v: Any) -> str:
        return "-" if v is None else f"{v:.3f}"

    low, high = data["accuracy_wilson95"]
    typer.echo(
        f"n {data['n']}: accuracy {f(data['accuracy'])} [{low:.3f}, {high:.3f}], precision "
        f"{f(data['precision'])}, recall {f(data['recall'])}, F1 {f(data['f1'])}, Cohen's kappa "
        f"{f(data['cohen_kappa'])}, Krippendorff's alpha {f(data['krippendorff_alpha'])}, MAE {f(data['mae'])}"
    )


@app.command("agreement")
@handle_errors
def agreement(
    file: Path,
    human: str = typer.Option(..., help="the column of the human labels"),
    judge: str = typer.Option(..., help="the column of the judge's labels"),
    scale: str = typer.Option(..., help="binary or interval"),
    as_json: bool = JsonOpt,
) -> None:
    """Calibration statistics of a file of paired labels (computed here; nothing is stored)."""
    from charter.evaluation.agreement import calibrate
    from charter.evaluation.stats import StatisticsInputError

    if scale not in ("binary", "interval"):
        raise fail(f"--scale {scale!r} is not allowed; use binary or interval", 2)
    h, j = _pairs(file, human, judge)
    try:
        data = calibrate(h, j, scale).as_dict()  # type: ignore[arg-type]
    except StatisticsInputError as exc:
        raise fail(f"{file}: {exc}") from None
    if as_json:
        typer.echo(json.dumps(data, indent=2))
    else:
        print_calibration(data)


@app.command("calibrate")
@handle_errors
def calibrate_judge(
    judge_target: str = typer.Argument(..., metavar="JUDGE", help="the judge's target name"),
    file: Path = typer.Argument(...),
    human: str = typer.Option(...),
    judge: str = typer.Option(...),
    scale: str = typer.Option(...),
    as_json: bool = JsonOpt,
) -> None:
    """Calibrate a judge against human labels and store the result with the judge (gates read it)."""
    h, j = _pairs(file, human, judge)
    with client() as c:
        data = c.post(
            f"{BASE}/targets/{judge_target}/calibrations", {"human": h, "judge": j, "scale": scale, "source": file.name}
        )
    if as_json:
        output(data, (), True)
    else:
        typer.echo(f"calibration {data['id']} stored with judge {data['judge']}")
        print_calibration(data["stats"])
