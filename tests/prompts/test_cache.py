"""SDK cache: TTL, stale-while-revalidate, ETag, fallback, thread safety; the served Prompt; a real HTTP round trip."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from charter.prompts.cache import (
    NOT_MODIFIED,
    CacheKey,
    Fetched,
    NotModified,
    Prompt,
    PromptCache,
    PromptUnavailableError,
    PromptUnreachableError,
)
from charter.prompts.compose import ResolvedPrompt
from charter.prompts.errors import MissingVariablesError, UnknownVariablesError
from charter.prompts.templates import PromptContent


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def make_prompt(name: str, version: int, template: str) -> Prompt:
    content = PromptContent.text(template)
    return Prompt(name, version, content.hash, content)


class FakeCharter:
    """The fetch seam: answers by label, honours ETags, can be taken down."""

    def __init__(self) -> None:
        self.live: dict[str, Prompt] = {"greeting": make_prompt("greeting", 1, "Hello {{ name }}")}
        self.calls: list[tuple[str, str | None]] = []
        self.down = False
        self.error: Exception | None = None
        self.gate: threading.Event | None = None

    def __call__(self, key: CacheKey, etag: str | None) -> Fetched | NotModified:
        self.calls.append((str(key), etag))
        if self.gate is not None:
            self.gate.wait(5)
        if self.down:
            raise PromptUnreachableError("connection refused")
        if self.error is not None:
            raise self.error
        prompt = self.live[key.name]
        if key.version is not None:
            prompt = make_prompt(key.name, key.version, f"pinned v{key.version}")
        if etag == prompt.hash:
            return NOT_MODIFIED
        return Fetched(prompt, prompt.hash)


@pytest.fixture
def charter() -> FakeCharter:
    return FakeCharter()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cache(charter: FakeCharter, clock: Clock) -> Iterator[PromptCache]:
    with PromptCache(charter, ttl=60, retry_after=5, clock=clock) as made:
        yield made


def test_a_fresh_entry_is_served_without_a_fetch(cache: PromptCache, charter: FakeCharter, clock: Clock) -> None:
    first = cache.get("support-bot", "greeting")
    clock.now += 59
    assert cache.get("support-bot", "greeting") is first
    assert charter.calls == [("support-bot/greeting@production", None)]
    assert (first.name_at_version, first.system, first.label) == ("greeting@1", "support-bot", "production")
    assert (cache.stats.misses, cache.stats.hits, cache.stats.fetches) == (1, 1, 1)


def test_a_stale_entry_is_served_at_once_and_revalidated_with_its_etag(
    cache: PromptCache, charter: FakeCharter, clock: Clock
) -> None:
    first = cache.get("s", "greeting")
    clock.now += 61
    assert cache.get("s", "greeting") is first
    assert cache.wait_idle()
    assert charter.calls[-1] == ("s/greeting@production", first.hash)
    assert cache.stats.not_modified == 1
    assert cache.get("s", "greeting") is first
    assert len(charter.calls) == 2


def test_a_changed_prompt_replaces_the_stale_one_after_the_background_refresh(
    cache: PromptCache, charter: FakeCharter, clock: Clock
) -> None:
    cache.get("s", "greeting")
    charter.live["greeting"] = make_prompt("greeting", 2, "Hi {{ name }}!")
    clock.now += 61
    assert cache.get("s", "greeting").version == 1
    assert cache.wait_idle()
    assert cache.get("s", "greeting").name_at_version == "greeting@2"


def test_a_pinned_version_never_expires(cache: PromptCache, charter: FakeCharter, clock: Clock) -> None:
    pinned = cache.get("s", "greeting", version=7)
    clock.now += 10**9
    assert cache.get("s", "greeting", version=7) is pinned
    assert [c for c, _ in charter.calls] == ["s/greeting@7"]


def test_the_last_known_good_prompt_is_served_when_charter_is_down(
    cache: PromptCache, charter: FakeCharter, clock: Clock
) -> None:
    good = cache.get("s", "greeting")
    charter.down = True
    clock.now += 61
    assert cache.get("s", "greeting") is good
    assert cache.wait_idle()
    assert cache.stats.fallbacks == 1 and "connection refused" in (cache.stats.last_error or "")
    for _ in range(3):
        assert cache.get("s", "greeting") is good
    assert len(charter.calls) == 2, "no retry before retry_after"
    clock.now += 5
    cache.get("s", "greeting")
    assert cache.wait_idle()
    assert len(charter.calls) == 3


def test_a_default_is_served_when_charter_is_down_and_nothing_is_cached(
    cache: PromptCache, charter: FakeCharter, clock: Clock
) -> None:
    charter.down = True
    fallback = cache.get("s", "greeting", default="Hello {{ name }} (offline)")
    assert fallback.is_fallback and fallback.name_at_version == "greeting@fallback"
    assert fallback.render(name="Ann") == "Hello Ann (offline)"
    chat = cache.get("s", "other", default=[{"role": "user", "content": "{{ q }}"}])
    assert chat.render(q="hi") == [{"role": "user", "content": "hi"}]
    assert len(charter.calls) == 2
    charter.down = False
    clock.now += 6
    cache.get("s", "greeting", default="unused")
    assert cache.wait_idle()
    assert cache.get("s", "greeting").name_at_version == "greeting@1"


def test_without_cache_or_default_an_outage_is_an_error(cache: PromptCache, charter: FakeCharter) -> None:
    charter.down = True
    with pytest.raises(PromptUnavailableError, match=r"s/greeting@staging is unavailable: .*pass default="):
        cache.get("s", "greeting", label="staging")


def test_past_max_stale_the_caller_waits_for_a_fresh_copy(charter: FakeCharter, clock: Clock) -> None:
    with PromptCache(charter, ttl=60, max_stale=30, clock=clock) as cache:
        cache.get("s", "greeting")
        charter.live["greeting"] = make_prompt("greeting", 2, "v2")
        clock.now += 91
        assert cache.get("s", "greeting").version == 2


def test_without_background_a_stale_get_revalidates_in_the_caller(charter: FakeCharter, clock: Clock) -> None:
    cache = PromptCache(charter, ttl=60, background=False, clock=clock)
    cache.get("s", "greeting")
    charter.live["greeting"] = make_prompt("greeting", 3, "v3")
    clock.now += 61
    assert cache.get("s", "greeting").version == 3
    assert charter.calls[-1] == ("s/greeting@production", make_prompt("greeting", 1, "Hello {{ name }}").hash)


def test_concurrent_misses_make_one_fetch(cache: PromptCache, charter: FakeCharter) -> None:
    charter.gate = threading.Event()
    results: list[Prompt] = []
    threads = [threading.Thread(target=lambda: results.append(cache.get("s", "greeting"))) for _ in range(8)]
    for thread in threads:
        thread.start()
    charter.gate.set()
    for thread in threads:
        thread.join(5)
    assert len(results) == 8 and len({id(p) for p in results}) == 1
    assert len(charter.calls) == 1


def test_errors_other_than_an_outage_are_raised(cache: PromptCache, charter: FakeCharter, clock: Clock) -> None:
    charter.error = LookupError("no prompt 'greeting' with label 'canary'")
    with pytest.raises(LookupError, match="canary"):
        cache.get("s", "greeting", label="canary")
    charter.error = None
    good = cache.get("s", "greeting")
    charter.error = PermissionError("token revoked")
    clock.now += 61
    assert cache.get("s", "greeting") is good
    assert cache.wait_idle()
    assert "token revoked" in (cache.stats.last_error or "")


def test_invalidate_drops_entries(cache: PromptCache, charter: FakeCharter) -> None:
    cache.get("a", "greeting")
    cache.get("b", "greeting")
    assert cache.invalidate(system="a") == 1
    cache.get("a", "greeting")
    cache.get("b", "greeting")
    assert [c for c, _ in charter.calls] == ["a/greeting@production", "b/greeting@production", "a/greeting@production"]


def test_label_and_version_together_are_refused(cache: PromptCache) -> None:
    with pytest.raises(ValueError, match="label or a version, not both"):
        cache.get("s", "greeting", label="staging", version=2)


def test_threads_reading_while_prompts_change_always_get_a_whole_prompt(charter: FakeCharter, clock: Clock) -> None:
    seen: list[str] = []
    failures: list[BaseException] = []
    with PromptCache(charter, ttl=0.0, clock=clock) as cache:

        def reader() -> None:
            try:
                for _ in range(300):
                    prompt = cache.get("s", "greeting")
                    seen.append(prompt.render(name="x"))
            except BaseException as exc:  # pragma: no cover - reported below
                failures.append(exc)

        threads = [threading.Thread(target=reader) for _ in range(4)]
        for thread in threads:
            thread.start()
        for version in range(2, 30):
            charter.live["greeting"] = make_prompt("greeting", version, f"v{version} {{{{ name }}}}")
            clock.now += 1
        for thread in threads:
            thread.join(10)
        assert cache.wait_idle()
    assert failures == []
    assert len(seen) == 1200
    assert all(text == "Hello x" or (text.startswith("v") and text.endswith(" x")) for text in seen)


# ---------------------------------------------------------------- the served Prompt


def test_render_names_every_missing_variable_and_the_version() -> None:
    prompt = make_prompt("greeting", 3, "Hello {{ name }}, about {{ topic }}")
    with pytest.raises(MissingVariablesError, match=r"greeting@3 template: missing variables: name, topic"):
        prompt.render()
    assert prompt.render(name="Ann", topic="labels", extra="ignored") == "Hello Ann, about labels"
    with pytest.raises(UnknownVariablesError, match="extra"):
        prompt.render_strict(name="Ann", topic="labels", extra="refused")


def test_a_prompt_is_built_from_the_serving_api_json() -> None:
    content = PromptContent.chat([{"role": "system", "content": "Be {{ tone }}"}], {"model": "m"})
    served = ResolvedPrompt("agent", 4, content.hash, content)
    payload = json.loads(json.dumps(served.to_dict()))
    prompt = Prompt.from_dict(payload, system="support-bot", label="production")
    assert (prompt.name_at_version, prompt.hash, prompt.config, prompt.variables) == (
        "agent@4",
        content.hash,
        {"model": "m"},
        {"tone"},
    )
    assert prompt.messages == [{"role": "system", "content": "Be {{ tone }}"}]
    assert prompt.to_dict()["name_at_version"] == "agent@4"


# ---------------------------------------------------------------- over real HTTP


class PromptServer:
    """A local HTTP server answering like the serving endpoint: JSON, ETag, 304 on If-None-Match."""

    def __init__(self) -> None:
        self.prompt = ResolvedPrompt("greeting", 1, "", PromptContent.text("Hello {{ name }}"))
        self.requests: list[tuple[str, str | None, int]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlparse(self.path)
                label = parse_qs(url.query).get("label", ["production"])[0]
                etag = f'"{owner.prompt.resolved_hash}"'
                sent = self.headers.get("If-None-Match")
                if url.path != "/api/v1/systems/support-bot/prompts/greeting" or label != "production":
                    status, body = 404, b'{"detail": "no such prompt"}'
                elif sent == etag:
                    status, body = 304, b""
                else:
                    status, body = 200, json.dumps(owner.prompt.to_dict()).encode()
                owner.requests.append((self.path, sent, status))
                self.send_response(status)
                self.send_header("ETag", etag)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def http_fetcher(base_url: str) -> Any:
    """The wiring client.py will do: If-None-Match out, 304 → NOT_MODIFIED, outage → PromptUnreachableError."""
    client = httpx.Client(base_url=base_url, timeout=2.0)

    def fetch(key: CacheKey, etag: str | None) -> Fetched | NotModified:
        params = {"version": str(key.version)} if key.version is not None else {"label": key.label or "production"}
        headers = {"If-None-Match": etag} if etag else {}
        try:
            response = client.get(f"/api/v1/systems/{key.system}/prompts/{key.name}", params=params, headers=headers)
        except httpx.TransportError as exc:
            raise PromptUnreachableError(str(exc)) from exc
        if response.status_code == 304:
            return NOT_MODIFIED
        if response.status_code >= 500:
            raise PromptUnreachableError(f"HTTP {response.status_code}")
        if response.status_code == 404:
            raise LookupError(response.json()["detail"])
        response.raise_for_status()
        return Fetched(Prompt.from_dict(response.json(), system=key.system, label=key.label), response.headers["ETag"])

    return fetch


@pytest.fixture
def server() -> Iterator[PromptServer]:
    made = PromptServer()
    yield made
    made.stop()


def test_over_http_a_cache_hit_sends_no_request(server: PromptServer, clock: Clock) -> None:
    with PromptCache(http_fetcher(server.url), ttl=60, clock=clock) as cache:
        assert cache.get("support-bot", "greeting").render(name="Ann") == "Hello Ann"
        cache.get("support-bot", "greeting")
    assert [status for _, _, status in server.requests] == [200]


def test_over_http_a_stale_entry_is_revalidated_with_304(server: PromptServer, clock: Clock) -> None:
    with PromptCache(http_fetcher(server.url), ttl=60, clock=clock) as cache:
        first = cache.get("support-bot", "greeting")
        clock.now += 61
        assert cache.get("support-bot", "greeting") is first
        assert cache.wait_idle()
        assert cache.stats.not_modified == 1
    (_, sent, status) = server.requests[-1]
    assert (sent, status) == (f'"{server.prompt.resolved_hash}"', 304)


def test_over_http_the_cache_falls_back_when_the_server_is_down(server: PromptServer, clock: Clock) -> None:
    fetch = http_fetcher(server.url)
    with PromptCache(fetch, ttl=60, clock=clock) as cache:
        good = cache.get("support-bot", "greeting")
        server.stop()
        clock.now += 61
        assert cache.get("support-bot", "greeting") is good
        assert cache.wait_idle()
        assert cache.stats.fallbacks == 1
    with PromptCache(fetch, ttl=60, clock=clock) as cold:
        assert cold.get("support-bot", "greeting", default="Hi {{ name }}").is_fallback
        with pytest.raises(PromptUnavailableError):
            cold.get("support-bot", "farewell")


def test_over_http_an_unknown_prompt_is_a_lookup_error(server: PromptServer, clock: Clock) -> None:
    with (
        PromptCache(http_fetcher(server.url), clock=clock) as cache,
        pytest.raises(LookupError, match="no such prompt"),
    ):
        cache.get("support-bot", "greeting", label="canary")
