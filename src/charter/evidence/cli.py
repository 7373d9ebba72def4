"""`charter evidence ...`: upload files or add links as evidence, attach them to run items, download."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from charter.kit.cli import JsonOpt, client, fail, handle_errors, output

app = typer.Typer(
    help="Evidence: files (stored by SHA-256) and links, attached to procedure run items.", no_args_is_help=True
)
COLUMNS = ("id", "kind", "title", "media_type", "size_bytes", "sha256", "url", "added_by", "expires_at", "expired")


@app.command("add")
@handle_errors
def add(
    file: Path = typer.Argument(None, help="the file to upload (or use --url)", exists=True, dir_okay=False),
    url: str = typer.Option(None, help="add a link instead of a file"),
    title: str = typer.Option(None, help="default: the file name"),
    description: str = typer.Option(""),
    expires: str = typer.Option(None, help="expiry (ISO 8601); after it, items it backs need review"),
    run: int = typer.Option(None, "--run", help="attach to this run's item (with --item)"),
    item: str = typer.Option(None, "--item", help="the item id within the run"),
    as_json: bool = JsonOpt,
) -> None:
    """Add evidence: `charter evidence add report.pdf --run 3 --item bias-tested` or `--url https://...`."""
    if (file is None) == (url is None):
        raise fail("give a FILE or --url (one of them)", 2)
    if (run is None) != (item is None):
        raise fail("give --run and --item together to attach the evidence", 2)
    with client() as c:
        if url is not None:
            body: dict[str, Any] = {
                "url": url,
                "title": title or url,
                "description": description,
                "expires_at": expires,
                "run_id": run,
                "item_id": item,
            }
            data = c.post("/api/v1/evidence/links", {k: v for k, v in body.items() if v is not None})
        else:
            form = {"title": title, "description": description, "expires_at": expires, "run_id": run, "item_id": item}
            with file.open("rb") as fh:
                data = c.request(
                    "POST",
                    "/api/v1/evidence",
                    files={"file": (file.name, fh, "application/octet-stream")},
                    data={k: str(v) for k, v in form.items() if v is not None},
                )
    output(data, COLUMNS, as_json)


@app.command("list")
@handle_errors
def list_(
    expired: bool = typer.Option(None, "--expired/--valid", help="only expired / only valid"), as_json: bool = JsonOpt
) -> None:
    """List evidence, newest first."""
    with client() as c:
        rows = c.paginate("/api/v1/evidence", expired=expired, limit=200)
    output(rows, COLUMNS, as_json)


@app.command("show")
@handle_errors
def show(evidence_id: int, as_json: bool = JsonOpt) -> None:
    """Show one piece of evidence."""
    with client() as c:
        output(c.get(f"/api/v1/evidence/{evidence_id}"), COLUMNS, as_json)


@app.command("download")
@handle_errors
def download(
    evidence_id: int, out: Path = typer.Option(None, "-o", "--out", help="default: the original name")
) -> None:
    """Download an evidence file and check its SHA-256."""
    import hashlib

    with client() as c:
        meta = c.get(f"/api/v1/evidence/{evidence_id}")
        content = c.request("GET", f"/api/v1/evidence/{evidence_id}/content")
    if hashlib.sha256(content).hexdigest() != meta["sha256"]:
        raise fail(f"downloaded content does not match sha256 {meta['sha256']}")
    target = out or Path(meta["filename"] or f"evidence-{evidence_id}")
    target.write_bytes(content)
    typer.echo(f"saved {target} ({len(content)} bytes, sha256 {meta['sha256']} verified)")
