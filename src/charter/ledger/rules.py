"""Pure ledger rules: canonical form of an entry, its hash, what a checkpoint signs. No database here.

hash = SHA-256(prev_hash || canonical JSON of the entry's fields), where canonical JSON has sorted keys,
no whitespace, UTF-8 (no ASCII escaping) and no NaN, and the time is the text `clock.isoformat(ts)`.
`entry_hash` is the one definition append and verification agree on (ledger/stream.py has the database
build the same text for speed, and falls back to this whenever that text does not match).
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Final

from charter.kit.clock import isoformat

GENESIS_HASH: Final = "0" * 64
FIELDS: Final = (
    "seq",
    "ts",
    "actor",
    "action",
    "entity_type",
    "entity_id",
    "before",
    "after",
    "request_id",
    "reason",
)

# What a verification problem means, by kind (docs/ledger.md explains each).
PROBLEM_KINDS: Final[dict[str, str]] = {
    "hash_mismatch": "the entry's content does not match its hash: the entry was edited",
    "prev_hash_mismatch": "the entry does not link to the entry before it: entries were deleted, inserted or reordered",
    "seq_gap": "a sequence number is missing or out of place: entries were deleted or inserted",
    "head_mismatch": "the chain head disagrees with the last entry: the tail was truncated or appended to",
    "checkpoint_signature": "a stored checkpoint's signature is not valid",
    "checkpoint_mismatch": "a stored checkpoint does not match the chain at its size",
    "external_checkpoint_signature": "the checkpoint kept outside the database has no valid signature",
    "external_checkpoint_mismatch": "the chain is not the one the external checkpoint signed: history was rewritten",
}

_dumps = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


def canonical(value: Any) -> str:
    """Canonical JSON: sorted keys, no whitespace, UTF-8, no NaN."""
    return _dumps(value)


def entry_hash(prev_hash: str, entry: dict[str, Any]) -> str:
    """hash = SHA-256(prev_hash || canonical JSON of the entry's fields)."""
    body = {k: entry[k] for k in FIELDS}
    return hashlib.sha256((prev_hash + _dumps(body)).encode()).hexdigest()


def checkpoint_message(size: int, head_hash: str) -> bytes:
    """What a checkpoint signs."""
    return f"charter-ledger-checkpoint/v1\n{size}\n{head_hash}".encode()


def to_jsonable(value: Any) -> Any:
    """Make a before/after snapshot JSON-safe and stable (dates as ISO text, sets sorted)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return str(value)
        return value
    if isinstance(value, datetime):
        return isoformat(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return to_jsonable(value.value)
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return sorted(to_jsonable(v) for v in value)
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    return str(value)
