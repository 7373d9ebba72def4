"""Pure ledger rules: canonical form of an entry and its hash. No database here."""

from __future__ import annotations

import hashlib
import json
from typing import Any

GENESIS_HASH = "0" * 64
FIELDS = (
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
    from datetime import date, datetime
    from decimal import Decimal
    from enum import Enum

    from charter.clock import isoformat

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
