"""`charter pii ...`: scan files here (nothing leaves the machine), audit a file into the register, guard text
for a vendor and restore the vendor's answer, set egress policies."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from charter.kit.cli import JsonOpt, client, fail, handle_errors, output, print_json

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


@pii_app.command("audit")
@handle_errors
def audit_(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="the dataset file: text, CSV or JSON Lines"),
    dataset: str = typer.Option(None, help="the registered dataset's name (with --namespace)"),
    namespace: str = typer.Option(None, help="the registered dataset's namespace"),
    field: str = typer.Option(None, "--field", help="audit only this CSV column / JSON field"),
    fmt: str = typer.Option(None, "--format", help=FORMAT_HELP),
    run: int = typer.Option(None, help="attach the report to this procedure run's item (with --item)"),
    item: str = typer.Option(None, help="the run item, e.g. phase1.pii-audit"),
    as_json: bool = JsonOpt,
) -> None:
    """PII-audit a file on the server: counts per column and entity type with masked examples, kept as evidence."""
    if (dataset is None) != (namespace is None):
        raise fail("give --dataset and --namespace together", 2)
    with client() as c:
        dataset_id = None
        if dataset is not None:
            page = c.get("/api/v1/datasets", namespace=namespace, name=dataset, limit=1)
            if not page["items"]:
                raise fail(f"no registered dataset {dataset!r} in namespace {namespace!r}")
            dataset_id = page["items"][0]["id"]
        form = {"format": fmt, "field": field, "dataset_id": dataset_id, "run_id": run, "item_id": item}
        with file.open("rb") as fh:
            data = c.request(
                "POST", "/api/v1/pii/audits", files={"file": (file.name, fh)},
                data={k: str(v) for k, v in form.items() if v is not None},
            )  # fmt: skip
    if as_json:
        print_json(data)
        return
    typer.echo(
        f"PII audit #{data['id']} of {data['source']}: {data['records']} records, {data['records_with_pii']} with "
        f"PII (evidence #{data['evidence_id']})"
    )
    for row in data["report"]["rows"]:
        typer.echo(f"  {row['column']:<16} {row['entity']:<16} {row['count']:>6}  {', '.join(row['examples'])}")
    if data["report"]["not_looked_for"]:
        typer.echo(f"  not looked for (no NLP backend): {', '.join(data['report']['not_looked_for'])}")


def _text(text: str | None, file: Path | None) -> str:
    if (text is None) == (file is None):
        raise fail("give the text as an argument or --file, not both", 2)
    if file is not None:
        try:
            return file.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise fail(f"{file}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    return str(text)


@pii_app.command("guard")
@handle_errors
def guard(
    text: str = typer.Argument(None, help="the text to send (or --file)"),
    vendor: str = typer.Option(..., help="the vendor it goes to (its egress policy applies)"),
    file: Path = typer.Option(None, exists=True, dir_okay=False, help="read the text from a file"),
    scope: str = typer.Option("", help="pseudonym scope, e.g. a conversation id (restore with the same)"),
    system: str = typer.Option(None, help="AI system key: counts become its pii_detected / pii_blocked metrics"),
    as_json: bool = JsonOpt,
) -> None:
    """Apply a vendor's egress policy: prints what may be sent, or exits 1 when the text is blocked."""
    with client() as c:
        data = c.guard(_text(text, file), vendor=vendor, scope=scope, system=system)
    if as_json:
        print_json(data)
    elif not data["blocked"]:
        typer.echo(data["text"])
    if data["blocked"]:
        raise fail(f"blocked for vendor {vendor!r}: the text holds {', '.join(data['blocked_by'])}")


@pii_app.command("restore")
@handle_errors
def restore(
    text: str = typer.Argument(None, help="the vendor's answer (or --file)"),
    file: Path = typer.Option(None, exists=True, dir_okay=False, help="read the answer from a file"),
    scope: str = typer.Option("", help="the scope the text was guarded with"),
) -> None:
    """Put the original values back into a vendor's answer."""
    with client() as c:
        typer.echo(c.restore(_text(text, file), scope=scope))


policy_app = typer.Typer(help="Per-vendor egress policies.", no_args_is_help=True)
pii_app.add_typer(policy_app, name="policy")


@policy_app.command("set")
@handle_errors
def policy_set(
    vendor: str,
    entity: list[str] = typer.Option(None, "--entity", help="ENTITY=ACTION (repeat), e.g. EMAIL_ADDRESS=pseudonymise"),
    default: str = typer.Option(
        "redact", help="action for other detected types: block, redact, mask, hash, pseudonymise or allow"
    ),
    threshold: float = typer.Option(None, min=0.0, max=1.0),
    on_undetectable: str = typer.Option("warn", help="warn or block when a protected type cannot be looked for"),
    ttl_seconds: int = typer.Option(3600, help="how long pseudonyms can be restored"),
    as_json: bool = JsonOpt,
) -> None:
    """Create or replace a vendor's egress policy."""
    entities = {}
    for pair in entity or []:
        name, sep, action = pair.partition("=")
        if not sep:
            raise fail(f"--entity {pair!r}: write ENTITY=ACTION, e.g. EMAIL_ADDRESS=pseudonymise", 2)
        entities[name.strip()] = action.strip()
    body = {"entities": entities, "default": default, "threshold": threshold, "on_undetectable": on_undetectable,
            "ttl_seconds": ttl_seconds}  # fmt: skip
    with client() as c:
        current = {p["vendor"]: p for p in c.get("/api/v1/pii/policies")}
        if vendor in current:
            body["version"] = current[vendor]["version"]
        data = c.request("PUT", f"/api/v1/pii/policies/{vendor}", json=body)
    if as_json:
        print_json(data)
    else:
        typer.echo(f"egress policy for {vendor} v{data['version']}: default {data['default']}, {data['entities']}")


@policy_app.command("list")
@handle_errors
def policy_list(as_json: bool = JsonOpt) -> None:
    """Every vendor's egress policy."""
    with client() as c:
        output(c.get("/api/v1/pii/policies"), ("vendor", "default", "entities", "ttl_seconds", "version"), as_json)
