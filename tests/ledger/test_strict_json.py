"""Strict reading of stored ledger JSON (issue 12, finding 5): duplicate keys, NaN/Infinity and non-canonical
text are tampering, refused with what was found and where."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from charter.ledger.rules import GENESIS_HASH, canonical, entry_hash
from charter.ledger.strict_json import StrictJSONError, is_canonical, loads_strict, parse_canonical

AFTER = {"key": "support-bot", "name": "Support bot", "stage": "production", "version": 3}


def test_the_duplicate_stage_edit_of_finding_5_is_refused() -> None:
    stored = canonical(AFTER)
    tampered = stored.replace('{"key"', '{"stage":"EVIL","key"', 1)
    assert tampered.startswith('{"stage":"EVIL","key":"support-bot",') and tampered.endswith(
        '"stage":"production","version":3}'
    )
    # Why it used to pass: a parse-and-re-encode verifier sees the last value, so the entry hash still matches...
    entry = {
        "seq": 1,
        "ts": "2026-01-01T09:00:00.000000Z",
        "actor": "user:a",
        "action": "system.stage.production",
        "entity_type": "system",
        "entity_id": "support-bot",
        "before": None,
        "after": AFTER,
        "request_id": None,
        "reason": None,
    }
    assert entry_hash(GENESIS_HASH, dict(entry, after=json.loads(tampered))) == entry_hash(GENESIS_HASH, entry)
    # ...while strict reading refuses it and names the key.
    with pytest.raises(
        StrictJSONError, match=r"^after: duplicate key 'stage' in the object at line 1, column 1"
    ) as err:
        parse_canonical(tampered, where="after")
    assert err.value.kind == "duplicate_key"
    with pytest.raises(StrictJSONError, match="duplicate key 'stage'"):
        loads_strict(tampered)
    assert parse_canonical(stored) == AFTER


@pytest.mark.parametrize(
    ("text", "kind", "found", "line", "column"),
    [
        ('{"a":{"b":1,"b":2}}', "duplicate_key", "duplicate key 'b'", 1, 6),
        ('[{"k":[1,{"z":0,"z":0}]}]', "duplicate_key", "duplicate key 'z'", 1, 10),
        ('{"a":NaN}', "constant", "NaN is not JSON", 1, 6),
        ("[1,\n2,\nInfinity]", "constant", "Infinity is not JSON", 3, 1),
        ('{"a":[-Infinity]}', "constant", "-Infinity is not JSON", 1, 7),
        ('{"a":1e400}', "number", "number 1e400 is too large", 1, 6),
        ('{"a":1', "syntax", "not JSON: Expecting ',' delimiter", 1, 7),
        ('{"a":1}{"b":2}', "syntax", "not JSON: Extra data", 1, 8),
        ("", "syntax", "not JSON: Expecting value", 1, 1),
        ("\ufeff{}", "syntax", "not JSON: a byte-order mark", 1, 1),
    ],
)
def test_what_strict_reading_refuses_is_named_with_its_place(
    text: str, kind: str, found: str, line: int, column: int
) -> None:
    for parse in (loads_strict, parse_canonical):
        with pytest.raises(StrictJSONError) as err:
            parse(text, where="before")
        assert err.value.kind == kind
        assert str(err.value).startswith(f"before: {found}")
        assert (err.value.line, err.value.column) == (line, column)
        assert f"line {line}, column {column}" in str(err.value)


@pytest.mark.parametrize(
    ("text", "column", "why"),
    [
        ('{"a": 1}', 6, "whitespace"),
        ('{"b":1,"a":2}', 3, "key order"),
        ('"caf\\u00e9"', 5, "escaped non-ASCII"),
        ('{"n":1E2}', 7, "exponent"),
        ('{"n":-0}', 6, "negative zero integer"),
        ('{"n":1.50}', 9, "trailing zero"),
        ('{"a":1}\n', 8, "trailing newline"),
        (' {"a":1}', 1, "leading space"),
        ('"\\/"', 2, "escaped slash"),
    ],
)
def test_non_canonical_text_is_refused_where_it_first_differs(text: str, column: int, why: str) -> None:
    assert loads_strict(text) == json.loads(text)  # valid JSON, equal value...
    with pytest.raises(StrictJSONError, match=r"^after: not in canonical form") as err:
        parse_canonical(text, where="after")  # ...but not the text that was hashed
    assert err.value.kind == "not_canonical"
    assert (err.value.line, err.value.column) == (1, column), why
    at = column - 1
    again = canonical(json.loads(text))
    assert f"the stored text has {text[at : at + 24]!r} where the canonical text has {again[at : at + 24]!r}" in str(
        err.value
    )
    assert not is_canonical(text)


def test_bytes_are_read_as_strict_utf8() -> None:
    assert parse_canonical(canonical({"name": "Système"}).encode()) == {"name": "Système"}
    with pytest.raises(StrictJSONError, match=r"byte 0xff is not valid UTF-8 \(byte 9\) at line 1, column 10") as err:
        parse_canonical(b'{"name":"\xff"}')
    assert err.value.kind == "encoding"
    with pytest.raises(StrictJSONError, match="not valid UTF-8"):
        parse_canonical(b'"\xed\xa0\x80"')  # an encoded surrogate: not UTF-8


def test_unreadable_monsters_are_refused_not_crashing() -> None:
    with pytest.raises(StrictJSONError, match="not readable JSON") as err:
        loads_strict("[" * 200_000 + "]" * 200_000)
    assert err.value.kind == "syntax"
    with pytest.raises(StrictJSONError, match="not readable JSON"):
        loads_strict("1" * 5000)  # past Python's integer-text limit


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(value=json_values)
def test_canonical_text_always_reads_back_to_its_value(value: Any) -> None:
    assert parse_canonical(canonical(value)) == value
    assert parse_canonical(canonical(value).encode()) == value


@settings(max_examples=300, deadline=None)
@given(value=json_values, indent=st.sampled_from([None, 0, 1]), ascii_only=st.booleans(), sort=st.booleans())
def test_any_other_encoding_of_a_value_is_refused(value: Any, indent: int | None, ascii_only: bool, sort: bool) -> None:
    text = json.dumps(value, indent=indent, ensure_ascii=ascii_only, sort_keys=sort)
    if text == canonical(value):
        assert parse_canonical(text) == value
    else:
        with pytest.raises(StrictJSONError, match="not in canonical form"):
            parse_canonical(text)
