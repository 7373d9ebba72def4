"""The egress guard: per-vendor policies, each action, blocking, counts without values, NLP absence."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from charter.data.pii import (
    Analyzer,
    EgressPolicy,
    Guard,
    MemoryVaultStore,
    NlpBackend,
    PolicyError,
    Vault,
    default_detector,
    nlp_status,
)

TEXT = "Hi, I am reachable at jane.doe@example.com or +44 20 7946 0958; card 4111 1111 1111 1111."
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def make_guard(**kwargs: object) -> Guard:
    vault = Vault(b"k" * 32, MemoryVaultStore(), ttl=timedelta(hours=1), clock=lambda: NOW)
    return Guard(default_detector(), hmac_key=b"h" * 32, vault=vault, **kwargs)  # type: ignore[arg-type]


def policy(**entities: str) -> EgressPolicy:
    return EgressPolicy.from_dict({"vendor": "acme-llm", "entities": entities, "default": "allow"})


def test_redact_replaces_values_by_their_entity_type() -> None:
    result = make_guard().apply(TEXT, policy(EMAIL_ADDRESS="redact", CREDIT_CARD="redact"))
    assert result.text == "Hi, I am reachable at <EMAIL_ADDRESS> or +44 20 7946 0958; card <CREDIT_CARD>."
    assert not result.blocked
    assert result.counts == {
        "EMAIL_ADDRESS": {"redact": 1},
        "PHONE_NUMBER": {"allow": 1},
        "CREDIT_CARD": {"redact": 1},
    }


def test_mask_keeps_a_few_characters() -> None:
    result = make_guard().apply(TEXT, policy(CREDIT_CARD="mask", PHONE_NUMBER="mask"))
    assert result.text is not None
    assert "card **** **** **** 1111." in result.text
    assert "4111 1111 1111 1111" not in result.text and "7946 0958" not in result.text


def test_hash_is_a_keyed_hmac_stable_per_key() -> None:
    first = make_guard().apply(TEXT, policy(EMAIL_ADDRESS="hash"))
    again = make_guard().apply(TEXT, policy(EMAIL_ADDRESS="hash"))
    other = Guard(default_detector(), hmac_key=b"x" * 32).apply(TEXT, policy(EMAIL_ADDRESS="hash"))
    assert first.text == again.text
    assert first.text != other.text
    assert first.text is not None and "jane.doe" not in first.text
    assert "<EMAIL_ADDRESS#" in first.text


def test_block_refuses_the_text_and_stores_nothing() -> None:
    guard = make_guard()
    result = guard.apply(TEXT, policy(CREDIT_CARD="block", EMAIL_ADDRESS="pseudonymise"))
    assert result.blocked and result.text is None
    assert result.blocked_by == ("CREDIT_CARD",)
    assert result.metrics == {"pii_detected": 3, "pii_blocked": 1}
    assert guard.vault is not None and not guard.vault.store.entries  # type: ignore[attr-defined]


def test_pseudonymised_values_come_back_in_the_vendor_answer() -> None:
    guard = make_guard()
    result = guard.apply(TEXT, policy(EMAIL_ADDRESS="pseudonymise", PHONE_NUMBER="pseudonymise"), scope="chat-1")
    assert result.text is not None and "jane.doe@example.com" not in result.text
    token = result.text.split("reachable at ")[1].split(" ")[0]
    answer = f"Sure: I will write to {token} today, then call. Ref <EMAIL_ADDRESS_0000000000>."
    assert guard.restore(answer, scope="chat-1") == (
        "Sure: I will write to jane.doe@example.com today, then call. Ref <EMAIL_ADDRESS_0000000000>."
    )
    assert guard.restore(answer, scope="chat-2") == answer  # another scope holds nothing of this one


def test_the_record_of_a_call_never_holds_a_value() -> None:
    result = make_guard().apply(TEXT, policy(EMAIL_ADDRESS="pseudonymise", CREDIT_CARD="hash", PHONE_NUMBER="mask"))
    record = json.dumps(result.to_dict())
    for value in ("jane.doe", "example.com", "7946", "4111"):
        assert value not in record
    assert result.to_dict()["pii_detected"] == 3


def test_the_default_action_covers_entity_types_the_policy_does_not_name() -> None:
    doc = {"vendor": "acme-llm", "entities": {"EMAIL_ADDRESS": "allow"}}
    result = make_guard().apply(TEXT, EgressPolicy.from_dict(doc))  # default: redact
    assert result.text == "Hi, I am reachable at jane.doe@example.com or <PHONE_NUMBER>; card <CREDIT_CARD>."


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (
            {"vendor": "v", "entities": {"EMAIL": "redact"}},
            "unknown entity type 'EMAIL' \\(did you mean EMAIL_ADDRESS\\?\\)",
        ),
        (
            {"vendor": "v", "entities": {"EMAIL_ADDRESS": "scramble"}},
            "unknown action 'scramble'; allowed: block, redact",
        ),
        ({"vendor": "v", "default": "drop"}, "default: unknown action 'drop'"),
        ({"vendor": ""}, "needs a vendor name"),
        ({"vendor": "v", "threshold": 3}, "threshold must be a number between 0 and 1"),
        ({"vendor": "v", "entites": {}}, "unknown policy key\\(s\\) entites"),
        ({"vendor": "v", "on_undetectable": "ignore"}, "on_undetectable must be 'warn' or 'block'"),
    ],
)
def test_invalid_policies_are_refused_with_what_is_allowed(doc: dict[str, object], message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        EgressPolicy.from_dict(doc)


def test_a_policy_needing_a_key_or_a_vault_the_guard_lacks_is_refused() -> None:
    bare = Guard(default_detector())
    with pytest.raises(PolicyError, match="hashes values but no HMAC key"):
        bare.apply(TEXT, policy(EMAIL_ADDRESS="hash"))
    with pytest.raises(PolicyError, match="pseudonymises values but no vault"):
        bare.apply(TEXT, policy(EMAIL_ADDRESS="pseudonymise"))


def test_without_the_nlp_backend_names_are_reported_as_not_looked_for() -> None:
    if nlp_status().available:
        pytest.skip("a spaCy model is installed here")
    analyzer = Analyzer()
    warn = Guard(analyzer).apply("Call Jane Doe", policy(PERSON="redact"))
    assert warn.text == "Call Jane Doe" and warn.not_looked_for == ("PERSON",)
    strict = EgressPolicy.from_dict({"vendor": "v", "entities": {"PERSON": "redact"}, "on_undetectable": "block"})
    refused = Guard(analyzer).apply("Call Jane Doe", strict)
    assert refused.blocked and refused.blocked_by == ("PERSON",)
    assert "not looked for" in nlp_status().reason


def test_with_an_nlp_pipeline_names_and_places_are_detected() -> None:
    spacy = pytest.importorskip("spacy")
    pytest.importorskip("presidio_analyzer")
    nlp = spacy.blank("en")
    nlp.add_pipe("entity_ruler").add_patterns(
        [{"label": "PERSON", "pattern": [{"LOWER": "jane"}, {"LOWER": "doe"}]}, {"label": "GPE", "pattern": "Paris"}]
    )
    analyzer = Analyzer(nlp=NlpBackend(nlp, model="blank-en+rules"))
    assert analyzer.not_looked_for == ()
    result = Guard(analyzer).apply(
        "Jane Doe flew to Paris, mail jane.doe@example.com",
        policy(PERSON="redact", LOCATION="redact", EMAIL_ADDRESS="redact"),
    )
    assert result.text == "<PERSON> flew to <LOCATION>, mail <EMAIL_ADDRESS>"
