"""Evidence packs: a zip an auditor takes away and verifies offline with only the ledger's public key.

Layout (every path is listed, with its SHA-256 and size, in the signed manifest):

    manifest.json           canonical JSON: format, subject, created, key_id, public_key, files[], entries[]
    manifest.sig            base64 Ed25519 signature of manifest.json's bytes by the ledger signing key
    ledger/tree-head.json   the signed tree head (tree_head.py) of the ledger's Merkle tree at packing time
    ledger/entries.jsonl    the ledger entries behind the evidence: canonical JSON, fields + hash + prev_hash
    ledger/proofs.jsonl     one inclusion proof per entry, against that tree head
    …                       the caller's files (coverage.json, evidence/…)

`verify_pack` checks the manifest's signature, every file's hash (a changed, missing or added file is refused),
the tree head's signature, every entry's hash, that the entries are exactly those the manifest lists, and each
entry's inclusion proof. Determinism: the same files, entries and tree head give the same bytes (sorted names,
fixed zip times and attributes; Ed25519 signatures are deterministic).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, Final

from charter.ledger.rules import FIELDS, canonical, entry_hash
from charter.ledger.strict_json import StrictJSONError, loads_strict
from charter.ledger.tree_head import (
    InclusionProof,
    SignedTreeHead,
    TreeHeadError,
    _signature_valid,
    key_id,
    public_key_from_text,
)

PACK_FORMAT: Final = "charter-evidence-pack/v1"
MANIFEST: Final = "manifest.json"
SIGNATURE: Final = "manifest.sig"
TREE_HEAD: Final = "ledger/tree-head.json"
ENTRIES: Final = "ledger/entries.jsonl"
PROOFS: Final = "ledger/proofs.jsonl"
RESERVED: Final = frozenset({MANIFEST, SIGNATURE, TREE_HEAD, ENTRIES, PROOFS})
_ZIP_TIME: Final = (1980, 1, 1, 0, 0, 0)
MAX_PACK_FILES: Final = 100_000

Sign = Callable[[bytes], bytes]


class PackError(ValueError):
    """A pack that cannot be written (bad paths) or read at all."""


@dataclass(frozen=True)
class PackEntry:
    """A ledger entry as it goes into a pack: its fields (time as its hashed text), hash and prev_hash."""

    values: Mapping[str, Any]
    hash: str
    prev_hash: str

    @property
    def seq(self) -> int:
        return int(self.values["seq"])

    def line(self) -> str:
        return canonical({**{k: self.values[k] for k in FIELDS}, "hash": self.hash, "prev_hash": self.prev_hash})


def _check_path(path: str) -> None:
    p = PurePosixPath(path)
    if not path or p.is_absolute() or ".." in p.parts or "\\" in path or path in RESERVED or path.endswith("/"):
        raise PackError(f"'{path}' cannot be a pack file: use a relative path, no '..', not a reserved name")


def _zip(files: Mapping[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            zf.writestr(info, files[name], compresslevel=6)
    return out.getvalue()


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_pack(
    files: Mapping[str, bytes],
    entries: Sequence[PackEntry],
    proofs: Sequence[InclusionProof],
    head: SignedTreeHead,
    subject: Mapping[str, Any],
    *,
    sign: Sign,
    public_key: bytes,
) -> bytes:
    """The pack's bytes. `entries` and `proofs` in the same order (by seq); `files` are the caller's own."""
    for path in files:
        _check_path(path)
    if [e.seq for e in entries] != [p.seq for p in proofs]:
        raise PackError("every entry needs its inclusion proof, in the same order")
    content: dict[str, bytes] = dict(files)
    content[TREE_HEAD] = (canonical(head.to_dict()) + "\n").encode()
    content[ENTRIES] = "".join(e.line() + "\n" for e in entries).encode()
    content[PROOFS] = "".join(canonical(p.to_dict()) + "\n" for p in proofs).encode()
    manifest = {
        "format": PACK_FORMAT,
        "subject": dict(subject),
        "created": head.timestamp,
        "key_id": key_id(public_key),
        "public_key": base64.b64encode(public_key).decode(),
        "files": [{"path": p, "sha256": _digest(content[p]), "size": len(content[p])} for p in sorted(content)],
        "entries": [e.seq for e in entries],
    }
    manifest_bytes = (canonical(manifest) + "\n").encode()
    content[MANIFEST] = manifest_bytes
    content[SIGNATURE] = base64.b64encode(sign(manifest_bytes)) + b"\n"
    return _zip(content)


# ---- offline verification ----------------------------------------------------------------------------------


@dataclass
class PackResult:
    ok: bool = True
    key_id: str | None = None
    pinned: bool = False
    subject: dict[str, Any] = field(default_factory=dict)
    files: int = 0
    entries: int = 0
    tree_size: int | None = None
    problems: list[str] = field(default_factory=list)

    def refuse(self, message: str) -> None:
        self.ok = False
        self.problems.append(message)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok, "key_id": self.key_id, "pinned": self.pinned, "subject": self.subject,
            "files": self.files, "entries": self.entries, "tree_size": self.tree_size, "problems": self.problems,
        }  # fmt: skip


def _read_zip(data: bytes) -> dict[str, bytes]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = zf.namelist()
            if len(names) > MAX_PACK_FILES:
                raise PackError(f"more than {MAX_PACK_FILES} files: not a pack Charter wrote")
            if len(set(names)) != len(names):
                dupes = sorted({n for n in names if names.count(n) > 1})
                raise PackError(f"the zip holds some names twice ({', '.join(dupes)}): refused")
            return {name: zf.read(name) for name in names if not name.endswith("/")}
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
        raise PackError(f"not a readable zip file: {exc}") from None


def _manifest(
    files: dict[str, bytes], result: PackResult, public_key: bytes | None
) -> tuple[dict[str, Any], bytes] | None:
    if MANIFEST not in files or SIGNATURE not in files:
        result.refuse(f"{MANIFEST} or {SIGNATURE} is missing: not a Charter evidence pack, or it was cut")
        return None
    try:
        manifest = loads_strict(files[MANIFEST], where=MANIFEST)
    except StrictJSONError as exc:
        result.refuse(str(exc))
        return None
    if not isinstance(manifest, dict) or manifest.get("format") != PACK_FORMAT:
        result.refuse(f"{MANIFEST} is not a {PACK_FORMAT} manifest")
        return None
    try:
        embedded = public_key_from_text(str(manifest.get("public_key", "")))
    except TreeHeadError as exc:
        result.refuse(f"{MANIFEST}: public_key: {exc}")
        return None
    key = public_key if public_key is not None else embedded
    result.key_id, result.pinned = key_id(key), public_key is not None
    if public_key is not None and embedded != public_key:
        result.refuse(f"the pack names key {key_id(embedded)}, the key given is {key_id(public_key)}: not signed by it")
    try:
        signature = base64.b64decode(files[SIGNATURE].strip(), validate=True)
    except (ValueError, binascii.Error):
        signature = b""
    if not _signature_valid(key, signature, files[MANIFEST]):
        result.refuse(f"{MANIFEST} has no valid signature by key {key_id(key)}: the manifest was altered or re-signed")
    subject = manifest.get("subject")
    result.subject = subject if isinstance(subject, dict) else {}
    return manifest, key


def _files(files: dict[str, bytes], manifest: dict[str, Any], result: PackResult) -> None:
    listed: dict[str, Any] = {}
    for row in manifest.get("files") or []:
        if isinstance(row, dict) and isinstance(row.get("path"), str):
            listed[row["path"]] = row
    for path in sorted(listed):
        row = listed[path]
        if path not in files:
            result.refuse(f"{path} is listed in the manifest but missing from the pack")
        elif _digest(files[path]) != row.get("sha256") or len(files[path]) != row.get("size"):
            result.refuse(f"{path} was altered: its SHA-256 is not the one the manifest signs")
    for path in sorted(set(files) - set(listed) - {MANIFEST, SIGNATURE}):
        result.refuse(f"{path} is not in the manifest: a file was added to the pack")
    result.files = len(listed)


def _entries(files: dict[str, bytes], result: PackResult) -> dict[int, dict[str, Any]]:
    found: dict[int, dict[str, Any]] = {}
    for n, line in enumerate(files.get(ENTRIES, b"").decode("utf-8", "replace").splitlines(), start=1):
        try:
            entry = loads_strict(line, where=f"{ENTRIES} line {n}")
            seq = int(entry["seq"])
            expected = entry_hash(str(entry["prev_hash"]), entry)
        except (StrictJSONError, KeyError, TypeError, ValueError) as exc:
            result.refuse(f"{ENTRIES} line {n} is not a ledger entry: {exc}")
            continue
        if seq in found:
            result.refuse(f"{ENTRIES} line {n}: entry {seq} appears twice")
        if expected != entry.get("hash"):
            result.refuse(f"ledger entry {seq} was altered: its content does not match its hash")
        found[seq] = entry
    return found


def _proofs(files: dict[str, bytes], entries: dict[int, dict[str, Any]], head: SignedTreeHead, key: bytes,
            result: PackResult) -> None:  # fmt: skip
    proven: set[int] = set()
    for n, line in enumerate(files.get(PROOFS, b"").decode("utf-8", "replace").splitlines(), start=1):
        try:
            proof = InclusionProof.from_dict(loads_strict(line, where=f"{PROOFS} line {n}"), f"{PROOFS} line {n}")
        except (StrictJSONError, TreeHeadError) as exc:
            result.refuse(str(exc))
            continue
        entry = entries.get(proof.seq)
        if entry is None:
            continue  # reported by the manifest comparison
        if proof.entry_hash != entry.get("hash"):
            result.refuse(f"ledger entry {proof.seq}: its proof is for another entry hash")
            continue
        try:
            proof.verify(head, key)
        except TreeHeadError as exc:
            result.refuse(f"ledger entry {proof.seq}: {exc}")
            continue
        proven.add(proof.seq)
    for seq in sorted(set(entries) - proven):
        result.refuse(f"ledger entry {seq} has no valid inclusion proof in the signed tree head")


def verify_pack(data: bytes, public_key: str | None = None) -> PackResult:
    """Verify a pack offline. public_key: the ledger's public key (base64 or hex); without it the key named in
    the pack is used, which proves integrity but not origin (`pinned` is False)."""
    result = PackResult()
    try:
        files = _read_zip(data)
    except PackError as exc:
        result.refuse(str(exc))
        return result
    try:
        pinned = public_key_from_text(public_key.strip()) if public_key is not None else None
    except TreeHeadError as exc:
        result.refuse(f"the public key given is not usable: {exc}")
        return result
    found = _manifest(files, result, pinned)
    if found is None:
        return result
    manifest, key = found
    _files(files, manifest, result)
    try:
        head = SignedTreeHead.from_dict(loads_strict(files.get(TREE_HEAD, b"{}"), where=TREE_HEAD), TREE_HEAD)
        head.verify(key)
    except (StrictJSONError, TreeHeadError) as exc:
        result.refuse(f"{TREE_HEAD}: {exc}")
        return result
    result.tree_size = head.tree_size
    entries = _entries(files, result)
    listed = [s for s in manifest.get("entries") or [] if isinstance(s, int)]
    for seq in sorted(set(listed) - set(entries)):
        result.refuse(f"ledger entry {seq} is listed in the manifest but missing from {ENTRIES}")
    for seq in sorted(set(entries) - set(listed)):
        result.refuse(f"ledger entry {seq} is not in the manifest: an entry was added")
    result.entries = len(entries)
    _proofs(files, entries, head, key, result)
    return result
