"""JSON Lines export of the ledger, and its offline verification (no database needed).

Line 1, the header: format, version, how the hash is computed, the public keys, and `head` — a checkpoint
over (size, head hash) signed at export time, so a file cut short is caught. Then one line per entry: the
canonical JSON of all its fields plus `hash` and `prev_hash`. Then one line per stored checkpoint:
`{"checkpoint": {...}}`.

Offline verification re-walks the entry lines exactly as the database verifier walks rows. Each entry line
is canonical JSON, so the hashed text is the line without its `"hash":…,"prev_hash":…` pair; a line not in
that form is parsed and re-encoded (`rules.entry_hash`) before any problem is reported.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from charter.kit.clock import isoformat
from charter.ledger.checks import (
    EXTERNAL,
    Checkpoint,
    CheckpointBook,
    Problem,
    VerifyResult,
    beyond_problem,
    edit_problem,
    gap_problem,
    link_problem,
    signature_problem,
)
from charter.ledger.rules import FIELDS, GENESIS_HASH, canonical, checkpoint_message, entry_hash
from charter.ledger.stream import entry_rows
from charter.ledger.strict_json import StrictJSONError, loads_strict
from charter.ledger.verify import head_row, readable_values, stored_checkpoints

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy.orm import Session

    from charter.ledger.signing import Signer

FORMAT = "charter-ledger-export"
VERSION = 1
HASH_RULE = "hash = sha256(prev_hash || canonical JSON of the entry fields); canonical = sorted keys, no spaces, UTF-8"
CHECKPOINT_PREFIX = '{"checkpoint":'
HEADER = "the export header's signed head"
# In a canonical entry line, "hash" and "prev_hash" sit between "entity_type" and "reason"; no value after
# them can hold an unescaped quote, so the last ',"hash":"' is the pair's start.
_PAIR = re.compile(r',"hash":"([0-9a-f]{64})","prev_hash":"([0-9a-f]{64})"')
_PAIR_LEN = len(',"hash":"","prev_hash":""') + 128


@dataclass
class ExportSummary:
    entries: int = 0
    checkpoints: int = 0
    size: int = 0
    head_hash: str = GENESIS_HASH


def _entry_line(prev_hash: Any, digest: Any, text: str) -> str:
    """The entry's canonical text with "hash" and "prev_hash" put in their sorted place (before "reason")."""
    cut = text.rfind(',"reason":')
    return f'{text[:cut]},"hash":{canonical(digest)},"prev_hash":{canonical(prev_hash)}{text[cut:]}'


def export_lines(
    session: Session, signer: Signer, now: datetime, summary: ExportSummary | None = None
) -> Iterator[str]:
    """The export, line by line (each ends with a newline). Tampered rows are exported as they are stored."""
    summary = summary if summary is not None else ExportSummary()
    conn = session.connection()
    head_seq, head_hash, max_seq = head_row(conn)
    size = max(head_seq or 0, max_seq)
    summary.size, summary.head_hash = head_seq or 0, head_hash or GENESIS_HASH
    # A checkpoint beyond the exported head is kept only while the head has not reached it: then it is
    # evidence of a truncated tail, not one made by an append that ran after the head was read.
    stored = stored_checkpoints(conn)
    now_seq = head_row(conn)[0] or 0
    stored = [(label, cp) for label, cp in stored if cp.size <= size or cp.size > now_seq]
    keys = {signer.key_id: signer.public_key} | {cp.key_id: cp.public_key for _, cp in stored}
    head = Checkpoint(
        summary.size,
        summary.head_hash,
        isoformat(now),
        signer.key_id,
        signer.public_key,
        signer.sign(checkpoint_message(summary.size, summary.head_hash)),
    )
    header = {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": isoformat(now),
        "hash": HASH_RULE,
        "fields": list(FIELDS),
        "head": head.to_dict(),
        "public_keys": [{"key_id": k, "public_key": v} for k, v in sorted(keys.items())],
    }
    yield canonical(header) + "\n"
    for rows in entry_rows(conn, size, 5000):
        for seq, prev_hash, digest, text in rows:
            if text is None:  # not in the form append writes: export the values as the application reads them
                text = canonical(readable_values(conn, seq))
            yield _entry_line(prev_hash, digest, text) + "\n"
            summary.entries += 1
    for _, cp in stored:
        yield canonical({"checkpoint": cp.to_dict()}) + "\n"
        summary.checkpoints += 1


def write_export(session: Session, signer: Signer, now: datetime, out: TextIO) -> ExportSummary:
    summary = ExportSummary()
    for line in export_lines(session, signer, now, summary):
        out.write(line)
    return summary


# ---- offline verification ----------------------------------------------------------------------------------


def _header(line: str, path: Path) -> tuple[Checkpoint, list[str]]:
    try:
        header = json.loads(line)
    except ValueError:
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ValueError(f"{path} is not a Charter ledger export (its first line is not an export header)")
    if header.get("version") != VERSION:
        raise ValueError(f"{path}: export format version {header.get('version')!r} is not supported (only {VERSION})")
    head = Checkpoint.from_dict(header.get("head"), f"{path}: the header's head")
    keys = header.get("public_keys")
    keys = keys if isinstance(keys, list) else []
    key_ids = sorted(k["key_id"] for k in keys if isinstance(k, dict) and isinstance(k.get("key_id"), str))
    return head, key_ids


def _file_checkpoints(path: Path) -> list[tuple[str, Checkpoint]]:
    found = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if line.startswith(CHECKPOINT_PREFIX):
                try:
                    data = json.loads(line)["checkpoint"]
                except (ValueError, KeyError, TypeError):
                    data = None
                found.append((f"the checkpoint on line {number}", Checkpoint.from_dict(data, f"{path} line {number}")))
    return found


def _parse_entry(line: str, seq: int) -> dict[str, Any] | Problem:
    """The entry on a line, read strictly (duplicate keys, NaN, bad numbers are refused), or the problem."""
    try:
        data = loads_strict(line, where=f"entry {seq}")
    except StrictJSONError as exc:
        if exc.kind == "syntax":
            return Problem(seq, "malformed_entry", f"entry {seq}: its line is not a ledger entry ({exc})")
        return Problem(seq, "hash_mismatch", f"{exc}: not the text that was hashed, the entry was edited")
    if not isinstance(data, dict) or any(k not in data for k in (*FIELDS, "hash", "prev_hash")):
        return Problem(seq, "malformed_entry", f"entry {seq}: its line is not a ledger entry")
    return data


def _canonical_problem(line: str, data: dict[str, Any], seq: int) -> Problem | None:
    """A line must be the canonical text of what it holds: any other spelling is an edit."""
    if canonical(data) == line:
        return None
    return Problem(
        seq,
        "hash_mismatch",
        f"entry {seq}: its line is not canonical JSON (sorted keys, no whitespace, UTF-8 without \\u escapes): "
        "not the text that was exported, the entry was edited",
    )


def verify_export(path: Path, external: Checkpoint | None = None) -> VerifyResult:
    """Verify an export file on its own: the chain, the signed header and every checkpoint in it."""
    started = time.perf_counter()
    with path.open(encoding="utf-8") as fh:
        first = fh.readline()
    head, key_ids = _header(first, path)
    book = CheckpointBook([(HEADER, head), *_file_checkpoints(path)], external)

    def result(problem: Problem | None, checked: int) -> VerifyResult:
        return VerifyResult(
            ok=problem is None,
            source="file",
            size=head.size,
            head_hash=head.head_hash,
            entries_checked=checked,
            checkpoints_checked=book.checked,
            seconds=time.perf_counter() - started,
            problem=problem,
            external_checkpoint=external,
            key_ids=sorted(set(key_ids) | set(book.key_ids)),
        )

    if external is not None and (problem := signature_problem(EXTERNAL, external)) is not None:
        return result(problem, 0)
    if (problem := book.check(0, GENESIS_HASH)) is not None:
        return result(problem, 0)

    sha256 = hashlib.sha256
    match = _PAIR.match
    prev = GENESIS_HASH
    expected = 1
    at = book.at
    with path.open(encoding="utf-8") as fh:
        fh.readline()
        for line in fh:
            if line.startswith(CHECKPOINT_PREFIX):
                break
            line = line.rstrip("\n")
            cut = line.rfind(',"hash":"')
            pair = match(line, cut) if cut > 0 else None
            if pair is not None:
                body = line[:cut] + line[cut + _PAIR_LEN :]
                at_seq = body.rfind(',"seq":') + 7
                seq_text = body[at_seq : body.find(",", at_seq)]
                digest, prev_hash = pair.group(1), pair.group(2)
                fast = (
                    seq_text == str(expected)
                    and prev_hash == prev
                    and sha256((prev + body).encode()).hexdigest() == digest
                )
            else:
                fast = False
            if not fast:
                data = _parse_entry(line, expected)
                if isinstance(data, Problem):
                    return result(data, expected - 1)
                seq, digest = data["seq"], data["hash"]
                if seq != expected:
                    return result(gap_problem(expected, seq), expected - 1)
                if data["prev_hash"] != prev:
                    return result(link_problem(seq), expected - 1)
                if (problem := _canonical_problem(line, data, seq)) is not None:
                    return result(problem, expected - 1)
                try:
                    same = entry_hash(prev, data) == digest
                except (TypeError, ValueError):
                    same = False
                if not same:
                    return result(edit_problem(seq), expected - 1)
            prev = digest
            if expected in at and (problem := book.check(expected, digest)) is not None:
                return result(problem, expected)
            expected += 1

    last = expected - 1
    if last < head.size:
        return result(
            Problem(
                last + 1,
                "head_mismatch",
                f"the export header signed {head.size} entries but the file ends at entry {last}: "
                f"entries {last + 1}..{head.size} were removed from it (truncated)",
            ),
            last,
        )
    if last > head.size:
        return result(
            Problem(
                head.size + 1,
                "head_mismatch",
                f"entries {head.size + 1}..{last} lie beyond the head the export header signed (added)",
            ),
            last,
        )
    for label, cp in book.beyond(last):
        return result(beyond_problem(label, cp, last, "the export"), last)
    return result(None, last)
