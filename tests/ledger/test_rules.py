"""Pure rules: the hash over canonical JSON, checkpoints' JSON form."""

from __future__ import annotations

import json

import pytest

from charter.ledger.checks import Checkpoint
from charter.ledger.rules import GENESIS_HASH, canonical, entry_hash


def test_hash_covers_every_field_and_the_previous_hash() -> None:
    entry = {
        "seq": 1,
        "ts": "2026-01-01T09:00:00.000000Z",
        "actor": "user:a",
        "action": "x",
        "entity_type": "system",
        "entity_id": "s",
        "before": None,
        "after": {"k": 1},
        "request_id": None,
        "reason": None,
    }
    base = entry_hash(GENESIS_HASH, entry)
    assert entry_hash("1" * 64, entry) != base
    for field, other in [("seq", 2), ("ts", "2026-01-01T09:00:00.000001Z"), ("after", {"k": 2}), ("reason", "")]:
        assert entry_hash(GENESIS_HASH, dict(entry, **{field: other})) != base


def test_checkpoint_json_round_trips_and_bad_files_say_what_is_wrong() -> None:
    cp = Checkpoint(3, "a" * 64, "2026-01-01T09:00:00.000000Z", "k", "p", "s")
    assert Checkpoint.from_dict(json.loads(json.dumps(cp.to_dict()))) == cp
    with pytest.raises(ValueError, match="missing signature"):
        Checkpoint.from_dict({k: v for k, v in cp.to_dict().items() if k != "signature"})
    with pytest.raises(ValueError, match="head_hash must be 64"):
        Checkpoint.from_dict(dict(cp.to_dict(), head_hash="xyz"))
    with pytest.raises(ValueError, match="size must be a whole number"):
        Checkpoint.from_dict(dict(cp.to_dict(), size=-1))
    with pytest.raises(ValueError, match="expected a JSON object"):
        Checkpoint.from_dict([1, 2])
    assert not cp.signature_valid()  # not a real key or signature: invalid, never an exception


def test_canonical_json_sorts_keys_drops_spaces_and_keeps_unicode() -> None:
    assert canonical({"b": [1, 2.5, None], "a": "Système n°1 \n"}) == '{"a":"Système n°1 \\n","b":[1,2.5,null]}'
    with pytest.raises(ValueError):
        canonical(float("nan"))
