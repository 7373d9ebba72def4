"""`charter audit ...`: read, verify, checkpoint and export the ledger.

`log` goes through the API; `verify`, `checkpoint` and `export` work on the local database (like
`charter user`), and `verify --file` needs no database at all.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from charter.kit.cli import JsonOpt, client, handle_errors, output, print_json

if TYPE_CHECKING:
    from charter.ledger.checks import Checkpoint, VerifyResult

app = typer.Typer(help="The tamper-evident audit ledger.", no_args_is_help=True)
COLUMNS = ("seq", "ts", "actor", "action", "entity_type", "entity_id", "reason")


@app.command("log")
@handle_errors
def log(
    entity_type: str = typer.Option(None, "--type", help="entity type, e.g. system"),
    entity_id: str = typer.Option(None, "--id", help="entity id or key"),
    actor: str = typer.Option(None),
    action: str = typer.Option(None, help="action prefix"),
    since: str = typer.Option(None, help="ISO time"),
    limit: int = typer.Option(50),
    as_json: bool = JsonOpt,
) -> None:
    """List ledger entries, newest first."""
    with client() as c:
        page = c.get(
            "/api/v1/audit/entries",
            entity_type=entity_type,
            entity_id=entity_id,
            actor=actor,
            action=action,
            since=since,
            limit=limit,
        )
    output(page["items"], COLUMNS, as_json)


@app.command("verify")
@handle_errors
def verify(
    checkpoint: Path = typer.Option(
        None, "--checkpoint", help="a checkpoint file kept outside the database: catches a rewritten history"
    ),
    file: Path = typer.Option(None, "--file", help="verify this export (JSON Lines) offline, without a database"),
    as_json: bool = JsonOpt,
) -> None:
    """Re-walk the chain and its signatures; print OK or the first broken entry (exit 1)."""
    external = _load_checkpoint(checkpoint) if checkpoint else None
    if file is not None:
        from charter.ledger.export import verify_export

        if not file.is_file():
            raise ValueError(f"no export file at {file}")
        result = verify_export(file, external)
    else:
        from charter.audit.queries import verify_ledger
        from charter.context import local_context
        from charter.kit.db import read_only

        with local_context(commit=False) as ctx:
            read_only(ctx.session)
            result = verify_ledger(ctx, external)
    if as_json:
        print_json(result.to_dict())
    else:
        typer.echo(_summary(result))
    if not result.ok:
        raise typer.Exit(1)


@app.command("checkpoint")
@handle_errors
def checkpoint(
    out: Path = typer.Option(None, "--out", help="write the checkpoint JSON to this file (keep it off this server)"),
) -> None:
    """Sign a checkpoint of the chain now and print the JSON to keep outside the database."""
    import json

    from charter.audit.queries import checkpoint_data
    from charter.audit.service import create_checkpoint
    from charter.context import local_context

    with local_context() as ctx:
        data = checkpoint_data(create_checkpoint(ctx)).to_dict()
    text = json.dumps(data, indent=2) + "\n"
    if out is None:
        typer.echo(text, nl=False)
        return
    out.write_text(text, encoding="utf-8")
    typer.echo(
        f"checkpoint of {data['size']:,} entries (head {data['head_hash'][:16]}…, key {data['key_id']}) "
        f"written to {out}; keep a copy outside this server and check with: charter audit verify --checkpoint {out}"
    )


@app.command("export")
@handle_errors
def export(
    out: Path = typer.Option(..., "--out", help="the JSON Lines file to write"),
) -> None:
    """Export the whole ledger to a JSON Lines file that verifies offline (charter audit verify --file)."""
    from charter.audit.queries import export_ledger
    from charter.context import local_context
    from charter.kit.db import read_only

    with local_context(commit=False) as ctx, out.open("w", encoding="utf-8", newline="\n") as fh:
        read_only(ctx.session)
        summary = export_ledger(ctx, fh)
    typer.echo(
        f"exported {_n(summary.entries, 'entry', 'entries')} and "
        f"{_n(summary.checkpoints, 'checkpoint', 'checkpoints')} "
        f"(head {summary.size}, {summary.head_hash[:16]}…) to {out}"
    )


@app.command("verify-pack")
@handle_errors
def verify_pack(
    pack: Path = typer.Argument(..., help="an evidence pack (charter compliance pack)"),
    public_key: str = typer.Option(
        None, "--public-key", help="the ledger's public key (base64 or hex), or a file holding it or a checkpoint"
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Verify an evidence pack offline: signature, every file, every ledger entry and its inclusion proof."""
    from charter.ledger.pack import verify_pack as verify

    if not pack.is_file():
        raise ValueError(f"no pack file at {pack}")
    result = verify(pack.read_bytes(), _public_key(public_key) if public_key else None)
    if as_json:
        print_json(result.to_dict())
    elif result.ok:
        subject = result.subject
        pinned = "" if result.pinned else " (key not pinned: pass --public-key to check who signed it)"
        typer.echo(
            f"OK: {subject.get('system')} / {subject.get('framework')}: {result.files} files, {result.entries} "
            f"ledger entries proven in a signed tree of {result.tree_size}, key {result.key_id}{pinned}"
        )
    else:
        for problem in result.problems:
            typer.echo(f"FAILED: {problem}", err=True)
    if not result.ok:
        raise typer.Exit(1)


def _public_key(value: str) -> str:
    """The key text itself, or read from a file (raw text, or a checkpoint / tree head JSON with public_key)."""
    import json

    path = Path(value)
    if not path.is_file():
        return value
    text = path.read_text(encoding="utf-8").strip()
    if text.startswith("{"):
        data = json.loads(text)
        if not isinstance(data, dict) or "public_key" not in data:
            raise ValueError(f"{path} holds JSON without a public_key field")
        return str(data["public_key"])
    return text


def _load_checkpoint(path: Path) -> Checkpoint:
    import json

    from charter.ledger.checks import Checkpoint

    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"no checkpoint file at {path}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} is not a JSON checkpoint file ({exc})") from None
    return Checkpoint.from_dict(data, str(path))


def _summary(result: VerifyResult) -> str:
    where = "export file" if result.source == "file" else "ledger"
    if result.problem is None:
        against, own = "", result.checkpoints_checked
        if result.external_checkpoint is not None:
            cp = result.external_checkpoint
            own = max(0, own - 1)  # the verifier counts the external checkpoint among those it checked
            against = f"; external checkpoint at size {cp.size:,} (key {cp.key_id}): matches"
        kept = "signed checkpoint{} in the file" if result.source == "file" else "stored signed checkpoint{}"
        return (
            f"OK: {where} verified: {_n(result.entries_checked, 'entry', 'entries')} and "
            f"{_n(own, kept.format(''), kept.format('s'))}, "
            f"head {result.size} {result.head_hash[:16]}…{against} "
            f"({result.seconds:.2f} s, {result.entries_per_second:,.0f} entries/s)"
        )
    p = result.problem
    at = f"entry {p.seq}" if p.seq is not None else "the head"
    return (
        f"BROKEN: {where} fails at {at} ({p.kind}): {p.detail}. "
        f"{_n(result.entries_checked, 'entry', 'entries')} before it verified."
    )


def _n(count: int, one: str, many: str) -> str:
    return f"{count:,} {one if count == 1 else many}"
