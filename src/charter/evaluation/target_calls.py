"""One HTTP attempt against a target, and `test_target` for `charter eval target test`.

A `Caller` holds what every request of a run shares (method, URL, headers with the resolved secret, timeouts,
one TLS context) and makes single attempts through an httpx transport; each attempt ends in an `Outcome`: a reply,
or a reason and whether a retry may help (429, 5xx, timeouts, connection errors). The retry loop is the runner's.

Why transports, not `httpx.AsyncClient`: the client's shared pool spends CPU per request in proportion to its
connections (4.7 ms per item at 32 connections, measured), and the layers above the transport (cookies,
redirects, URL merging) ~0.2 ms more. One transport with one keep-alive connection per worker is the same httpx
stack at ~0.65 ms CPU per item (benchmarks/eval.py). Proxies from the environment are not applied.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from charter.evaluation.datasets import Sample
from charter.evaluation.target_wire import (
    Reply,
    ReplyError,
    error_excerpt,
    parse_reply,
    request_body,
    request_headers,
    request_method,
    target_url,
)
from charter.evaluation.targets import ChatTarget, HttpTarget, OfflineTarget, TargetError, resolve_secret

Clock = Callable[[], datetime]
MASK = "[redacted]"


def utcnow() -> datetime:
    return datetime.now(UTC)


def mask(text: str | None, secret: str | None) -> str | None:
    """The text with every occurrence of the secret replaced (a model or server may echo it)."""
    if text is None or not secret or secret not in text:
        return text
    return text.replace(secret, MASK)


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """Seconds from a Retry-After header (delta-seconds, also fractional, or an HTTP date), None if absent/bad."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


@functools.cache
def _tls() -> ssl.SSLContext:
    """httpx's default TLS context, built once per process (loading the CA bundle costs ~30 ms of CPU)."""
    return httpx.create_ssl_context()


@dataclass(frozen=True, slots=True)
class Outcome:
    reply: Reply | None
    error: str | None
    retryable: bool
    latency_ms: float | None
    retry_after: float | None = None


class Caller:
    """Single attempts against one target with one resolved secret (never logged: it is in the headers)."""

    def __init__(
        self,
        target: ChatTarget | HttpTarget,
        secret: str | None,
        timeout_s: float,
        clock: Clock = utcnow,
        timer: Callable[[], float] = time.perf_counter,
    ):
        self.target, self.secret, self.timeout_s, self.clock, self.timer = target, secret, timeout_s, clock, timer
        self.ssl = _tls()
        self.method, self.url = request_method(target), httpx.URL(target_url(target))
        self.headers = httpx.Headers(request_headers(target, secret))
        self.extensions = {"timeout": httpx.Timeout(timeout_s).as_dict()}

    def transport(self) -> httpx.AsyncHTTPTransport:
        """A transport with one keep-alive connection, for one worker."""
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        return httpx.AsyncHTTPTransport(verify=self.ssl, limits=limits)

    async def attempt(self, transport: httpx.AsyncHTTPTransport, sample: Sample) -> Outcome:
        try:
            body = request_body(self.target, sample)
        except ReplyError as exc:
            return Outcome(None, str(exc), False, None)
        request = httpx.Request(self.method, self.url, headers=self.headers, content=body, extensions=self.extensions)
        started = self.timer()
        try:
            async with asyncio.timeout(self.timeout_s):  # a total deadline; httpx's are per read/write
                response = await transport.handle_async_request(request)
                try:
                    answer = await response.aread()
                finally:
                    await response.aclose()
        except (TimeoutError, httpx.TimeoutException):
            return Outcome(None, f"timed out after {self.timeout_s:g} s", True, None)
        except httpx.TransportError as exc:
            return Outcome(None, f"connection failed: {type(exc).__name__}: {exc}", True, None)
        latency = (self.timer() - started) * 1000
        status = response.status_code
        if status == 429 or status >= 500:
            wait = retry_after_seconds(response.headers.get("retry-after"), self.clock())
            return Outcome(None, f"HTTP {status}: {error_excerpt(answer)}", True, latency, wait)
        if status >= 300:
            return Outcome(None, f"HTTP {status}: {error_excerpt(answer)}", False, latency)
        try:
            return Outcome(parse_reply(self.target, answer), None, False, latency)
        except ReplyError as exc:
            return Outcome(None, f"unreadable answer: {exc}", False, latency)


@dataclass(frozen=True, slots=True)
class TargetCheck:
    reachable: bool
    detail: str
    latency_ms: float | None = None


async def test_target(
    target: ChatTarget | HttpTarget | OfflineTarget,
    *,
    environ: Mapping[str, str] | None = None,
    timeout_s: float = 15.0,
    probe: Sample | None = None,
) -> TargetCheck:
    """One probe call (no retries) for `charter eval target test`: reachable, or the reason it is not.
    `probe`: the sample to send (e.g. a dataset's first, when a body template needs its metadata)."""
    if isinstance(target, OfflineTarget):
        return TargetCheck(True, f"offline target: {len(target.outputs)} uploaded outputs, nothing to call")
    try:
        secret = resolve_secret(target.secret_ref, environ) if target.secret_ref else None
    except TargetError as exc:
        return TargetCheck(False, str(exc))
    caller = Caller(target, secret, timeout_s)
    probe = probe or Sample(id="charter-probe", input="Reply with the single word OK.")
    async with caller.transport() as transport:
        outcome = await caller.attempt(transport, probe)
    if outcome.reply is None:
        return TargetCheck(False, mask(outcome.error, secret) or "no answer", outcome.latency_ms)
    ms = outcome.latency_ms or 0.0
    said = mask(outcome.reply.output, secret) or ""
    return TargetCheck(True, f"answered in {ms:.0f} ms: {said[:80]!r}", ms)


test_target.__test__ = False  # type: ignore[attr-defined]  # not a pytest test, despite the name
