"""The canonical text the stream assembles from stored rows is exactly what the hash is defined over."""

from __future__ import annotations

from json.encoder import encode_basestring

import pytest
from sqlalchemy import text

from charter.context import Ctx
from charter.ledger.rules import canonical
from charter.ledger.stream import entry_rows, sqlite_text
from charter.ledger.verify import typed_values
from tests.conftest import is_postgres


def test_the_stream_hands_over_each_entrys_canonical_text(chain: Ctx) -> None:
    conn = chain.session.connection()
    rows = [r for batch in entry_rows(conn, 12, 5) for r in batch]
    assert [r[0] for r in rows] == list(range(1, 13))
    for seq, _prev, _hash, body in rows:
        assert body == canonical(typed_values(conn, seq))


@pytest.mark.skipif(not is_postgres(), reason="PostgreSQL's to_json")
def test_postgres_quotes_strings_exactly_like_the_canonical_encoder(chain: Ctx) -> None:
    samples = [f"a{chr(c)}b" for c in range(1, 0x80)] + ["Système n°5", "\u2028\u2029", "\ufeff", "😀", "\\u0000"]
    got = chain.session.execute(text("SELECT to_json(s)::text FROM unnest(CAST(:s AS text[])) AS s"), {"s": samples})
    assert [r[0] for r in got] == [encode_basestring(s) for s in samples]


def test_sqlite_rows_not_stored_as_append_stores_them_get_no_text() -> None:
    ts = "2026-01-01 09:00:00.000000"
    good = sqlite_text(1, ts, "user:a", "x", "system", "s", None, '{"a":1}', None, None)
    assert good == canonical(
        {
            "seq": 1,
            "ts": "2026-01-01T09:00:00.000000Z",
            "actor": "user:a",
            "action": "x",
            "entity_type": "system",
            "entity_id": "s",
            "before": None,
            "after": {"a": 1},
            "request_id": None,
            "reason": None,
        }
    )
    assert sqlite_text(1, ts, "user:a", "x", "system", "s", b"1.5", "null", None, None) is not None  # a BLOB number
    assert sqlite_text(1, ts, b"user:a", "x", "system", "s", None, "null", None, None) is None  # actor as a BLOB
    assert sqlite_text("1", ts, "user:a", "x", "system", "s", None, "null", None, None) is None  # seq as text
    assert sqlite_text(1, "2026-01-01T09:00:00Z", "user:a", "x", "system", "s", None, "null", None, None) is None
    assert sqlite_text(1, ts, "user:a", "x", "system", "s", 7, "null", None, None) is None  # JSON as an integer
    # after '{"a":1' + ',"before":' + before '2}...' could read the same as another split: no text.
    assert sqlite_text(1, ts, "user:a", "x", "system", "s", None, '{"a":1,"before":2}', None, None) is None
