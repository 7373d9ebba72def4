"""Signed tree heads of the ledger's Merkle tree, and the JSON an auditor keeps and verifies offline.

A signed tree head (STH) is an Ed25519 signature over this message (ASCII, lines joined by "\\n", no trailing
newline):

    charter-ledger-tree-head/v1
    {tree_size}                      decimal, no sign or leading zeros
    {root_hash}                      64 lowercase hex: MTH of entries 1..tree_size (merkle.py)
    {timestamp}                      UTC, YYYY-MM-DDTHH:MM:SS.ffffffZ (the ledger's time format)

Everything in the message is signed, the time included. The signing key is injected as `sign(message) -> 64-byte
signature`; verifying needs only the raw 32-byte public key. `key_id` is the first 16 hex characters of SHA-256 of
the raw public key (as for the ledger's checkpoints).

The rule that protects the tail: a new head is issued (`issue_tree_head`) only after a consistency proof from the
previous signed head verifies, so nothing the previous head covered can be rewritten, cut or reordered without the
key; with `appended`, also only if the tree grew by exactly what the caller appended itself.

JSON forms (field names stable, hashes and signatures as lowercase hex; each has a "format" naming its version):

    {"format": "charter-ledger-tree-head/v1", "tree_size": 1000, "root_hash": "…", "timestamp": "…Z",
     "key_id": "…", "signature": "…"}
    {"format": "charter-ledger-inclusion-proof/v1", "seq": 42, "leaf_index": 41, "tree_size": 1000,
     "entry_hash": "…", "path": ["…", …]}
    {"format": "charter-ledger-consistency-proof/v1", "old_size": 900, "new_size": 1000, "path": ["…", …]}
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from charter.ledger.merkle import (
    HASH_SIZE,
    MerkleError,
    MerkleLog,
    ProofError,
    entry_leaf_hash,
    root_from_inclusion,
    verify_consistency,
    verify_inclusion,
)

TREE_HEAD_FORMAT: Final = "charter-ledger-tree-head/v1"
INCLUSION_FORMAT: Final = "charter-ledger-inclusion-proof/v1"
CONSISTENCY_FORMAT: Final = "charter-ledger-consistency-proof/v1"
SIGNATURE_SIZE: Final = 64
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")
_HEX = re.compile(r"[0-9a-f]*")

Sign = Callable[[bytes], bytes]


class TreeHeadError(ValueError):
    """A tree head, or a proof between heads, that is malformed, badly signed, or not allowed."""


# ---- the message -------------------------------------------------------------------------------------------


def timestamp_text(moment: datetime) -> str:
    """A timezone-aware time as the signed text: UTC, microseconds, 'Z'."""
    if moment.tzinfo is None:
        raise TreeHeadError("a tree head's time must be timezone-aware (naive datetimes are ambiguous)")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _check_timestamp(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _TIMESTAMP.fullmatch(value):
        raise TreeHeadError(f"{what}: timestamp must be UTC text like 2026-01-01T09:00:00.000000Z, got {value!r:.60}")
    try:
        datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ")
    except ValueError:
        raise TreeHeadError(f"{what}: timestamp {value!r} is not a real date and time") from None
    return value


def tree_head_message(tree_size: int, root_hash: bytes, timestamp: str) -> bytes:
    """The exact bytes a tree head's signature covers (see the module docstring)."""
    return f"{TREE_HEAD_FORMAT}\n{tree_size}\n{root_hash.hex()}\n{timestamp}".encode("ascii")


def key_id(public_key: bytes) -> str:
    """First 16 hex characters of SHA-256 of the raw public key."""
    return hashlib.sha256(public_key).hexdigest()[:16]


def public_key_from_text(text: str) -> bytes:
    """A raw Ed25519 public key from its text: base64 (as the ledger's checkpoints carry it) or 64 hex."""
    try:
        raw = bytes.fromhex(text) if len(text) == 64 else base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error):
        raw = b""
    if len(raw) != 32:
        raise TreeHeadError("a public key is 32 raw bytes, written as base64 (44 characters) or 64 hex characters")
    return raw


@lru_cache(maxsize=256)
def _signature_valid(public_key: bytes, signature: bytes, message: bytes) -> bool:
    """Ed25519 verification, remembered for these exact bytes (it is deterministic): the head a process has just
    signed and checked is not verified again when it comes back as the previous head of its next commit."""
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


# ---- JSON field checks -------------------------------------------------------------------------------------


def _fields(data: Any, what: str, fmt: str, names: Sequence[str]) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise TreeHeadError(f"{what}: expected a JSON object with {', '.join(names)}")
    if data.get("format") != fmt:
        raise TreeHeadError(f"{what}: format must be {fmt!r}, got {data.get('format')!r:.60}")
    missing = [n for n in names if n not in data]
    if missing:
        raise TreeHeadError(f"{what}: missing {', '.join(missing)} (it has format, {', '.join(names)})")
    unknown = sorted(set(data) - {"format", *names})
    if unknown:
        raise TreeHeadError(f"{what}: unknown field {', '.join(unknown)} ({fmt} has format, {', '.join(names)})")
    return data


def _size(value: Any, what: str, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise TreeHeadError(f"{what}: {name} must be a whole number >= 0, got {value!r:.40}")
    return value


def _hex(value: Any, size: int, what: str, name: str) -> bytes:
    if not isinstance(value, str) or len(value) != 2 * size or not _HEX.fullmatch(value):
        raise TreeHeadError(f"{what}: {name} must be {2 * size} lowercase hex characters, got {value!r:.80}")
    return bytes.fromhex(value)


def _path(value: Any, what: str) -> tuple[bytes, ...]:
    if not isinstance(value, list):
        raise TreeHeadError(f"{what}: path must be a list of 64-hex hashes")
    return tuple(_hex(h, HASH_SIZE, what, f"path[{i}]") for i, h in enumerate(value))


# ---- signed tree heads -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignedTreeHead:
    tree_size: int
    root_hash: bytes
    timestamp: str
    key_id: str
    signature: bytes

    def message(self) -> bytes:
        return tree_head_message(self.tree_size, self.root_hash, self.timestamp)

    def verify(self, public_key: bytes) -> None:
        """Check the signature with this raw public key; TreeHeadError says what is wrong."""
        given = key_id(public_key)
        if given != self.key_id:
            raise TreeHeadError(
                f"the tree head of size {self.tree_size} names key {self.key_id}, the key given is {given}: "
                "verify with the key it names, or it is not a head of this ledger"
            )
        if not _signature_valid(public_key, self.signature, self.message()):
            raise TreeHeadError(
                f"the tree head of size {self.tree_size} has no valid signature by key {self.key_id}: "
                "its size, root hash or time was altered, or someone without the key made it"
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": TREE_HEAD_FORMAT,
            "tree_size": self.tree_size,
            "root_hash": self.root_hash.hex(),
            "timestamp": self.timestamp,
            "key_id": self.key_id,
            "signature": self.signature.hex(),
        }

    @classmethod
    def from_dict(cls, data: Any, what: str = "tree head") -> SignedTreeHead:
        """Read the JSON form, checking every field (the signature is checked by `verify`)."""
        d = _fields(data, what, TREE_HEAD_FORMAT, ("tree_size", "root_hash", "timestamp", "key_id", "signature"))
        kid = d["key_id"]
        if not isinstance(kid, str) or len(kid) != 16 or not _HEX.fullmatch(kid):
            raise TreeHeadError(f"{what}: key_id must be 16 lowercase hex characters, got {kid!r:.40}")
        return cls(
            _size(d["tree_size"], what, "tree_size"),
            _hex(d["root_hash"], HASH_SIZE, what, "root_hash"),
            _check_timestamp(d["timestamp"], what),
            kid,
            _hex(d["signature"], SIGNATURE_SIZE, what, "signature"),
        )


def sign_tree_head(
    tree_size: int, root_hash: bytes, timestamp: str, *, sign: Sign, public_key: bytes
) -> SignedTreeHead:
    """Sign (tree_size, root_hash, timestamp); refuses a signature that `public_key` does not verify."""
    _size(tree_size, "tree head", "tree_size")
    if len(root_hash) != HASH_SIZE:
        raise TreeHeadError(f"tree head: root_hash must be {HASH_SIZE} bytes, got {len(root_hash)}")
    _check_timestamp(timestamp, "tree head")
    signature = sign(tree_head_message(tree_size, root_hash, timestamp))
    head = SignedTreeHead(tree_size, root_hash, timestamp, key_id(public_key), bytes(signature))
    try:
        head.verify(public_key)
    except TreeHeadError:
        raise TreeHeadError(
            f"the signing key did not produce a signature that public key {head.key_id} verifies: "
            "the signer and the published public key are not a pair"
        ) from None
    return head


def issue_tree_head(
    previous: SignedTreeHead | None,
    tree_size: int,
    root_hash: bytes,
    proof: Sequence[bytes],
    timestamp: str,
    *,
    sign: Sign,
    public_key: bytes,
    appended: int | None = None,
    previous_public_key: bytes | None = None,
) -> SignedTreeHead:
    """Sign a new head, but only if `proof` shows it extends the previous signed head.

    previous: the newest signed head (None only when the ledger has never had one: the caller must treat a missing
    head over a non-empty ledger that had heads before as tampering). proof: PROOF(previous.tree_size, D[tree_size]).
    appended: when given, the number of leaves the caller appended since `previous`; the tree must have grown by
    exactly that (entries appended behind the service's back are refused). previous_public_key: the key the
    previous head was signed with, when the key was rotated since (defaults to public_key).
    """
    if previous is None:
        if proof:
            raise TreeHeadError("the first tree head has no previous head, so its consistency proof must be empty")
        if appended is not None and appended != tree_size:
            raise TreeHeadError(f"the first tree head covers {tree_size} leaves, but {appended} were appended")
        return sign_tree_head(tree_size, root_hash, timestamp, sign=sign, public_key=public_key)
    previous.verify(public_key if previous_public_key is None else previous_public_key)
    if tree_size < previous.tree_size:
        raise TreeHeadError(
            f"refusing to sign a tree of {tree_size} leaves after a signed head of {previous.tree_size}: "
            f"leaves {tree_size + 1}..{previous.tree_size} are gone (truncated)"
        )
    if appended is not None and tree_size != previous.tree_size + appended:
        raise TreeHeadError(
            f"refusing to sign a tree of {tree_size} leaves: the previous signed head has {previous.tree_size} and "
            f"{appended} were appended since, so {previous.tree_size + appended} were expected "
            f"({tree_size - previous.tree_size - appended:+d}: leaves were added or removed outside the service)"
        )
    try:
        verify_consistency(previous.tree_size, tree_size, previous.root_hash, root_hash, proof)
    except ProofError as exc:
        raise TreeHeadError(
            f"refusing to sign: the tree is not an extension of the previous signed head: {exc}"
        ) from exc
    return sign_tree_head(tree_size, root_hash, timestamp, sign=sign, public_key=public_key)


# ---- proofs an auditor keeps -------------------------------------------------------------------------------


@dataclass(frozen=True)
class InclusionProof:
    """Entry `seq` (leaf seq - 1), whose chain hash is `entry_hash`, is in the tree of `tree_size` leaves."""

    seq: int
    tree_size: int
    entry_hash: str
    path: tuple[bytes, ...]

    @property
    def leaf_index(self) -> int:
        return self.seq - 1

    def root(self) -> bytes:
        """The root this proof leads to (ProofError if its shape is wrong)."""
        return root_from_inclusion(entry_leaf_hash(self.entry_hash), self.leaf_index, self.tree_size, self.path)

    def verify(self, head: SignedTreeHead, public_key: bytes) -> None:
        """Check the head's signature, then that this entry is in the tree it signs; TreeHeadError if not."""
        head.verify(public_key)
        if head.tree_size != self.tree_size:
            raise TreeHeadError(
                f"the inclusion proof is for a tree of {self.tree_size} leaves, the head signs {head.tree_size}: "
                "ask for a proof against this head's size"
            )
        try:
            verify_inclusion(
                entry_leaf_hash(self.entry_hash), self.leaf_index, self.tree_size, self.path, head.root_hash
            )
        except MerkleError as exc:
            raise TreeHeadError(
                f"entry {self.seq} is not proven in the signed tree of {head.tree_size}: {exc}"
            ) from exc

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": INCLUSION_FORMAT,
            "seq": self.seq,
            "leaf_index": self.leaf_index,
            "tree_size": self.tree_size,
            "entry_hash": self.entry_hash,
            "path": [p.hex() for p in self.path],
        }

    @classmethod
    def from_dict(cls, data: Any, what: str = "inclusion proof") -> InclusionProof:
        d = _fields(data, what, INCLUSION_FORMAT, ("seq", "leaf_index", "tree_size", "entry_hash", "path"))
        seq, size = _size(d["seq"], what, "seq"), _size(d["tree_size"], what, "tree_size")
        if _size(d["leaf_index"], what, "leaf_index") != seq - 1:
            raise TreeHeadError(f"{what}: leaf_index must be seq - 1 = {seq - 1}, got {d['leaf_index']}")
        if not 1 <= seq <= size:
            raise TreeHeadError(f"{what}: seq {seq} is not in a tree of {size} entries (allowed: 1..{size})")
        entry_hash = _hex(d["entry_hash"], HASH_SIZE, what, "entry_hash").hex()
        return cls(seq, size, entry_hash, _path(d["path"], what))


@dataclass(frozen=True)
class ConsistencyProof:
    """The tree of `new_size` leaves extends the tree of `old_size` leaves."""

    old_size: int
    new_size: int
    path: tuple[bytes, ...]

    def verify(
        self, old: SignedTreeHead, new: SignedTreeHead, public_key: bytes, *, old_public_key: bytes | None = None
    ) -> None:
        """Check both heads' signatures and that `new` extends `old`; TreeHeadError if not."""
        verify_head_consistency(old, new, self, public_key, old_public_key=old_public_key)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": CONSISTENCY_FORMAT,
            "old_size": self.old_size,
            "new_size": self.new_size,
            "path": [p.hex() for p in self.path],
        }

    @classmethod
    def from_dict(cls, data: Any, what: str = "consistency proof") -> ConsistencyProof:
        d = _fields(data, what, CONSISTENCY_FORMAT, ("old_size", "new_size", "path"))
        old, new = _size(d["old_size"], what, "old_size"), _size(d["new_size"], what, "new_size")
        if old > new:
            raise TreeHeadError(f"{what}: old_size {old} is larger than new_size {new}")
        return cls(old, new, _path(d["path"], what))


def verify_head_consistency(
    old: SignedTreeHead,
    new: SignedTreeHead,
    proof: ConsistencyProof,
    public_key: bytes,
    *,
    old_public_key: bytes | None = None,
) -> None:
    """An auditor's check of two signed heads: both signatures, then the consistency proof between them."""
    old.verify(public_key if old_public_key is None else old_public_key)
    new.verify(public_key)
    if (proof.old_size, proof.new_size) != (old.tree_size, new.tree_size):
        raise TreeHeadError(
            f"the consistency proof goes from {proof.old_size} to {proof.new_size} leaves, the heads have "
            f"{old.tree_size} and {new.tree_size}: ask for a proof between these two heads"
        )
    try:
        verify_consistency(old.tree_size, new.tree_size, old.root_hash, new.root_hash, proof.path)
    except ProofError as exc:
        raise TreeHeadError(f"the signed heads of {old.tree_size} and {new.tree_size} are inconsistent: {exc}") from exc


def prove_inclusion(log: MerkleLog, seq: int, entry_hash: str, tree_size: int | None = None) -> InclusionProof:
    """The inclusion proof of entry `seq` (chain hash `entry_hash`) in the tree of `tree_size` (default: now).

    Refuses if the tree's stored leaf is not this entry's hash: the entries and the tree disagree.
    """
    size = log.size if tree_size is None else tree_size
    if not 1 <= seq <= size:
        raise TreeHeadError(f"entry {seq} is not in a tree of {size} entries (allowed: 1..{size})")
    try:
        if log.leaf_hash_at(seq - 1) != entry_leaf_hash(entry_hash):
            raise TreeHeadError(
                f"entry {seq}'s chain hash is not the leaf the tree holds for it: the entry or the tree was altered"
            )
        return InclusionProof(seq, size, entry_hash, tuple(log.inclusion_proof(seq - 1, size)))
    except MerkleError as exc:
        raise TreeHeadError(str(exc)) from exc


def prove_consistency(log: MerkleLog, old_size: int, new_size: int | None = None) -> ConsistencyProof:
    size = log.size if new_size is None else new_size
    try:
        return ConsistencyProof(old_size, size, tuple(log.consistency_proof(old_size, size)))
    except MerkleError as exc:
        raise TreeHeadError(str(exc)) from exc
