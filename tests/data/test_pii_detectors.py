"""The always-on detectors: what they find, what they refuse, how context and overlaps are handled."""

from __future__ import annotations

from itertools import pairwise

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum import iban, luhn

from charter.data.pii import ENTITIES, Detector, PiiError, Span, default_detector
from charter.data.pii import validators as v
from charter.data.pii.catalog import PRIORITY
from charter.data.pii.spans import resolve
from tests.data.pii_corpus import TEMPLATES, Generator

D = default_detector()


def found(text: str, **kwargs: object) -> list[tuple[str, str]]:
    return [(s.entity, text[s.start : s.end]) for s in D.find(text, **kwargs)]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Mail john.smith@example.com today", ("EMAIL_ADDRESS", "john.smith@example.com")),
        ("Call me at (212) 736-5000.", ("PHONE_NUMBER", "(212) 736-5000")),
        ("Office +44 20 7946 0958, ask for Sam", ("PHONE_NUMBER", "+44 20 7946 0958")),
        ("card 4111 1111 1111 1111 exp 12/29", ("CREDIT_CARD", "4111 1111 1111 1111")),
        ("IBAN GB82 WEST 1234 5698 7654 32 EUR", ("IBAN_CODE", "GB82 WEST 1234 5698 7654 32")),
        ("SSN 536-22-1048 on file", ("US_SSN", "536-22-1048")),
        ("ITIN 912-71-1234", ("US_ITIN", "912-71-1234")),
        ("login from 8.8.4.4 failed", ("IP_ADDRESS", "8.8.4.4")),
        ("via 2001:4860:4860::8888 then", ("IP_ADDRESS", "2001:4860:4860::8888")),
        ("see https://example.org/a?b=1).", ("URL", "https://example.org/a?b=1")),
        ("born on March 3, 1985 in", ("DATE_TIME", "March 3, 1985")),
        ("DOB 14/03/1985", ("DATE_TIME", "14/03/1985")),
        ("pay 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2 now", ("CRYPTO", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2")),
        (
            "segwit bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq ok",
            ("CRYPTO", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"),
        ),
        ("NHS number 943 476 5919", ("UK_NHS", "943 476 5919")),
        ("ABN 51 824 753 556", ("AU_ABN", "51 824 753 556")),
        ("TFN 123 456 782", ("AU_TFN", "123 456 782")),
        ("ACN 004 085 616", ("AU_ACN", "004 085 616")),
        ("SIN 130 692 544", ("CA_SIN", "130 692 544")),
        ("BSN 111222333", ("NL_BSN", "111222333")),
        ("DNI 12345678Z", ("ES_NIF", "12345678Z")),
        ("NIE X1234567L", ("ES_NIE", "X1234567L")),
        ("codice fiscale RSSMRA85T10A562S", ("IT_FISCAL_CODE", "RSSMRA85T10A562S")),
        ("PAN AFZPK7190K", ("IN_PAN", "AFZPK7190K")),
        ("Aadhaar 2345 6789 0124", ("IN_AADHAAR", "2345 6789 0124")),
        ("PESEL 44051401359", ("PL_PESEL", "44051401359")),
        ("HETU 131052-308T", ("FI_PERSONAL_IDENTITY_CODE", "131052-308T")),
        ("personnummer 811228-9874", ("SE_PERSONNUMMER", "811228-9874")),
        ("TC Kimlik 10000000146", ("TR_NATIONAL_ID", "10000000146")),
        ("CPF 390.533.447-05", ("BR_CPF", "390.533.447-05")),
        ("NIR 2 95 10 99 126 111 93", ("FR_NIR", "2 95 10 99 126 111 93")),
        ("key AKIAIOSFODNN7EXAMPLE in the log", ("SECRET", "AKIAIOSFODNN7EXAMPLE")),
        ("password=hunter22", ("SECRET", "hunter22")),
    ],
)
def test_each_entity_type_is_found_with_its_exact_span(text: str, expected: tuple[str, str]) -> None:
    assert expected in found(text)


@pytest.mark.parametrize(
    "text",
    [
        "card 4111 1111 1111 1112 declined",  # Luhn fails
        "IBAN GB83 WEST 1234 5698 7654 32",  # mod-97 fails
        "NHS number 112 476 5919",  # mod-11 fails
        "SSN 000-12-3456 and 666-12-3456",  # never-issued areas
        "DNI 12345678A",  # wrong check letter
        "codice fiscale RSSMRA85T10A562X",  # wrong check character
        "Aadhaar 2345 6789 0125",  # Verhoeff fails
        "upgraded to v2.10.3 and version 1.2.3.4",  # versions are not IP addresses or dates
        "2024-03-01T12:00:00Z GET /health 200",  # a log timestamp is not a date of birth
        "[2024-03-01 12:00:00,123] worker started",
        "Order #48213377 shipped; order number 123456782",  # order numbers (the second passes TFN's checksum)
        "Dial 123-456-7890 (area codes never start with 1)",
        "server 999.1.2.3 is not an address",
        "commit 3f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39 merged",
        "password: <redacted>",
        "api_key: YOUR_API_KEY",
    ],
)
def test_near_misses_are_rejected(text: str) -> None:
    assert found(text) == []


def test_context_words_raise_the_score_and_can_make_a_weak_identifier_reportable() -> None:
    bare = "Noted 123 456 782 today"
    assert found(bare) == []  # a 9-digit number passing TFN's mod 11 is not reported on its own
    assert D.find(bare, threshold=0.0)  # but it is a candidate
    (span,) = D.find("My TFN is 123 456 782.")
    assert span.entity == "AU_TFN"
    assert span.score >= 0.6
    plain = D.find("Reach 212-736-5000 anytime")[0].score
    phone = D.find("Phone: 212-736-5000 anytime")[0].score
    assert phone > plain


def test_a_negative_word_right_before_a_number_lowers_its_score() -> None:
    assert D.find("Date 07/04/1999 noted")[0].entity == "DATE_TIME"
    assert D.find("Order 07/04/1999 noted") == []


def test_a_column_name_counts_as_context() -> None:
    assert D.find("123 456 782") == []
    assert [s.entity for s in D.find("123 456 782", context=["tfn"])] == ["AU_TFN"]
    assert [s.entity for s in D.find("hunter22!", context=["db_password"])] == ["SECRET"]


def test_scores_are_presidio_like_in_zero_one() -> None:
    for span in D.find("Card 4111111111111111, mail a@example.com, call +44 20 7946 0958", threshold=0.0):
        assert 0.0 <= span.score <= 1.0


def test_overlaps_keep_the_most_specific_reading() -> None:
    text = "Write to ana@example.com"
    # the domain is also a bare-domain URL candidate; the e-mail (longer, higher score) wins
    assert found(text) == [("EMAIL_ADDRESS", "ana@example.com")]
    assert found("https://hooks.slack.com/services/T0000000/B0000000/XXXXXXXXXXXXXXXXXXXXXXXX")[0][0] == "SECRET"


def test_a_private_key_block_is_one_secret() -> None:
    text = "key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7\nabc\n-----END RSA PRIVATE KEY-----\nbye"
    (span,) = D.find(text)
    assert span.entity == "SECRET"
    assert text[span.start : span.end].startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert text[span.start : span.end].endswith("-----END RSA PRIVATE KEY-----")


def test_restricting_entities_and_rejecting_unknown_ones() -> None:
    only = Detector(["EMAIL_ADDRESS"])
    assert [s.entity for s in only.find("a@example.com 4111 1111 1111 1111")] == ["EMAIL_ADDRESS"]
    with pytest.raises(PiiError, match=r"PERSON.*NLP backend"):
        Detector(["PERSON"])
    with pytest.raises(PiiError, match="unknown entity type"):
        Detector(["EMAIL"])


def test_published_examples_and_generated_values_agree_with_the_reference_libraries() -> None:
    assert luhn.is_valid("4111111111111111") and iban.is_valid("GB82WEST12345698765432")
    g = Generator(5)
    values = g.values()
    for entity in v.STDNUM:
        for _ in range(20):
            value = values[entity]()
            assert v.national_id(entity, value), (entity, value)
    for _ in range(50):
        number = g.phone()
        region = None if number.startswith("+") else ("GB" if number.startswith("0") else "US")
        parsed = phonenumbers.parse(number, region)
        assert phonenumbers.is_valid_number(parsed), number
        assert v.phone_number(number, ("US", "CA") if region == "US" else ("GB",)) or region is None
    assert {e for e in TEMPLATES} == set(ENTITIES)


@given(st.lists(st.sampled_from(list(TEMPLATES)), min_size=1, max_size=8), st.integers(0, 2**16))
@settings(max_examples=25, deadline=None)
def test_find_many_gives_what_find_gives_text_by_text(entities: list[str], seed: int) -> None:
    g = Generator(seed)
    texts = [g.labelled(e).text for e in entities] + ["", "plain words only"]
    assert D.find_many(texts) == [D.find(t) for t in texts]


spans_strategy = st.lists(
    st.builds(
        lambda start, length, entity, score: Span(start, start + length, entity, score),
        st.integers(0, 60),
        st.integers(1, 15),
        st.sampled_from(list(PRIORITY)),
        st.sampled_from([0.3, 0.5, 0.85, 1.0]),
    ),
    max_size=12,
)


@given(spans_strategy, st.randoms())
@settings(max_examples=200, deadline=None)
def test_overlap_resolution_is_deterministic_and_leaves_no_overlap(spans: list[Span], rnd: object) -> None:
    shuffled = list(spans)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    kept = resolve(spans, PRIORITY)
    assert kept == resolve(shuffled, PRIORITY)
    assert all(a.end <= b.start for a, b in pairwise(kept))
    for span in spans:  # every dropped span overlaps a kept one that ranks at least as high
        if span not in kept:
            assert any(k.start < span.end and span.start < k.end and k.score >= span.score for k in kept)


@pytest.mark.parametrize(
    ("address", "score"),
    [
        ("8.8.8.8", 0.6),
        ("10.1.2.3", 0.5),
        ("172.31.255.255", 0.5),
        ("172.32.0.1", 0.6),
        ("192.168.0.1", 0.5),
        ("100.64.0.1", 0.5),
        ("169.254.10.10", 0.3),
        ("127.0.0.1", 0.1),
        ("0.0.0.0", 0.1),
        ("192.0.2.55", 0.1),
        ("224.0.0.1", 0.1),
        ("255.255.255.255", 0.1),
        ("256.1.1.1", None),
        ("01.2.3.4", None),
        ("2001:4860:4860::8888", 0.6),
        ("fe80::1", 0.3),
        ("::1", 0.1),
        ("1.2.3", None),
    ],
)
def test_ip_addresses_are_scored_by_how_personal_their_range_is(address: str, score: float | None) -> None:
    assert v.ip_address_score(address) == score


def test_an_international_number_in_parentheses_ends_before_the_closing_parenthesis() -> None:
    text = "Customer (phone +44 20 7946 0958) paid; call +1 (415) 555-2671)."
    spans = [text[s.start : s.end] for s in default_detector().find(text) if s.entity == "PHONE_NUMBER"]
    assert spans == ["+44 20 7946 0958", "+1 (415) 555-2671"]
