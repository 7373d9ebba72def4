"""`charter telemetry ...`: what arrives from instrumented applications over OpenTelemetry, through the API."""

from __future__ import annotations

import typer

from charter.kit.cli import JsonOpt, client, handle_errors, output, print_json

app = typer.Typer(help="OpenTelemetry GenAI traces: ingest status per system.", no_args_is_help=True)


@app.command("status")
@handle_errors
def status(system: str = typer.Argument(..., help="the AI system's key"), as_json: bool = JsonOpt) -> None:
    """Span rates, the last span, errors, PII found in content, spans per model and prompt, recent rejections."""
    data = client().get(f"/api/v1/systems/{system}/telemetry")
    if as_json:
        print_json(data)
        return
    typer.echo(
        f"{data['system']}: {data['spans']} spans ({data['spans_per_minute_last_hour']}/min over the last hour), "
        f"{data['errors']} errors, last span {data['last_span_at'] or 'never'}, "
        f"{data['pending_rollup']} waiting for roll-up; content policy {data['content_policy']}"
    )
    if data["pii_found"]:
        typer.echo("PII found in content: " + ", ".join(f"{k} {v}" for k, v in sorted(data["pii_found"].items())))
    if data["by_model_and_prompt"]:
        output(data["by_model_and_prompt"], ("model", "prompt", "spans"), False, title="Spans by model and prompt")
    for p in data["recent_problems"]:
        typer.echo(f"{p['at']}: {p['rejected']} rejected — {p['message']}", err=True)
