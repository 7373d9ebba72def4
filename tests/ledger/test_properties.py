"""Property: any chain appended through the service verifies as it is stored (on SQLite and PostgreSQL, with
any JSON in before/after); any single tampering makes verification fail at or before the tampered entry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from charter.kit.clock import FixedClock
from charter.ledger.rules import canonical, entry_hash, to_jsonable
from charter.ledger.verify import verify_database
from tests.conftest import Actors, is_postgres
from tests.ledger.conftest import E, edit, remove, renumber, row, set_head, swap, tamper

# Text a database column can hold: no NUL (PostgreSQL text), no lone surrogates (UTF-8).
WORD = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12),  # NUL is fine inside JSON
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(WORD, inner, max_size=4),
    max_leaves=12,
)
ENTRY = st.fixed_dictionaries(
    {
        "action": WORD.filter(bool),
        "entity_id": WORD,
        "before": JSON,
        "after": JSON,
        "reason": st.none() | WORD,
        "step": st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=400)),
        "zone": st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))]),
    }
)
FIELDS = ("ts", "actor", "action", "entity_type", "entity_id", "before", "after", "request_id", "reason", "prev_hash")
TAMPERING = st.one_of(
    st.tuples(st.just("edit"), st.sampled_from(FIELDS)),
    st.tuples(st.just("delete"), st.none()),
    st.tuples(st.just("swap"), st.integers(min_value=1, max_value=20)),
    st.tuples(st.just("insert"), st.none()),
    st.tuples(st.just("truncate"), st.none()),
)
PROPERTY = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


def append_all(actors: Actors, entries: list[dict[str, Any]]) -> None:
    clock = actors.clock
    assert isinstance(clock, FixedClock)
    ctx = actors.ctx("engineer")
    start = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
    for e in entries:
        start += e["step"]
        clock.set(start.astimezone(e["zone"]))  # the clock may hand out any zone; the ledger stores UTC
        ctx.record(e["action"], "system", e["entity_id"], before=e["before"], after=e["after"], reason=e["reason"])
    ctx.session.flush()


def changed(field: str, value: Any) -> Any:
    """A different value of the same column type."""
    if field in ("before", "after"):
        return {"tampered": value}
    if isinstance(value, datetime):
        return value + timedelta(microseconds=1)
    if value is None:
        return "x"
    assert isinstance(value, str)
    return "f" * 64 if field == "prev_hash" and value != "f" * 64 else value + "!"


@PROPERTY
@given(entries=st.lists(ENTRY, min_size=1, max_size=10))
def test_any_chain_appended_verifies_as_stored(actors: Actors, entries: list[dict[str, Any]]) -> None:
    savepoint = actors.session.begin_nested()
    try:
        append_all(actors, entries)
        result = verify_database(actors.session)
        assert result.ok, result.problem
        assert result.entries_checked == len(entries)
        # The database built every entry's canonical text exactly (the fast path), except where SQLite, which
        # does not check JSON, must refuse before/after holding the text that separates them.
        refused = sum(any(',"before":' in canonical(e[side]) for side in ("before", "after")) for e in entries)
        assert result.slow_entries == (0 if is_postgres() else refused)
    finally:
        savepoint.rollback()


@PROPERTY
@given(entries=st.lists(ENTRY, min_size=2, max_size=10), tampering=TAMPERING, data=st.data())
def test_any_single_tampering_fails_at_or_before_the_tampered_entry(
    actors: Actors, entries: list[dict[str, Any]], tampering: tuple[str, Any], data: st.DataObject
) -> None:
    n = len(entries)
    savepoint = actors.session.begin_nested()
    try:
        append_all(actors, entries)
        session = actors.session
        kind, arg = tampering
        k = data.draw(st.integers(min_value=1, max_value=n), label="tampered seq")
        if kind == "edit":
            edit(session, k, **{arg: changed(arg, row(session, k)[arg])})
        elif kind == "delete":
            remove(session, k)
        elif kind == "swap":
            other = (k - 1 + arg) % n + 1
            if other == k:
                other = k % n + 1
            swap(session, k, other)
            k = min(k, other)
        elif kind == "insert":  # a well-formed entry slipped in at k, the rest moved up
            renumber(session, k, by=1)
            prev = row(session, k - 1)["hash"] if k > 1 else "0" * 64
            forged = dict(row(session, k + 1), seq=k, actor="user:mallory", prev_hash=prev)
            forged["hash"] = entry_hash(prev, dict(forged, ts=to_jsonable(forged["ts"])))
            tamper(session)
            session.execute(E.insert().values(**forged))
            set_head(session, n + 1, row(session, n + 1)["hash"])
            k += 1  # entry k itself is valid; the displaced entry after it is the first that no longer links
        elif kind == "truncate":  # cut the tail from k on, leaving the head as it was
            remove(session, *range(k, n + 1))
        result = verify_database(session)
        assert not result.ok, f"{kind} at {k} not caught"
        assert result.problem is not None and result.problem.seq is not None
        assert result.problem.seq <= k, (kind, k, result.problem)
    finally:
        savepoint.rollback()
