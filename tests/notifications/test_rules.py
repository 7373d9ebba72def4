from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from charter.notifications.rules import (
    BACKOFF_CAP,
    backoff,
    is_http_url,
    matches,
    signature,
    valid_event_pattern,
    verify_signature,
)


@pytest.mark.parametrize(
    ("pattern", "event", "expected"),
    [
        ("*", "incident.escalated", True),
        ("incident.*", "incident.escalated", True),
        ("incident.*", "incidents.escalated", False),
        ("incident.escalated", "incident.escalated", True),
        ("incident.escalated", "incident.opened", False),
        ("alert.*", "incident.opened", False),
    ],
)
def test_subscription_patterns_match_exact_prefix_and_everything(pattern: str, event: str, expected: bool) -> None:
    assert matches(pattern, event) is expected


@pytest.mark.parametrize("pattern", ["*", "incident.*", "incident.escalated", "alert.firing"])
def test_valid_event_patterns_are_accepted(pattern: str) -> None:
    assert valid_event_pattern(pattern)


@pytest.mark.parametrize("pattern", ["", "**", "incident.", "Incident.opened", "incident.*.x", "a b"])
def test_invalid_event_patterns_are_refused(pattern: str) -> None:
    assert not valid_event_pattern(pattern)


def test_backoff_doubles_from_thirty_seconds_and_is_capped_at_an_hour() -> None:
    assert [backoff(n) for n in range(1, 5)] == [
        timedelta(seconds=30),
        timedelta(minutes=1),
        timedelta(minutes=2),
        timedelta(minutes=4),
    ]
    assert backoff(50) == BACKOFF_CAP == timedelta(hours=1)
    with pytest.raises(ValueError):
        backoff(0)


def test_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    body = b'{"event":"incident.opened"}'
    expected = hmac.new(b"s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signature("s3cret", 1700000000, body) == f"v1={expected}"


@given(body=st.binary(max_size=512), secret=st.text(min_size=1, max_size=40), ts=st.integers(0, 2**31))
def test_a_receiver_verifies_what_was_signed(body: bytes, secret: str, ts: int) -> None:
    assert verify_signature(secret, str(ts), body, signature(secret, ts, body), now_ts=ts)


@given(body=st.binary(min_size=1, max_size=256), flip=st.integers(0, 255))
def test_any_change_to_the_body_breaks_the_signature(body: bytes, flip: int) -> None:
    sig = signature("secret", 100, body)
    tampered = bytes([body[0] ^ (flip or 1)]) + body[1:]
    assert not verify_signature("secret", "100", tampered, sig, now_ts=100)


def test_a_stale_or_garbled_timestamp_or_wrong_secret_is_refused() -> None:
    sig = signature("secret", 1000, b"x")
    assert verify_signature("secret", "1000", b"x", sig, now_ts=1000 + 299)
    assert not verify_signature("secret", "1000", b"x", sig, now_ts=1000 + 301)  # replay window: 5 min
    assert not verify_signature("secret", "not-a-number", b"x", sig, now_ts=1000)
    assert not verify_signature("other", "1000", b"x", sig, now_ts=1000)


def test_only_http_urls_are_webhook_targets() -> None:
    assert is_http_url("https://hooks.example.com/charter?x=1")
    assert is_http_url("http://127.0.0.1:8080/hook")
    assert not is_http_url("ftp://example.com")
    assert not is_http_url("file:///etc/passwd")
    assert not is_http_url("https://")
