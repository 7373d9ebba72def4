"""Signed tree heads: the signed message, offline verification with the raw public key, and the rule that a new
head is signed only after a consistency proof from the previous one (issue 12, finding 9)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from charter.ledger.merkle import InMemoryNodeStore, MerkleLog, leaf_of
from charter.ledger.rules import GENESIS_HASH, entry_hash
from charter.ledger.signing import key_id_of, public_key_text
from charter.ledger.tree_head import (
    ConsistencyProof,
    InclusionProof,
    SignedTreeHead,
    TreeHeadError,
    issue_tree_head,
    key_id,
    prove_consistency,
    prove_inclusion,
    public_key_from_text,
    sign_tree_head,
    timestamp_text,
    tree_head_message,
    verify_head_consistency,
)

T0 = "2026-01-01T09:00:00.000000Z"


class Key:
    def __init__(self) -> None:
        self.private = Ed25519PrivateKey.generate()
        self.public = self.private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    def sign(self, message: bytes) -> bytes:
        return self.private.sign(message)


@pytest.fixture
def key() -> Key:
    return Key()


def ledger_entries(n: int, start: int = 1, prev: str = GENESIS_HASH, who: str = "user:alice") -> list[dict[str, Any]]:
    """Entries chained exactly as the ledger chains them (rules.entry_hash)."""
    out = []
    for seq in range(start, start + n):
        entry = {
            "seq": seq,
            "ts": f"2026-01-01T09:00:{seq % 60:02d}.000000Z",
            "actor": who,
            "action": "system.updated",
            "entity_type": "system",
            "entity_id": f"s-{seq}",
            "before": None,
            "after": {"stage": "pilot", "n": seq},
            "request_id": None,
            "reason": None,
        }
        entry["prev_hash"] = prev
        entry["hash"] = prev = entry_hash(prev, entry)
        out.append(entry)
    return out


def tree_of(entries: list[dict[str, Any]]) -> MerkleLog:
    log = MerkleLog(InMemoryNodeStore())
    log.extend(leaf_of(e["hash"]) for e in entries)
    return log


def test_the_signed_message_is_exactly_the_documented_bytes() -> None:
    root = bytes(range(32))
    assert tree_head_message(1000, root, T0) == (
        b"charter-ledger-tree-head/v1\n1000\n000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
        b"2026-01-01T09:00:00.000000Z"
    )


def test_a_head_round_trips_through_json_and_verifies_with_only_the_raw_public_key(key: Key) -> None:
    log = tree_of(ledger_entries(5))
    head = sign_tree_head(5, log.root(), T0, sign=key.sign, public_key=key.public)
    kept = json.loads(json.dumps(head.to_dict()))
    assert kept == {
        "format": "charter-ledger-tree-head/v1",
        "tree_size": 5,
        "root_hash": log.root().hex(),
        "timestamp": T0,
        "key_id": key_id(key.public),
        "signature": head.signature.hex(),
    }
    again = SignedTreeHead.from_dict(kept)
    assert again == head
    again.verify(key.public)
    # The key id is the one the ledger's checkpoints use, and the checkpoints' base64 key text is accepted.
    assert head.key_id == key_id_of(public_key_text(key.private.public_key()))
    assert public_key_from_text(public_key_text(key.private.public_key())) == key.public
    assert public_key_from_text(key.public.hex()) == key.public


@pytest.mark.parametrize(
    ("field", "value"),
    [("tree_size", 6), ("root_hash", "ab" * 32), ("timestamp", "2026-01-01T09:00:00.000001Z")],
)
def test_any_edit_to_a_signed_head_breaks_its_signature(key: Key, field: str, value: Any) -> None:
    head = sign_tree_head(5, tree_of(ledger_entries(5)).root(), T0, sign=key.sign, public_key=key.public)
    edited = SignedTreeHead.from_dict(dict(head.to_dict(), **{field: value}))
    with pytest.raises(TreeHeadError, match="no valid signature"):
        edited.verify(key.public)


def test_a_bad_signature_and_a_wrong_key_are_refused(key: Key) -> None:
    head = sign_tree_head(5, tree_of(ledger_entries(5)).root(), T0, sign=key.sign, public_key=key.public)
    flipped = bytes([head.signature[0] ^ 1]) + head.signature[1:]
    with pytest.raises(TreeHeadError, match="no valid signature"):
        SignedTreeHead(head.tree_size, head.root_hash, head.timestamp, head.key_id, flipped).verify(key.public)
    other = Key()
    with pytest.raises(TreeHeadError, match=f"names key {head.key_id}, the key given is {key_id(other.public)}"):
        head.verify(other.public)
    relabelled = SignedTreeHead(head.tree_size, head.root_hash, head.timestamp, key_id(other.public), head.signature)
    with pytest.raises(TreeHeadError, match="no valid signature"):
        relabelled.verify(other.public)
    with pytest.raises(TreeHeadError, match="not a pair"):  # a signer that is not the published key's
        sign_tree_head(5, head.root_hash, T0, sign=other.sign, public_key=key.public)


def test_malformed_head_json_says_which_field_is_wrong(key: Key) -> None:
    good = sign_tree_head(1, bytes(32), T0, sign=key.sign, public_key=key.public).to_dict()
    cases = [
        ({k: v for k, v in good.items() if k != "signature"}, "missing signature"),
        (dict(good, extra=1), "unknown field extra"),
        (dict(good, format="charter-ledger-tree-head/v2"), "format must be"),
        (dict(good, tree_size=-1), "tree_size must be a whole number"),
        (dict(good, tree_size=True), "tree_size must be a whole number"),
        (dict(good, root_hash="AB" * 32), "root_hash must be 64 lowercase hex"),
        (dict(good, signature="00"), "signature must be 128 lowercase hex"),
        (dict(good, timestamp="2026-01-01 09:00:00"), "timestamp must be UTC text"),
        (dict(good, timestamp="2026-02-30T09:00:00.000000Z"), "not a real date"),
        (dict(good, key_id="xyz"), "key_id must be 16 lowercase hex"),
        ([], "expected a JSON object"),
    ]
    for data, message in cases:
        with pytest.raises(TreeHeadError, match=message):
            SignedTreeHead.from_dict(data)


def test_times_are_signed_as_utc_text() -> None:
    assert timestamp_text(datetime(2026, 1, 1, 10, 0, tzinfo=timezone(timedelta(hours=1)))) == T0
    with pytest.raises(TreeHeadError, match="timezone-aware"):
        timestamp_text(datetime(2026, 1, 1, 9, 0))


# ---- the rule: a new head only after a consistency proof from the previous one ----------------------------


def test_heads_are_issued_along_an_honestly_growing_ledger(key: Key) -> None:
    entries = ledger_entries(1)
    log = tree_of(entries)
    head = issue_tree_head(None, 1, log.root(), [], T0, sign=key.sign, public_key=key.public, appended=1)
    heads = [head]
    for batch in (1, 1, 5, 1, 40, 3):
        more = ledger_entries(batch, start=len(entries) + 1, prev=entries[-1]["hash"])
        entries += more
        log.extend(leaf_of(e["hash"]) for e in more)
        proof = log.consistency_proof(head.tree_size)
        head = issue_tree_head(
            head, log.size, log.root(), proof, T0, sign=key.sign, public_key=key.public, appended=batch
        )
        heads.append(head)
    assert [h.tree_size for h in heads] == [1, 2, 3, 8, 9, 49, 52]
    # An auditor holding any two of them checks them offline.
    for old in heads:
        for new in heads:
            if old.tree_size <= new.tree_size:
                proof = prove_consistency(log, old.tree_size, new.tree_size)
                ConsistencyProof.from_dict(json.loads(json.dumps(proof.to_dict()))).verify(old, new, key.public)


class Tail:
    """A ledger of 20 entries with a signed head, and an attacker with database write access but no key."""

    def __init__(self, key: Key) -> None:
        self.key = key
        self.entries = ledger_entries(20)
        self.log = tree_of(self.entries)
        self.head = issue_tree_head(None, 20, self.log.root(), [], T0, sign=key.sign, public_key=key.public)

    def issue(self, entries: list[dict[str, Any]], appended: int | None) -> SignedTreeHead:
        """What the server does on its next commit: rebuild from what the database holds, prove, sign."""
        log = tree_of(entries)
        proof = log.consistency_proof(min(self.head.tree_size, log.size))
        return issue_tree_head(
            self.head,
            log.size,
            log.root(),
            proof,
            T0,
            sign=self.key.sign,
            public_key=self.key.public,
            appended=appended,
        )


def test_a_rehashed_tail_is_not_signed(key: Key) -> None:
    tail = Tail(key)
    forged = [*tail.entries[:17], *ledger_entries(3, start=18, prev=tail.entries[16]["hash"], who="user:mallory")]
    assert forged[-1]["hash"] != tail.entries[-1]["hash"]  # entries 18..20 edited and re-hashed: a valid chain
    with pytest.raises(TreeHeadError, match="not an extension of the previous signed head"):
        tail.issue([*forged, *ledger_entries(1, start=21, prev=forged[-1]["hash"])], appended=1)


def test_a_truncated_tail_is_not_signed(key: Key) -> None:
    tail = Tail(key)
    with pytest.raises(TreeHeadError, match=r"leaves 18\.\.20 are gone \(truncated\)"):
        tail.issue(tail.entries[:17], appended=0)
    regrown = [*tail.entries[:17], *ledger_entries(4, start=18, prev=tail.entries[16]["hash"], who="user:mallory")]
    with pytest.raises(TreeHeadError, match="not an extension"):  # cut and regrown past the signed size
        tail.issue(regrown, appended=1)


def test_entries_appended_behind_the_service_are_not_signed(key: Key) -> None:
    tail = Tail(key)
    smuggled = ledger_entries(1, start=21, prev=tail.entries[-1]["hash"], who="user:mallory")
    ours = ledger_entries(1, start=22, prev=smuggled[0]["hash"])
    with pytest.raises(TreeHeadError, match=r"so 21 were expected \(\+1"):
        tail.issue([*tail.entries, *smuggled, *ours], appended=1)
    honest = ledger_entries(1, start=21, prev=tail.entries[-1]["hash"])
    assert tail.issue([*tail.entries, *honest], appended=1).tree_size == 21


def test_a_previous_head_that_is_not_validly_signed_stops_issuing(key: Key) -> None:
    tail = Tail(key)
    fake = SignedTreeHead(20, tail.head.root_hash, T0, tail.head.key_id, bytes(64))
    with pytest.raises(TreeHeadError, match="no valid signature"):
        issue_tree_head(fake, 20, tail.log.root(), [], T0, sign=key.sign, public_key=key.public)
    with pytest.raises(TreeHeadError, match="must be empty"):
        issue_tree_head(None, 20, tail.log.root(), [bytes(32)], T0, sign=key.sign, public_key=key.public)


def test_a_rotated_key_continues_the_chain_when_the_old_key_is_named(key: Key) -> None:
    tail = Tail(key)
    new_key = Key()
    more = ledger_entries(2, start=21, prev=tail.entries[-1]["hash"])
    tail.log.extend(leaf_of(e["hash"]) for e in more)
    proof = tail.log.consistency_proof(20)
    with pytest.raises(TreeHeadError, match="names key"):
        issue_tree_head(tail.head, 22, tail.log.root(), proof, T0, sign=new_key.sign, public_key=new_key.public)
    head = issue_tree_head(
        tail.head,
        22,
        tail.log.root(),
        proof,
        T0,
        sign=new_key.sign,
        public_key=new_key.public,
        previous_public_key=key.public,
    )
    verify_head_consistency(tail.head, head, prove_consistency(tail.log, 20), new_key.public, old_public_key=key.public)


# ---- what an auditor keeps and verifies offline ------------------------------------------------------------


def test_an_entry_is_proven_offline_from_its_content_to_the_signed_head(key: Key) -> None:
    entries = ledger_entries(13)
    log = tree_of(entries)
    head = sign_tree_head(13, log.root(), T0, sign=key.sign, public_key=key.public)
    kept_head = json.dumps(head.to_dict())
    for seq in (1, 7, 13):
        proof = prove_inclusion(log, seq, entries[seq - 1]["hash"])
        kept_proof = json.dumps(proof.to_dict())
        # Offline: the entry's content -> its chain hash -> the proof -> the signed root.
        entry = entries[seq - 1]
        received = InclusionProof.from_dict(json.loads(kept_proof))
        assert received.entry_hash == entry_hash(entry["prev_hash"], entry)
        received.verify(SignedTreeHead.from_dict(json.loads(kept_head)), key.public)
        assert received.to_dict()["leaf_index"] == seq - 1


def test_an_inclusion_proof_for_an_altered_entry_or_another_head_is_refused(key: Key) -> None:
    entries = ledger_entries(13)
    log = tree_of(entries)
    head = sign_tree_head(13, log.root(), T0, sign=key.sign, public_key=key.public)
    proof = prove_inclusion(log, 7, entries[6]["hash"])
    edited = dict(entries[6], after={"stage": "EVIL", "n": 7})
    altered = InclusionProof(7, 13, entry_hash(edited["prev_hash"], edited), proof.path)
    with pytest.raises(TreeHeadError, match="entry 7 is not proven"):
        altered.verify(head, key.public)
    moved = InclusionProof(8, 13, proof.entry_hash, proof.path)
    with pytest.raises(TreeHeadError, match="entry 8 is not proven"):
        moved.verify(head, key.public)
    older = sign_tree_head(12, log.root_at(12), T0, sign=key.sign, public_key=key.public)
    with pytest.raises(TreeHeadError, match="for a tree of 13 leaves, the head signs 12"):
        proof.verify(older, key.public)
    with pytest.raises(TreeHeadError, match="names key"):
        proof.verify(head, Key().public)
    with pytest.raises(TreeHeadError, match="not the leaf the tree holds"):
        prove_inclusion(log, 7, entry_hash(edited["prev_hash"], edited))


def test_inconsistent_signed_heads_are_refused_offline(key: Key) -> None:
    honest = tree_of(ledger_entries(30))
    forked = tree_of([*ledger_entries(30)[:10], *ledger_entries(20, start=11, who="user:mallory")])
    old = sign_tree_head(15, honest.root_at(15), T0, sign=key.sign, public_key=key.public)
    new = sign_tree_head(30, forked.root(), T0, sign=key.sign, public_key=key.public)  # a key holder's fork
    with pytest.raises(TreeHeadError, match="inconsistent"):
        verify_head_consistency(old, new, prove_consistency(forked, 15), key.public)
    good_new = sign_tree_head(30, honest.root(), T0, sign=key.sign, public_key=key.public)
    proof = prove_consistency(honest, 15)
    verify_head_consistency(old, good_new, proof, key.public)
    with pytest.raises(TreeHeadError, match="goes from 15 to 30 leaves, the heads have 30 and 15"):
        verify_head_consistency(good_new, old, proof, key.public)


def test_malformed_proof_json_says_which_field_is_wrong(key: Key) -> None:
    entries = ledger_entries(4)
    log = tree_of(entries)
    inc = prove_inclusion(log, 2, entries[1]["hash"]).to_dict()
    con = prove_consistency(log, 2).to_dict()
    cases: list[tuple[type, dict[str, Any], str]] = [
        (InclusionProof, dict(inc, leaf_index=5), "leaf_index must be seq - 1"),
        (InclusionProof, dict(inc, seq=9, leaf_index=8), "seq 9 is not in a tree of 4"),
        (InclusionProof, dict(inc, path=["zz"]), r"path\[0\] must be 64 lowercase hex"),
        (InclusionProof, dict(inc, path="ab"), "path must be a list"),
        (InclusionProof, dict(inc, entry_hash="0" * 63), "entry_hash must be 64"),
        (ConsistencyProof, dict(con, old_size=5), "old_size 5 is larger than new_size 4"),
        (ConsistencyProof, dict(con, format=inc["format"]), "format must be"),
    ]
    for cls, data, message in cases:
        with pytest.raises(TreeHeadError, match=message):
            cls.from_dict(data)


def test_the_time_in_a_head_is_the_callers_not_the_modules(key: Key) -> None:
    moment = datetime(2030, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    head = sign_tree_head(0, tree_of([]).root(), timestamp_text(moment), sign=key.sign, public_key=key.public)
    assert head.timestamp == "2030-05-06T07:08:09.123456Z"
    assert base64.b64decode(base64.b64encode(head.signature)) == head.signature
