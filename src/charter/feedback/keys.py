"""Feedback keys: public, write-only credentials scoped to one system.

A key is `chf_` + 256 random bits, stored as its SHA-256. It authenticates only
POST /api/v1/systems/{key}/feedback (charter.feedback.api resolves it there); everywhere else it is an
unknown bearer token (401), so it can post feedback and nothing else. Revocable; rate-limited per key.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select

from charter.feedback.models import FeedbackKey
from charter.feedback.schemas import KeyCreate, KeyRead
from charter.inventory.queries import get_system
from charter.kit.errors import CharterError, Conflict, NotFound, Unauthenticated
from charter.kit.principal import Principal

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from charter.context import Ctx

KEY_PREFIX = "chf_"


class RateLimited(CharterError):
    status = 429
    type_slug = "rate-limited"
    title = "Too many requests"


def hash_key(clear: str) -> str:
    return hashlib.sha256(clear.encode()).hexdigest()


def to_read(key: FeedbackKey, system: str, clear: str | None = None) -> KeyRead:
    return KeyRead(
        id=key.id,
        system=system,
        name=key.name,
        prefix=key.prefix,
        rate_per_minute=key.rate_per_minute,
        created_at=key.created_at,
        created_by=key.created_by,
        revoked_at=key.revoked_at,
        key=clear,
    )


def create_key(ctx: Ctx, system_key: str, data: KeyCreate) -> KeyRead:
    ctx.require("feedback:manage")
    system = get_system(ctx.session, system_key)
    clear = KEY_PREFIX + secrets.token_urlsafe(32)
    key = FeedbackKey(
        system_id=system.id,
        name=data.name,
        prefix=clear[:12],
        key_hash=hash_key(clear),
        rate_per_minute=data.rate_per_minute,
        created_at=ctx.now(),
        created_by=ctx.principal.actor,
    )
    ctx.session.add(key)
    ctx.session.flush()
    ctx.record(
        "feedback_key.created",
        "feedback_key",
        key.id,
        after={"system": system.key, "name": key.name, "prefix": key.prefix, "rate_per_minute": key.rate_per_minute},
    )
    return to_read(key, system.key, clear)


def list_keys(ctx: Ctx, system_key: str) -> list[KeyRead]:
    ctx.require("feedback:read")
    system = get_system(ctx.session, system_key)
    keys = ctx.session.scalars(select(FeedbackKey).where(FeedbackKey.system_id == system.id).order_by(FeedbackKey.id))
    return [to_read(k, system.key) for k in keys]


def revoke_key(ctx: Ctx, system_key: str, key_id: int) -> KeyRead:
    ctx.require("feedback:manage")
    system = get_system(ctx.session, system_key)
    key = ctx.session.get(FeedbackKey, key_id)
    if key is None or key.system_id != system.id:
        raise NotFound(f"no feedback key {key_id} for system '{system.key}'")
    if key.revoked_at is not None:
        raise Conflict(f"feedback key {key_id} was already revoked at {key.revoked_at.isoformat()}")
    key.revoked_at = ctx.now()
    key.revoked_by = ctx.principal.actor
    ctx.session.flush()
    ctx.record("feedback_key.revoked", "feedback_key", key.id, after={"system": system.key, "prefix": key.prefix})
    return to_read(key, system.key)


@dataclass(frozen=True)
class KeyPrincipal:
    principal: Principal
    key_id: int
    system_id: int
    rate_per_minute: int


def resolve(session: Session, clear: str) -> KeyPrincipal:
    """The principal of a feedback key: may only post feedback (scope feedback:write) for its own system."""
    key = session.execute(select(FeedbackKey).where(FeedbackKey.key_hash == hash_key(clear))).scalar_one_or_none()
    if key is None:
        raise Unauthenticated("unknown feedback key; create one with 'charter feedback keys create SYSTEM'")
    if key.revoked_at is not None:
        raise Unauthenticated(f"this feedback key was revoked at {key.revoked_at.isoformat()}; ask for a new one")
    principal = Principal(
        kind="token",
        user_id=None,
        name=f"feedback-key:{key.prefix}",
        role="viewer",
        scopes=frozenset({"feedback:write"}),
        token_id=key.id,
    )
    return KeyPrincipal(principal, key.id, key.system_id, key.rate_per_minute)


class RateLimiter:
    """A token bucket per key (in this process): rate_per_minute, with bursts up to a second's worth or 10."""

    def __init__(self) -> None:
        self._buckets: dict[int, tuple[float, datetime]] = {}
        self._lock = threading.Lock()

    def take(self, key_id: int, rate_per_minute: int, now: datetime) -> None:
        per_second = rate_per_minute / 60
        capacity = max(10.0, per_second)
        with self._lock:
            tokens, last = self._buckets.get(key_id, (capacity, now))
            tokens = min(capacity, tokens + max(0.0, (now - last).total_seconds()) * per_second)
            if tokens < 1:
                self._buckets[key_id] = (tokens, now)
                wait = (1 - tokens) / per_second
                raise RateLimited(
                    f"this feedback key may post {rate_per_minute} times a minute; retry in {wait:.1f} s",
                    retry_after=round(wait, 1),
                )
            self._buckets[key_id] = (tokens - 1, now)
