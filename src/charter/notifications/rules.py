"""Pure notification rules: event-type matching, retry backoff, webhook signatures."""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import timedelta
from typing import Final, Literal, get_args

# Event types Charter emits (other modules may add more; subscriptions may also use 'prefix.*' and '*').
EVENT_TYPES: Final[dict[str, str]] = {
    "incident.opened": "an incident was opened and you are on its first escalation level",
    "incident.escalated": "an unacknowledged incident escalated to your level",
    "incident.acknowledged": "an incident you were paged for was acknowledged",
    "incident.severity_changed": "the severity of an incident changed",
    "incident.status_changed": "an incident changed status",
    "incident.regulatory_deadline": "a serious-incident reporting deadline is approaching or passed",
    "incident.action_item_overdue": "a postmortem action item you own is overdue",
    "incident.postmortem_review": "a postmortem awaits approval",
    "alert.firing": "an alert started firing",
    "alert.resolved": "an alert resolved",
    "release.at_risk": "a release of a system you own is at risk during its post-deployment check",
    "approval.requested": "your approval is requested",
    "approval.decided": "an approval you requested was decided",
    "deadline.approaching": "a deadline you own is approaching",
    "notification.test": "a test message for a channel",
}

EVENT_PATTERN: Final = re.compile(r"^(\*|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*(\.\*)?)$")
ChannelKind = Literal["webhook", "apprise"]
CHANNEL_KINDS: Final[tuple[ChannelKind, ...]] = get_args(ChannelKind)

# Delivery retries: exponential backoff 30 s, 1 min, 2 min, ... capped at 1 h; given up after MAX_ATTEMPTS.
BACKOFF_BASE: Final = timedelta(seconds=30)
BACKOFF_CAP: Final = timedelta(hours=1)
MAX_ATTEMPTS: Final = 6
SIGNATURE_TOLERANCE: Final = timedelta(minutes=5)

SIGNATURE_HEADER: Final = "X-Charter-Signature"
TIMESTAMP_HEADER: Final = "X-Charter-Timestamp"
EVENT_HEADER: Final = "X-Charter-Event"
DELIVERY_HEADER: Final = "X-Charter-Delivery"


def matches(pattern: str, event_type: str) -> bool:
    """'*' matches everything, 'incident.*' every incident event, anything else itself."""
    if pattern == "*":
        return True
    if pattern.endswith(".*"):
        return event_type.startswith(pattern[:-1])
    return pattern == event_type


def valid_event_pattern(pattern: str) -> bool:
    return bool(EVENT_PATTERN.fullmatch(pattern))


def backoff(attempt: int) -> timedelta:
    """Wait after the attempt-th failed attempt (1-based): base * 2**(attempt-1), capped."""
    if attempt < 1:
        raise ValueError("attempt is 1-based")
    delay: timedelta = BACKOFF_BASE * (2 ** min(attempt - 1, 20))
    return delay if delay < BACKOFF_CAP else BACKOFF_CAP


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The X-Charter-Signature value: 'v1=' + hex HMAC-SHA256(secret, f'{timestamp}.' + body)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def verify_signature(
    secret: str,
    timestamp_header: str,
    body: bytes,
    signature_header: str,
    now_ts: int,
    tolerance: timedelta = SIGNATURE_TOLERANCE,
) -> bool:
    """What a receiver does: recompute, compare in constant time, refuse stale timestamps (replays)."""
    try:
        ts = int(timestamp_header)
    except ValueError:
        return False
    if abs(now_ts - ts) > tolerance.total_seconds():
        return False
    expected = signature(secret, ts, body)
    return any(hmac.compare_digest(expected, part.strip()) for part in signature_header.split(","))


def is_http_url(url: str) -> bool:
    return bool(re.fullmatch(r"https?://[^\s/?#]+[^\s]*", url))
