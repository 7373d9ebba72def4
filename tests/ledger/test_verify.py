"""Verification on a real database: each kind of tampering is caught at the right entry, with the right kind."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import insert, select, text, update
from sqlalchemy.orm import Session

from charter.audit.queries import checkpoint_data, verify_ledger
from charter.audit.service import create_checkpoint
from charter.context import Ctx
from charter.ledger.chain import sign_checkpoint
from charter.ledger.checks import Problem
from charter.ledger.models import LedgerCheckpoint
from charter.ledger.rules import GENESIS_HASH, canonical, checkpoint_message, entry_hash, to_jsonable
from charter.ledger.signing import Signer, load_or_create_signer
from charter.ledger.verify import verify_database
from tests.conftest import Actors, is_postgres
from tests.ledger.conftest import E, build_chain, edit, rehash_from, remove, renumber, row, set_head, swap, tamper


def problem_of(session: Session) -> tuple[int | None, str]:
    result = verify_database(session)
    assert not result.ok
    assert result.problem is not None
    return result.problem.seq, result.problem.kind


def test_an_untouched_chain_verifies_with_counts(chain: Ctx) -> None:
    sign_checkpoint(chain.session, chain.settings.ledger_key_path, chain.now())
    result = verify_ledger(chain)
    assert result.ok, result.problem
    assert (result.entries_checked, result.size, result.checkpoints_checked) == (12, 12, 1)
    assert result.slow_entries == 0  # every entry hashed as the database handed it over
    assert result.head_hash == row(chain.session, 12)["hash"]


def test_an_empty_ledger_verifies(ctx: Ctx) -> None:
    result = verify_ledger(ctx)
    assert result.ok and result.entries_checked == 0 and result.head_hash == GENESIS_HASH


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("actor", "user:mallory"),
        ("action", "system.deleted"),
        ("entity_type", "risk"),
        ("entity_id", "system-99"),
        ("before", {"stage": "retired"}),
        ("after", None),
        ("request_id", "forged"),
        ("reason", "nobody asked"),
    ],
)
def test_an_edited_field_is_caught_at_that_entry_as_a_hash_mismatch(chain: Ctx, field: str, value: object) -> None:
    edit(chain.session, 5, **{field: value})
    assert problem_of(chain.session) == (5, "hash_mismatch")


def test_an_edited_time_is_caught(chain: Ctx) -> None:
    edit(chain.session, 7, ts=row(chain.session, 7)["ts"] + timedelta(microseconds=1))
    assert problem_of(chain.session) == (7, "hash_mismatch")


def test_an_edited_stored_hash_is_caught(chain: Ctx) -> None:
    edit(chain.session, 4, hash="f" * 64)
    assert problem_of(chain.session) == (4, "hash_mismatch")


def test_an_edited_prev_hash_is_caught_as_a_broken_link(chain: Ctx) -> None:
    edit(chain.session, 6, prev_hash="e" * 64)
    assert problem_of(chain.session) == (6, "prev_hash_mismatch")


def test_an_edit_re_hashed_by_the_attacker_breaks_the_link_to_the_next_entry(chain: Ctx) -> None:
    r = row(chain.session, 5)
    forged = dict(r, actor="user:mallory", ts=to_jsonable(r["ts"]))
    edit(chain.session, 5, actor="user:mallory", hash=entry_hash(r["prev_hash"], forged))
    assert problem_of(chain.session) == (6, "prev_hash_mismatch")


def test_a_deleted_middle_entry_is_caught_as_a_gap_at_its_number(chain: Ctx) -> None:
    remove(chain.session, 4)
    seq, kind = problem_of(chain.session)
    assert (seq, kind) == (4, "seq_gap")
    assert "entry 4 missing" in verify_database(chain.session).problem.detail  # type: ignore[union-attr]


def test_a_deleted_entry_with_the_rest_renumbered_is_caught_as_a_broken_link(chain: Ctx) -> None:
    remove(chain.session, 4)
    renumber(chain.session, 5, by=-1)
    set_head(chain.session, 11, row(chain.session, 11)["hash"])
    assert problem_of(chain.session) == (4, "prev_hash_mismatch")


def test_a_deleted_tail_is_caught_by_the_head(chain: Ctx) -> None:
    remove(chain.session, 11, 12)
    result = verify_database(chain.session)
    assert result.problem is not None
    assert (result.problem.seq, result.problem.kind) == (11, "head_mismatch")
    assert "truncated" in result.problem.detail
    assert result.entries_checked == 10


def test_a_deleted_tail_with_the_head_rewound_is_caught_by_a_later_stored_checkpoint(chain: Ctx) -> None:
    sign_checkpoint(chain.session, chain.settings.ledger_key_path, chain.now())  # signs size 12
    remove(chain.session, 11, 12)
    set_head(chain.session, 10, row(chain.session, 10)["hash"])
    assert problem_of(chain.session) == (11, "checkpoint_mismatch")


def test_an_inserted_entry_is_caught(chain: Ctx) -> None:
    renumber(chain.session, 6, by=1)
    r5 = row(chain.session, 5)
    forged = dict(r5, seq=6, actor="user:mallory", prev_hash=r5["hash"])
    forged["hash"] = entry_hash(r5["hash"], dict(forged, ts=to_jsonable(forged["ts"])))
    chain.session.execute(insert(E).values(**forged))
    set_head(chain.session, 13, row(chain.session, 13)["hash"])
    # Entry 6 itself is well formed and linked; the entry after it no longer links to it.
    assert problem_of(chain.session) == (7, "prev_hash_mismatch")


def test_an_entry_appended_behind_the_services_back_is_caught(chain: Ctx) -> None:
    r = row(chain.session, 12)
    extra = dict(r, seq=13, prev_hash=r["hash"])
    extra["hash"] = entry_hash(r["hash"], dict(extra, ts=to_jsonable(extra["ts"])))
    tamper(chain.session)
    chain.session.execute(insert(E).values(**extra))
    assert problem_of(chain.session) == (13, "head_mismatch")


def test_swapped_entries_are_caught_at_the_first_of_them(chain: Ctx) -> None:
    swap(chain.session, 3, 8)
    assert problem_of(chain.session) == (3, "prev_hash_mismatch")


def test_a_stored_checkpoint_with_a_forged_signature_is_caught(chain: Ctx) -> None:
    cp = sign_checkpoint(chain.session, chain.settings.ledger_key_path, chain.now())
    chain.session.execute(update(LedgerCheckpoint).where(LedgerCheckpoint.id == cp.id).values(signature="AAAA"))
    assert problem_of(chain.session) == (12, "checkpoint_signature")


def test_a_history_rewritten_and_re_hashed_after_a_checkpoint_is_caught_by_it(chain: Ctx) -> None:
    sign_checkpoint(chain.session, chain.settings.ledger_key_path, chain.now())
    rehash_from(chain.session, 3, actor="user:mallory")
    assert problem_of(chain.session) == (12, "checkpoint_mismatch")


def rewrite_from_scratch(actors: Actors, signer_key: Signer) -> None:
    """An attacker with the database and the signing key: delete everything, append a different history,
    re-sign every checkpoint. The result is a valid chain."""
    session = actors.session
    tamper(session)
    session.execute(text("DELETE FROM ledger_entries"))
    session.execute(text("DELETE FROM ledger_checkpoints"))
    set_head(session, 0, GENESIS_HASH)
    ctx = actors.ctx("engineer")
    build_chain(ctx, 12, first=500)
    sign_checkpoint(ctx.session, ctx.settings.ledger_key_path, ctx.now())
    assert load_or_create_signer(ctx.settings.ledger_key_path).key_id == signer_key.key_id


def test_a_database_rewritten_from_scratch_passes_alone_but_fails_against_an_external_checkpoint(
    chain: Ctx, actors: Actors
) -> None:
    kept = checkpoint_data(create_checkpoint(chain))  # the JSON a user kept outside the database
    rewrite_from_scratch(actors, load_or_create_signer(chain.settings.ledger_key_path))
    assert verify_ledger(chain).ok  # a consistent forgery, signed with the stolen key
    result = verify_ledger(chain, kept)
    assert result.problem is not None
    assert (result.problem.seq, result.problem.kind) == (12, "external_checkpoint_mismatch")
    assert "rewritten" in result.problem.detail


def test_a_truncated_database_fails_against_an_external_checkpoint_of_a_longer_chain(chain: Ctx) -> None:
    kept = checkpoint_data(create_checkpoint(chain))
    remove(chain.session, 9, 10, 11, 12)
    chain.session.execute(text("DELETE FROM ledger_checkpoints"))
    set_head(chain.session, 8, row(chain.session, 8)["hash"])
    assert verify_ledger(chain).ok
    result = verify_ledger(chain, kept)
    assert result.problem is not None
    assert (result.problem.seq, result.problem.kind) == (9, "external_checkpoint_mismatch")


def test_an_external_checkpoint_of_an_earlier_size_is_checked_where_it_was_made(chain: Ctx) -> None:
    kept = checkpoint_data(create_checkpoint(chain))
    build_chain(chain, 5, first=100)
    result = verify_ledger(chain, kept)
    assert result.ok and result.entries_checked == 17 and result.external_checkpoint == kept


def test_an_altered_external_checkpoint_is_refused_for_its_signature(chain: Ctx) -> None:
    kept = checkpoint_data(create_checkpoint(chain))
    forged = type(kept)(**dict(kept.to_dict(), head_hash=row(chain.session, 11)["hash"], size=11))
    result = verify_ledger(chain, forged)
    assert result.problem is not None and result.problem.kind == "external_checkpoint_signature"
    other_key = Signer(load_or_create_signer(chain.settings.data_dir / "other.pem").private_key)
    wrong_id = type(kept)(**dict(kept.to_dict(), public_key=other_key.public_key))
    assert verify_ledger(chain, wrong_id).problem.kind == "external_checkpoint_signature"  # type: ignore[union-attr]


def test_checkpoints_are_made_automatically_every_n_entries(actors: Actors) -> None:
    ctx = actors.ctx("engineer")
    ctx.settings = ctx.settings.model_copy(update={"checkpoint_every": 5})
    build_chain(ctx, 12)
    sizes = ctx.session.execute(select(LedgerCheckpoint.size).order_by(LedgerCheckpoint.size)).scalars().all()
    assert sizes == [5, 10]
    signer = load_or_create_signer(ctx.settings.ledger_key_path)
    cps = ctx.session.execute(select(LedgerCheckpoint)).scalars().all()
    assert all(signer.public_key == cp.public_key for cp in cps)
    assert all(cp.head_hash == row(ctx.session, cp.size)["hash"] for cp in cps)
    assert verify_database(ctx.session).checkpoints_checked == 2


def test_a_checkpoint_signs_size_and_head_hash(chain: Ctx) -> None:
    cp = checkpoint_data(create_checkpoint(chain))
    assert (cp.size, cp.head_hash) == (12, row(chain.session, 12)["hash"])
    assert cp.signature_valid()
    assert load_or_create_signer(chain.settings.ledger_key_path).sign(checkpoint_message(12, cp.head_hash)) == (
        cp.signature
    )


def _raw_after(chain: Ctx, seq: int, stored: str) -> None:
    """Write the stored JSON text of an entry's `after` as it is, past the canonical encoder."""
    if is_postgres():
        sql = "UPDATE ledger_entries SET after = CAST(:v AS json) WHERE seq = :s"
    else:
        sql = "UPDATE ledger_entries SET after = :v WHERE seq = :s"
    tamper(chain.session)
    chain.session.execute(text(sql), {"v": stored, "s": seq})


def test_stored_json_that_is_equal_but_not_canonical_is_tampering(chain: Ctx) -> None:
    _raw_after(chain, 5, json.dumps(row(chain.session, 5)["after"], indent=2))
    seq, kind = problem_of(chain.session)
    assert (seq, kind) == (5, "hash_mismatch")
    assert "not in canonical form" in (verify_database(chain.session).problem or Problem(0, "", "")).detail


def test_a_duplicate_key_edit_that_json_loads_reads_as_the_original_is_caught(chain: Ctx) -> None:
    """Finding 5: `{"stage":"EVIL",...,"stage":"production"}` reads as production in Python, EVIL in SQL."""
    after = row(chain.session, 5)["after"]
    body = canonical(after)
    forged = '{"stage":"EVIL",' + body[1:]
    _raw_after(chain, 5, forged)
    result = verify_database(chain.session)
    assert not result.ok and result.problem is not None
    assert (result.problem.seq, result.problem.kind) == (5, "hash_mismatch")
    assert "duplicate key 'stage'" in result.problem.detail


def test_nan_in_stored_json_is_caught(chain: Ctx) -> None:
    if is_postgres():
        pytest.skip("PostgreSQL's json type refuses NaN")
    _raw_after(chain, 3, '{"score":NaN}')
    assert problem_of(chain.session) == (3, "hash_mismatch")


@pytest.mark.skipif(is_postgres(), reason="PostgreSQL's json type refuses text that is not JSON")
def test_text_shifted_between_before_and_after_is_caught_on_sqlite(actors: Actors) -> None:
    ctx = actors.ctx("engineer")
    ctx.record("x", "system", "s", before={"z": 1}, after={"a": 1, "before": 2})
    # after + ',"before":' + before is the same text either way, but neither column is JSON any more.
    chain_text = ctx.session.execute(text("SELECT after, before FROM ledger_entries WHERE seq = 1")).one()
    assert chain_text == ('{"a":1,"before":2}', '{"z":1}')
    ctx.session.execute(
        text("UPDATE ledger_entries SET after = :a, before = :b"), {"a": '{"a":1', "b": '2},"before":{"z":1}'}
    )
    assert problem_of(ctx.session) == (1, "hash_mismatch")


@pytest.mark.skipif(is_postgres(), reason="SQLite keeps the time as text")
def test_a_time_stored_in_another_but_equal_text_form_is_not_tampering(chain: Ctx) -> None:
    raw = chain.session.execute(text("SELECT ts FROM ledger_entries WHERE seq = 2")).scalar_one()
    chain.session.execute(text("UPDATE ledger_entries SET ts = :t WHERE seq = 2"), {"t": raw.replace(" ", "T")})
    assert verify_database(chain.session).ok


def test_verification_needs_the_audit_verify_permission(actors: Actors) -> None:
    from charter.kit.errors import PermissionDenied

    with pytest.raises(PermissionDenied, match="audit:verify"):
        verify_ledger(actors.ctx("engineer"))
    with pytest.raises(PermissionDenied, match="audit:checkpoint"):
        create_checkpoint(actors.ctx("auditor"))
    assert verify_ledger(actors.ctx("auditor")).ok


def test_a_checkpoint_made_by_an_append_during_verification_is_walked_to_not_reported(
    chain: Ctx, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Verification reads the head, then the checkpoints: an append committing in between (PostgreSQL, read
    committed) leaves a checkpoint beyond the head read. It is checked, not taken for a truncated tail."""
    import charter.ledger.verify as verify_module

    sign_checkpoint(chain.session, chain.settings.ledger_key_path, chain.now())  # size 12
    real_head_row = verify_module.head_row
    calls = []

    def stale_first(conn):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 1:  # as if entries 11 and 12 committed just after the head was read
            return 10, row(chain.session, 10)["hash"], 10
        return real_head_row(conn)

    monkeypatch.setattr(verify_module, "head_row", stale_first)
    result = verify_database(chain.session)
    assert result.ok, result.problem
    assert (result.entries_checked, result.size, result.checkpoints_checked) == (12, 12, 1)
