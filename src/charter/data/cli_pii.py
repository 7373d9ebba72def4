"""`charter pii ...`: scan files here (nothing leaves the machine), audit a file into the register, guard text
for a vendor and restore the vendor's answer, set egress policies."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from charter.kit.cli import handle_errors

pii_app = typer.Typer(help="PII: scan files, audit datasets, guard text sent to AI vendors.", no_args_is_help=True)

FORMAT_HELP = "text, csv or jsonl (default: from the file's extension)"


def _analyzer(use_nlp: bool):  # type: ignore[no-untyped-def]
    from charter.data.pii import default_analyzer

    return default_analyzer(use_nlp=use_nlp)


@pii_app.command("scan")
@handle_errors
def scan(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="a text, CSV or JSON Lines file (any size)"),
    field: str = typer.Option(None, "--field", help="scan only this CSV column / JSON field"),
    fmt: str = typer.Option(None, "--format", help=FORMAT_HELP),
    jsonl: bool = typer.Option(False, "--jsonl", help='one line per record: {"line": N, "spans": [...]}'),
    threshold: float = typer.Option(None, min=0.0, max=1.0, help="minimum score reported"),
    nlp: bool = typer.Option(True, help="use the NLP backend for PERSON / LOCATION when installed"),
) -> None:
    """Scan a file for PII, streamed (locally: nothing is sent to the server)."""
    from charter.data.pii import Scanner, ScanSummary, write_jsonl

    analyzer = _analyzer(nlp)
    records = Scanner(analyzer, threshold=threshold).scan_path(file, fmt=fmt, field=field)
    if jsonl:
        summary = write_jsonl(records, sys.stdout)
    else:
        summary = ScanSummary()
        for record in records:
            summary.add(record)
    if analyzer.not_looked_for:
        typer.echo(f"note: {', '.join(analyzer.not_looked_for)} not looked for (no NLP backend installed)", err=True)
    if not jsonl:
        typer.echo(f"{summary.records} records, {summary.records_with_pii} with PII, {summary.spans} spans")
        for entity, count in sorted(summary.entities.items()):
            typer.echo(f"  {entity}: {count}")
