"""SDK side: the served `Prompt` and `PromptCache`, an in-process cache over an injected fetch.

`PromptCache.get(system, name, label=…|version=…)`:
- fresh entry (younger than `ttl`) → returned without calling anything (a dict look-up);
- stale entry → returned at once while a background thread revalidates it (stale-while-revalidate); the fetch gets
  the cached ETag and may answer NOT_MODIFIED (HTTP 304), which just renews the entry; past `max_stale` (if set)
  the get revalidates in the caller's thread instead;
- no entry → fetched in the caller's thread (one fetch per key however many threads ask at once);
- Charter unreachable (the fetch raises PromptUnreachableError or OSError) → the last known good prompt, else the
  `default` given to get() (a Prompt, a text template, or a list of chat messages; marked `is_fallback`), else
  PromptUnavailableError. A failed key is not retried before `retry_after` seconds, so a down server is not hammered.
Versions are immutable, so a `version=` entry never expires. The clock is injected (`clock`, monotonic seconds).

The fetch is `fetch(key, etag) -> Fetched | NOT_MODIFIED`; the integrator wires it to
`GET /api/v1/systems/{key}/prompts/{name}?label=…` (If-None-Match, 304) in charter/client.py.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from charter.prompts.errors import MissingVariablesError
from charter.prompts.templates import PromptContent

DEFAULT_LABEL = "production"
DEFAULT_TTL = 60.0
DEFAULT_RETRY_AFTER = 5.0


class PromptUnreachableError(Exception):
    """Raised by a fetch when Charter cannot be reached (connection refused, timeout, 5xx): the cache falls back."""


class PromptUnavailableError(RuntimeError):
    """Charter is unreachable and there is neither a last known good prompt nor a default."""


class CacheKey(NamedTuple):
    system: str
    name: str
    label: str | None
    version: int | None

    def __str__(self) -> str:
        return f"{self.system}/{self.name}@{self.version if self.version is not None else self.label}"


@dataclass(frozen=True, eq=False)
class Prompt:
    """A served prompt: render it, and label metrics and traces with `name_at_version` (e.g. `greeting@3`)."""

    name: str
    version: int | None
    hash: str
    content: PromptContent
    system: str | None = None
    label: str | None = None
    includes: tuple[str, ...] = ()
    is_fallback: bool = False

    @property
    def name_at_version(self) -> str:
        return f"{self.name}@{self.version if self.version is not None else 'fallback'}"

    @property
    def type(self) -> str:
        return self.content.type

    @property
    def template(self) -> str | None:
        return self.content.template

    @property
    def messages(self) -> list[dict[str, str]] | None:
        return (
            None
            if self.content.messages is None
            else [{"role": m.role, "content": m.content} for m in self.content.messages]
        )

    @property
    def config(self) -> Mapping[str, Any]:
        return self.content.config

    @property
    def variables(self) -> frozenset[str]:
        return self.content.variables()

    def render(self, **variables: Any) -> str | list[dict[str, str]]:
        """Text (text prompt) or `[{role, content}]` (chat); a missing variable raises MissingVariablesError naming
        every one missing and this prompt's `name@version`. Extra variables are ignored (see render_strict)."""
        return self._render(variables, strict=False)

    def render_strict(self, **variables: Any) -> str | list[dict[str, str]]:
        """Like render, and variables the prompt does not use are refused (UnknownVariablesError)."""
        return self._render(variables, strict=True)

    def _render(self, variables: Mapping[str, Any], strict: bool) -> str | list[dict[str, str]]:
        try:
            return self.content.render(variables, strict=strict)
        except MissingVariablesError as exc:
            raise MissingVariablesError(
                exc.names, where=f"{self.name_at_version} {exc.where}", other=exc.other
            ) from None

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any], *, system: str | None = None, label: str | None = None) -> Prompt:
        """From the serving API's JSON (compose.ResolvedPrompt.to_dict(), plus optional system and label)."""
        includes = tuple(
            item["name_at_version"] if isinstance(item, Mapping) else str(item) for item in payload.get("includes", ())
        )
        return cls(
            name=str(payload["name"]),
            version=payload.get("version"),
            hash=str(payload.get("hash", "")),
            content=PromptContent.from_dict(payload),
            system=payload.get("system", system),
            label=payload.get("label", label),
            includes=includes,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "name_at_version": self.name_at_version,
            "hash": self.hash,
            "system": self.system,
            "label": self.label,
            "includes": list(self.includes),
            "is_fallback": self.is_fallback,
            **self.content.to_dict(),
        }


class NotModified:
    """The fetch's answer when the ETag it was given still matches (HTTP 304)."""

    _instance: NotModified | None = None

    def __new__(cls) -> NotModified:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NOT_MODIFIED"


NOT_MODIFIED = NotModified()


@dataclass(frozen=True)
class Fetched:
    prompt: Prompt
    etag: str | None = None


Fetcher = Callable[[CacheKey, str | None], "Fetched | NotModified"]
Default = Prompt | str | Sequence[Mapping[str, str]]


@dataclass(frozen=True)
class _Entry:
    prompt: Prompt
    etag: str | None
    expires_at: float
    retry_at: float = -math.inf


@dataclass
class CacheStats:
    """Counters for monitoring. `hits` is counted without a lock (a few may be lost under heavy thread contention)."""

    hits: int = 0
    stale_hits: int = 0
    misses: int = 0
    fetches: int = 0
    not_modified: int = 0
    fallbacks: int = 0
    errors: int = 0
    last_error: str | None = field(default=None)


class PromptCache:
    """Thread-safe prompt cache: TTL, stale-while-revalidate, ETag revalidation, fallback. Close it (or use `with`)."""

    def __init__(
        self,
        fetch: Fetcher,
        *,
        ttl: float = DEFAULT_TTL,
        max_stale: float | None = None,
        retry_after: float = DEFAULT_RETRY_AFTER,
        background: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl < 0 or retry_after < 0 or (max_stale is not None and max_stale < 0):
            raise ValueError("ttl, max_stale and retry_after are seconds, 0 or more")
        self._fetch = fetch
        self._ttl = ttl
        self._max_stale = max_stale
        self._retry_after = retry_after
        self._background = background
        self._clock = clock
        self._entries: dict[CacheKey, _Entry] = {}
        self._lock = threading.Lock()
        self._key_locks: dict[CacheKey, threading.Lock] = {}
        self._stats = CacheStats()
        self._queue: deque[CacheKey | None] = deque()
        self._pending: set[CacheKey] = set()
        self._wake = threading.Condition(self._lock)
        self._worker: threading.Thread | None = None
        self._closed = False

    # ------------------------------------------------------------ reading

    def get(
        self,
        system: str,
        name: str,
        *,
        label: str | None = None,
        version: int | None = None,
        default: Default | None = None,
    ) -> Prompt:
        """The prompt for (system, name, label|version); label defaults to `production`."""
        if version is None:
            key = CacheKey(system, name, label or DEFAULT_LABEL, None)
        elif label is not None:
            raise ValueError("ask for a label or a version, not both")
        else:
            key = CacheKey(system, name, None, version)
        entry = self._entries.get(key)
        if entry is not None:
            now = self._clock()
            if now < entry.expires_at:
                self._stats.hits += 1  # no lock on the hot path: under heavy contention a count may be lost
                return entry.prompt
            if self._max_stale is None or now < entry.expires_at + self._max_stale:
                self._count("stale_hits")
                if now >= entry.retry_at:
                    if self._background and not self._closed:
                        self._schedule(key)
                    else:
                        return self._load(key, default, force=True)
                return entry.prompt
        else:
            self._count("misses")
        return self._load(key, default, force=entry is not None)

    def refresh(self, system: str, name: str, *, label: str | None = None, version: int | None = None) -> Prompt:
        """Revalidate now in this thread (ETag sent), whatever the entry's age."""
        key = (
            CacheKey(system, name, label or DEFAULT_LABEL, None)
            if version is None
            else CacheKey(system, name, None, version)
        )
        return self._load(key, None, force=True)

    @property
    def stats(self) -> CacheStats:
        with self._lock:
            return replace(self._stats)

    def invalidate(self, system: str | None = None, name: str | None = None) -> int:
        """Drop entries (all, a system's, or one prompt's); returns how many were dropped."""
        with self._lock:
            doomed = [
                k for k in self._entries if (system is None or k.system == system) and (name is None or k.name == name)
            ]
            for key in doomed:
                del self._entries[key]
            return len(doomed)

    # ------------------------------------------------------------ fetching

    def _count(self, stat: str, error: str | None = None) -> None:
        with self._lock:
            setattr(self._stats, stat, getattr(self._stats, stat) + 1)
            if error is not None:
                self._stats.errors += 1
                self._stats.last_error = error

    def _key_lock(self, key: CacheKey) -> threading.Lock:
        with self._lock:
            lock = self._key_locks.get(key)
            if lock is None:
                lock = self._key_locks[key] = threading.Lock()
            return lock

    def _expiry(self, key: CacheKey, now: float) -> float:
        return math.inf if key.version is not None else now + self._ttl

    def _load(self, key: CacheKey, default: Default | None, *, force: bool) -> Prompt:
        with self._key_lock(key):
            entry = self._entries.get(key)
            now = self._clock()
            if entry is not None and not force and now < entry.expires_at:
                return entry.prompt  # another thread filled it while we waited
            try:
                answer = self._fetch(key, entry.etag if entry is not None else None)
            except (PromptUnreachableError, OSError) as exc:
                return self._fall_back(key, entry, default, exc, now)
            except Exception as exc:
                self._count("fetches", error=f"{key}: {exc}")
                if entry is not None:
                    self._store(key, replace(entry, retry_at=now + self._retry_after))
                raise
            return self._accept(key, entry, answer, now)

    def _accept(self, key: CacheKey, entry: _Entry | None, answer: Fetched | NotModified, now: float) -> Prompt:
        if isinstance(answer, NotModified):
            if entry is None or entry.prompt.is_fallback:
                raise PromptUnavailableError(f"{key}: the server answered 'not modified' to a request without an ETag")
            self._count("not_modified")
            self._store(key, _Entry(entry.prompt, entry.etag, self._expiry(key, now)))
            return entry.prompt
        self._count("fetches")
        prompt = answer.prompt
        if prompt.system is None or prompt.label != key.label:
            prompt = replace(prompt, system=prompt.system or key.system, label=key.label)
        self._store(key, _Entry(prompt, answer.etag, self._expiry(key, now)))
        return prompt

    def _fall_back(
        self, key: CacheKey, entry: _Entry | None, default: Default | None, exc: BaseException, now: float
    ) -> Prompt:
        self._count("fallbacks", error=f"{key}: Charter unreachable: {exc}")
        if entry is not None:
            self._store(key, replace(entry, retry_at=now + self._retry_after))
            return entry.prompt
        if default is None:
            raise PromptUnavailableError(
                f"prompt {key} is unavailable: Charter cannot be reached ({exc}) and there is no cached copy; "
                "pass default= to get() to serve a fallback"
            ) from exc
        prompt = _fallback_prompt(key, default)
        self._store(key, _Entry(prompt, None, now + self._retry_after, now + self._retry_after))
        return prompt

    def _store(self, key: CacheKey, entry: _Entry) -> None:
        with self._lock:
            self._entries[key] = entry

    # ------------------------------------------------------------ background refresh

    def _schedule(self, key: CacheKey) -> None:
        with self._lock:
            if key in self._pending or self._closed:
                return
            self._pending.add(key)
            self._queue.append(key)
            if self._worker is None:
                self._worker = threading.Thread(target=self._run, name="charter-prompt-refresh", daemon=True)
                self._worker.start()
            self._wake.notify_all()

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._queue:
                    self._wake.wait()
                key = self._queue.popleft()
            if key is None:
                return
            try:
                self._load(key, None, force=True)
            except Exception:  # noqa: S110 - recorded in stats by _load; the stale entry keeps being served
                pass
            finally:
                with self._lock:
                    self._pending.discard(key)
                    self._wake.notify_all()

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until no background refresh is pending (tests, shutdown); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._wake.wait(left)
            return True

    def close(self, timeout: float = 5.0) -> None:
        """Stop the background thread; later gets revalidate in the caller's thread."""
        with self._lock:
            self._closed = True
            worker = self._worker
            self._queue.append(None)
            self._wake.notify_all()
        if worker is not None:
            worker.join(timeout)

    def __enter__(self) -> PromptCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _fallback_prompt(key: CacheKey, default: Default) -> Prompt:
    if isinstance(default, Prompt):
        return replace(default, is_fallback=True, system=default.system or key.system)
    content = PromptContent.text(default) if isinstance(default, str) else PromptContent.chat(list(default))
    return Prompt(key.name, None, content.hash, content, key.system, key.label, (), True)
