"""What verification checks and reports, without a database: checkpoints, problems, results.

Shared by the database walk (verify.py) and the offline export verifier (export.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from charter.ledger.rules import checkpoint_message
from charter.ledger.signing import key_id_of, verify_signature

HEX = frozenset("0123456789abcdef")
CHECKPOINT_FIELDS = ("size", "head_hash", "created_at", "key_id", "public_key", "signature")


@dataclass(frozen=True)
class Checkpoint:
    """A signed (size, head hash): stored in the database, in an export, or in a file a user keeps."""

    size: int
    head_hash: str
    created_at: str
    key_id: str
    public_key: str
    signature: str

    @classmethod
    def from_dict(cls, data: Any, what: str = "checkpoint") -> Checkpoint:
        """Validate a checkpoint read from JSON; ValueError (one line) says what is wrong."""
        if not isinstance(data, dict):
            raise ValueError(f"{what}: expected a JSON object with {', '.join(CHECKPOINT_FIELDS)}")
        missing = [f for f in CHECKPOINT_FIELDS if f not in data]
        if missing:
            raise ValueError(f"{what}: missing {', '.join(missing)} (a checkpoint has {', '.join(CHECKPOINT_FIELDS)})")
        size = data["size"]
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ValueError(f"{what}: size must be a whole number >= 0")
        head_hash = data["head_hash"]
        if not isinstance(head_hash, str) or len(head_hash) != 64 or not set(head_hash) <= HEX:
            raise ValueError(f"{what}: head_hash must be 64 lowercase hex characters")
        for name in ("created_at", "key_id", "public_key", "signature"):
            if not isinstance(data[name], str) or not data[name]:
                raise ValueError(f"{what}: {name} must be a non-empty string")
        return cls(size, head_hash, data["created_at"], data["key_id"], data["public_key"], data["signature"])

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def signature_valid(self) -> bool:
        """The signature is valid for (size, head_hash) under public_key, and key_id names that key."""
        try:
            if key_id_of(self.public_key) != self.key_id:
                return False
        except ValueError:
            return False
        return verify_signature(self.public_key, checkpoint_message(self.size, self.head_hash), self.signature)


@dataclass(frozen=True)
class Problem:
    seq: int | None
    kind: str
    detail: str


@dataclass
class VerifyResult:
    ok: bool
    source: str
    size: int
    head_hash: str
    entries_checked: int
    checkpoints_checked: int
    seconds: float
    problem: Problem | None = None
    external_checkpoint: Checkpoint | None = None
    key_ids: list[str] = field(default_factory=list)
    slow_entries: int = 0  # entries not stored in the form append writes, so re-read and hashed the slow way

    @property
    def entries_per_second(self) -> float:
        return self.entries_checked / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "source": self.source,
            "size": self.size,
            "head_hash": self.head_hash,
            "entries_checked": self.entries_checked,
            "checkpoints_checked": self.checkpoints_checked,
            "seconds": round(self.seconds, 6),
            "entries_per_second": round(self.entries_per_second),
            "problem": asdict(self.problem) if self.problem else None,
            "external_checkpoint": self.external_checkpoint.to_dict() if self.external_checkpoint else None,
            "key_ids": self.key_ids,
            "slow_entries": self.slow_entries,
        }


EXTERNAL = "the external checkpoint"


class CheckpointBook:
    """The checkpoints to check during a walk, by size. Shared by the database and the export verifier.

    Each comes with a label naming it in problems ("stored checkpoint #3", "the external checkpoint", ...).
    """

    def __init__(self, stored: Iterable[tuple[str, Checkpoint]], external: Checkpoint | None) -> None:
        self.at: dict[int, list[tuple[str, Checkpoint]]] = {}
        for label, cp in stored:
            self.at.setdefault(cp.size, []).append((label, cp))
        if external is not None:
            self.at.setdefault(external.size, []).append((EXTERNAL, external))
        self.checked = 0
        self.key_ids = sorted({cp.key_id for entries in self.at.values() for _, cp in entries})

    def check(self, size: int, chain_hash: str) -> Problem | None:
        """Check every checkpoint of this size: valid signature, and equal to the chain's hash here."""
        for label, cp in self.at.pop(size, ()):
            problem = signature_problem(label, cp) or _hash_problem(label, cp, chain_hash)
            if problem is not None:
                return problem
            self.checked += 1
        return None

    def beyond(self, size: int) -> list[tuple[str, Checkpoint]]:
        """Checkpoints the walk did not reach (larger than the chain it walked)."""
        return [item for s in sorted(self.at) if s > size for item in self.at[s]]


def _kind(label: str, kind: str) -> str:
    return f"external_{kind}" if label == EXTERNAL else kind


def signature_problem(label: str, cp: Checkpoint) -> Problem | None:
    if cp.signature_valid():
        return None
    why = "the file was altered, or it is not a Charter checkpoint" if label == EXTERNAL else "it was altered"
    return Problem(
        cp.size,
        _kind(label, "checkpoint_signature"),
        f"{label} (size {cp.size}) has no valid signature by key {cp.key_id}: {why}",
    )


def _hash_problem(label: str, cp: Checkpoint, chain_hash: str) -> Problem | None:
    if cp.head_hash == chain_hash:
        return None
    what = (
        "this is not the chain it signed: the history up to here was rewritten"
        if label == EXTERNAL
        else "entries up to here were changed and re-hashed"
    )
    return Problem(
        cp.size,
        _kind(label, "checkpoint_mismatch"),
        f"{label} signed head {cp.head_hash[:16]}… at size {cp.size}, the chain has {chain_hash[:16]}… there: {what}",
    )


def beyond_problem(label: str, cp: Checkpoint, chain_size: int, what: str = "the chain") -> Problem:
    return Problem(
        chain_size + 1,
        _kind(label, "checkpoint_mismatch"),
        f"{label} signed {cp.size} entries but {what} has only {chain_size}: "
        f"entries {chain_size + 1}..{cp.size} were removed (truncated tail)",
    )


def gap_problem(expected: int, seq: Any) -> Problem:
    if isinstance(seq, int) and seq > expected:
        missing = f"entry {expected}" if seq == expected + 1 else f"entries {expected}..{seq - 1}"
        return Problem(expected, "seq_gap", f"{missing} missing: the next entry is {seq} (deleted)")
    return Problem(expected, "seq_gap", f"expected entry {expected}, found sequence number {seq!r} (inserted)")


def link_problem(seq: int) -> Problem:
    return Problem(
        seq,
        "prev_hash_mismatch",
        f"entry {seq} does not link to entry {seq - 1} (its prev_hash is not entry {seq - 1}'s hash): "
        "entries were deleted, inserted or reordered here",
    )


def edit_problem(seq: int) -> Problem:
    return Problem(seq, "hash_mismatch", f"entry {seq}'s content does not match its hash: the entry was edited")
