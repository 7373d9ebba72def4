"""`charter eval benchmark ...`: create, next, rate, import, report (blinded expert comparison)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import typer

from charter.kit.cli import JsonOpt, client, fail, handle_errors, output

app = typer.Typer(
    help="Blinded expert benchmark: raters compare the AI's and the expert's answers.", no_args_is_help=True
)
BASE = "/api/v1/eval/benchmarks"


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise fail(f"cannot read {path}: {exc.strerror}") from None


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def print_report(data: dict[str, Any]) -> None:
    if "majority" not in data:
        typer.echo(f"benchmark {data.get('id', '-')}: no ratings yet ({data.get('tasks_total', 0)} tasks)")
        return
    for kind in ("majority", "pooled"):
        o = data[kind]
        low, high = o["win_or_tie_wilson95"]
        typer.echo(
            f"{kind:>8}: win {o['win']}, tie {o['tie']}, loss {o['loss']} (n {o['n']}); win-or-tie "
            f"{_rate(o['win_or_tie_rate'])} [{low:.3f}, {high:.3f}]"
        )
    typer.echo(
        f"agreement: Fleiss' kappa {_rate(data['fleiss_kappa'])}, Krippendorff's alpha "
        f"{_rate(data['krippendorff_alpha'])}; {data['tasks']} tasks, {data['raters']} raters, "
        f"{data['ratings']} ratings"
    )
    if "passed" in data:
        state = "PASSED" if data["passed"] else "NOT PASSED"
        typer.echo(
            f"{state}: lower bound of win-or-tie {data['majority']['win_or_tie_wilson95'][0]:.3f} vs "
            f"threshold {data['pass_threshold']}; every task rated by {data['min_raters']}: "
            f"{'yes' if data['complete'] else 'no'}"
        )


@app.command("create")
@handle_errors
def create(
    system: str,
    name: str,
    run: int = typer.Option(..., help="the completed run whose answers are compared"),
    expert: str = typer.Option(..., help="username of the expert who wrote the reference answers"),
    rater: list[str] = typer.Option(..., help="a rater's username; repeat for each (at least 2)"),
    min_raters: int = typer.Option(2),
    pass_threshold: float = typer.Option(0.5, help="on the lower Wilson bound of the majority win-or-tie rate"),
    as_json: bool = JsonOpt,
) -> None:
    """Create a blinded benchmark: each task's two answers in a random order, without labels."""
    body = {
        "system": system,
        "name": name,
        "run": run,
        "expert": expert,
        "raters": rater,
        "min_raters": min_raters,
        "pass_threshold": pass_threshold,
    }
    with client() as c:
        data = c.post(BASE, body)
    if as_json:
        output(data, (), True)
    else:
        typer.echo(
            f"benchmark {data['id']} created: {data['tasks_total']} tasks, raters {', '.join(data['raters_assigned'])}"
        )


@app.command("next")
@handle_errors
def next_(benchmark: int, as_json: bool = JsonOpt) -> None:
    """Your next task to rate: the prompt and answers A and B (which is the AI's is not shown)."""
    with client() as c:
        data = c.get(f"{BASE}/{benchmark}/next")
    if as_json:
        output(data, (), True)
        return
    p = data["progress"]
    if data["task"] is None:
        typer.echo(f"nothing left to rate ({p['rated']} of {p['total']} rated)")
        return
    t = data["task"]
    typer.echo(
        f"task {t['task_id']} ({p['rated']} of {p['total']} rated)\n  prompt: {t['prompt']}\n"
        f"  A: {t['A']}\n  B: {t['B']}"
    )


@app.command("rate")
@handle_errors
def rate(benchmark: int, task: str, choice: str = typer.Argument(..., help="A, B or tie")) -> None:
    """Rate one task blind: which answer is better, A or B (or tie)."""
    with client() as c:
        p = c.post(f"{BASE}/{benchmark}/ratings", {"task_id": task, "choice": choice})
    typer.echo(f"rated {task}: {choice} ({p['rated']} of {p['total']} rated)")


@app.command("import")
@handle_errors
def import_(benchmark: int, file: Path, as_json: bool = JsonOpt) -> None:
    """Import ratings gathered elsewhere (CSV task_id,rater,verdict): all or none."""
    with client() as c:
        data = c.post(f"{BASE}/{benchmark}/ratings/import", {"content": _text(file)})
    output(data, (), True) if as_json else typer.echo(f"imported {data['imported']} ratings")


@app.command("report")
@handle_errors
def report(
    benchmark: int = typer.Argument(None, help="a stored benchmark's id"),
    ratings: Path = typer.Option(None, help="report on a ratings CSV (task_id,rater,verdict) without storing it"),
    as_json: bool = JsonOpt,
) -> None:
    """Win / tie / loss by task majority and pooled, Wilson 95 % interval, Fleiss' kappa, Krippendorff's alpha."""
    if (benchmark is None) == (ratings is None):
        raise fail("give a benchmark id or --ratings FILE (one of them)", 2)
    if ratings is not None:
        from charter.evaluation.benchmark import BenchmarkInputError, benchmark_report

        rows = list(csv.DictReader(_text(ratings).splitlines()))
        try:
            data: dict[str, Any] = benchmark_report(rows).as_dict()
        except BenchmarkInputError as exc:
            line = f"line {exc.index + 2}: " if exc.index is not None else ""
            raise fail(f"{ratings}: {line}{str(exc).split(': ', 1)[-1]}") from None
    else:
        with client() as c:
            data = c.get(f"{BASE}/{benchmark}")
    if as_json:
        typer.echo(json.dumps(data, indent=2))
    else:
        print_report(data)
