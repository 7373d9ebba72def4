"""The vault: reversible pseudonymisation, encryption at rest, TTL, scopes."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from charter.data.pii import MemoryVaultStore, Vault, VaultEntry, VaultError
from charter.data.pii.vault import TOKEN

KEY = bytes(range(32))
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def make_vault(store: MemoryVaultStore | None = None, clock: Clock | None = None, seed: int = 0) -> Vault:
    rng = random.Random(seed)
    return Vault(
        KEY,
        store if store is not None else MemoryVaultStore(),
        ttl=timedelta(hours=1),
        clock=clock or Clock(),
        random_bytes=lambda n: rng.randbytes(n),
    )


def test_the_same_value_gets_the_same_token_within_a_scope_only() -> None:
    vault = make_vault()
    a = vault.tokenize("jane@example.com", "EMAIL_ADDRESS", scope="chat-1")
    assert vault.tokenize("jane@example.com", "EMAIL_ADDRESS", scope="chat-1") == a
    assert vault.tokenize("jane@example.com", "EMAIL_ADDRESS", scope="chat-2") != a
    assert vault.tokenize("joe@example.com", "EMAIL_ADDRESS", scope="chat-1") != a
    assert TOKEN.fullmatch(a)


def test_values_are_encrypted_at_rest() -> None:
    store = MemoryVaultStore()
    vault = make_vault(store)
    vault.tokenize("4111 1111 1111 1111", "CREDIT_CARD", scope="s")
    (entry,) = store.entries.values()
    assert b"4111" not in entry.ciphertext and b"4111" not in entry.index
    assert "4111" not in repr(entry)


def test_a_tampered_or_moved_entry_does_not_decrypt() -> None:
    store = MemoryVaultStore()
    vault = make_vault(store)
    token = vault.tokenize("secret value", "SECRET", scope="s")
    entry = store.entries[("s", token)]
    store.entries[("s", token)] = VaultEntry(
        entry.scope,
        entry.token,
        entry.entity,
        entry.index,
        entry.nonce,
        bytes([entry.ciphertext[0] ^ 1]) + entry.ciphertext[1:],
        entry.created_at,
        entry.expires_at,
    )
    with pytest.raises(VaultError, match="failed authentication"):
        vault.restore(f"x {token}", scope="s")
    other = make_vault(store)
    other_token = other.tokenize("another", "SECRET", scope="s")
    moved = store.entries[("s", other_token)]
    store.entries[("t", other_token)] = VaultEntry("t", *vars_of(moved)[1:])
    with pytest.raises(VaultError):
        other.restore(other_token, scope="t")


def vars_of(entry: VaultEntry) -> tuple[object, ...]:
    return (
        entry.scope,
        entry.token,
        entry.entity,
        entry.index,
        entry.nonce,
        entry.ciphertext,
        entry.created_at,
        entry.expires_at,
    )


def test_a_wrong_key_cannot_restore() -> None:
    store = MemoryVaultStore()
    token = make_vault(store).tokenize("value", "SECRET", scope="s")
    stranger = Vault(bytes(32), store, ttl=timedelta(hours=1), clock=Clock())
    with pytest.raises(VaultError, match="wrong key"):
        stranger.restore(token, scope="s")


def test_tokens_expire_and_are_then_left_as_they_are() -> None:
    clock = Clock()
    store = MemoryVaultStore()
    vault = make_vault(store, clock)
    token = vault.tokenize("jane@example.com", "EMAIL_ADDRESS", scope="s")
    clock.now = START + timedelta(minutes=59)
    assert vault.restore(token, scope="s") == "jane@example.com"
    clock.now = START + timedelta(hours=1)
    report = vault.restore_report(f"{token} and {token}", scope="s")
    assert report.text == f"{token} and {token}" and report.expired == 2 and report.restored == 0
    assert vault.tokenize("jane@example.com", "EMAIL_ADDRESS", scope="s") != token  # a new token, a new TTL
    clock.now = START + timedelta(hours=3)
    assert vault.purge_expired() == 2
    assert not store.entries


def test_forgetting_a_scope_wipes_its_values() -> None:
    store = MemoryVaultStore()
    vault = make_vault(store)
    token = vault.tokenize("x@example.com", "EMAIL_ADDRESS", scope="vendor-a")
    vault.tokenize("y@example.com", "EMAIL_ADDRESS", scope="vendor-b")
    assert vault.forget("vendor-a") == 1
    assert vault.restore(token, scope="vendor-a") == token
    assert len(store.entries) == 1


def test_configuration_errors_say_what_is_expected() -> None:
    with pytest.raises(VaultError, match="32 random bytes"):
        Vault(b"short", MemoryVaultStore(), ttl=timedelta(hours=1), clock=Clock())
    with pytest.raises(VaultError, match="TTL must be positive"):
        Vault(KEY, MemoryVaultStore(), ttl=timedelta(0), clock=Clock())
    with pytest.raises(VaultError, match="upper-case"):
        make_vault().tokenize("v", "email", scope="s")


TOKEN_LIKE = st.builds(
    lambda entity, hexa: f"<{entity}_{hexa}>",
    st.sampled_from(["EMAIL_ADDRESS", "TOKEN", "PHONE_NUMBER", "X"]),
    st.text(alphabet="0123456789abcdef", min_size=10, max_size=10),
)
PIECE = st.one_of(st.text(max_size=12), TOKEN_LIKE, st.sampled_from(["<", ">", "_", "<A_", "0123456789>"]))


@given(
    pieces=st.lists(
        st.tuples(PIECE, st.booleans(), st.sampled_from(["EMAIL_ADDRESS", "SECRET", "PERSON"])), max_size=10
    ),
    reuse=st.booleans(),
    seed=st.integers(0, 1000),
)
@settings(max_examples=300, deadline=None)
def test_restore_of_pseudonymise_is_exactly_the_original(
    pieces: list[tuple[str, bool, str]], reuse: bool, seed: int
) -> None:
    """Spans may hold token-like text; the text around them may hold token-like text, even real tokens issued
    earlier in the same scope; restore still gives back exactly the original."""
    vault = make_vault(seed=seed)
    issued = vault.tokenize("earlier value", "EMAIL_ADDRESS", scope="s")
    text = ""
    spans = []
    for piece, is_span, entity in pieces:
        if reuse and not is_span and piece == "":
            piece = issued
        if is_span and piece:
            spans.append((len(text), len(text) + len(piece), entity))
        text += piece
    out = vault.pseudonymise(text, spans, scope="s")
    report = vault.restore_report(out, scope="s")
    assert report.text == text
    # every token-like string sent out is one this scope issued: one per span at least, none unknown
    assert report.unknown == 0 and report.expired == 0
    assert report.restored >= len(spans)
