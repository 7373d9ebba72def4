"""A real local HTTP server speaking the OpenAI chat-completions protocol, for tests and benchmarks.

It is not a mock: clients talk to it over TCP on 127.0.0.1 exactly as they would talk to an OpenAI-compatible
provider (POST /v1/chat/completions, bearer API key, JSON body with `model` and `messages`; JSON answer with
`choices[0].message.content` and `usage`). Answers are deterministic, latency is configurable, and faults can be
scripted per prompt so tests stay exact under concurrency.

Use in a test (other test packages import it the same way)::

    from tests.evaluation.chat_server import ChatServer, Fault

    @pytest.fixture
    def server() -> Iterator[ChatServer]:
        with ChatServer({"2+2?": "4"}, api_key="sk-test", latency=0.01) as s:
            yield s

    def test_something(server: ChatServer) -> None:
        server.fail("2+2?", Fault.rate_limited(retry_after="0.1"), Fault.server_error(503))
        ...  # call server.base_url ("http://127.0.0.1:PORT/v1") with api key "sk-test"
        assert server.requests[0].status == 429
        assert server.max_in_flight <= 4

API:
- `ChatServer(answers=None, *, api_key="test-key", latency=0.0, model=None)`: `answers` is a mapping from prompt
  (the content of the last user message) to answer, or a function prompt -> answer; prompts not in the mapping are
  answered "echo: <prompt>". `api_key=None` accepts any caller. `latency` is seconds (or a function prompt ->
  seconds) slept before answering. `model`: when set, requests for another model get 404 `model_not_found`.
- `start()` / `stop()` or `with ChatServer(...) as s:`; `url` (origin) and `base_url` (origin + "/v1").
- `fail(prompt, *faults)`: the next requests for `prompt` (None = any prompt) get these faults, one per request, in
  order; then normal answers resume. Faults: `Fault.server_error(status=500)`, `Fault.status_code(400)` (any
  status, answered with an OpenAI error body), `Fault.rate_limited(retry_after=None)` (429 with Retry-After),
  `Fault.malformed()` (200 with a body that is not JSON), `Fault.incomplete()` (200, JSON without `choices`),
  `Fault.hang(seconds=30.0)` (no answer until then or until the server stops: for client timeouts).
- `requests` (list of `RecordedRequest`: path, headers, parsed JSON body, prompt, status answered), `max_in_flight`
  (highest number of requests being handled at once), `reset()` (clears the log, counters and scripted faults).
- `POST /custom`: a generic JSON endpoint for template targets: body `{"question": str, ...}`, answer
  `{"result": {"text": answer, "usage": {"input": n, "output": m}}}`. Same key check, latency and faults.
- Token usage is counted as whitespace-separated words: prompt tokens over all message contents, completion tokens
  over the answer.

From a shell (for a benchmark that must not count the server's CPU): `python tests/evaluation/chat_server.py
--latency 0.05 --api-key K` prints `READY http://127.0.0.1:PORT` on stdout and serves until stdin closes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys
import threading
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import uvicorn

Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]

CREATED = 1_700_000_000  # a fixed `created` timestamp keeps answers byte-for-byte deterministic


@dataclass(frozen=True)
class Fault:
    """One scripted misbehaviour, applied to one request."""

    kind: str  # "status" | "malformed" | "incomplete" | "hang"
    status: int = 500
    retry_after: str | None = None
    seconds: float = 30.0

    @classmethod
    def server_error(cls, status: int = 500) -> Fault:
        return cls("status", status=status)

    @classmethod
    def rate_limited(cls, retry_after: str | float | None = None) -> Fault:
        return cls("status", status=429, retry_after=None if retry_after is None else str(retry_after))

    @classmethod
    def status_code(cls, status: int) -> Fault:
        return cls("status", status=status)

    @classmethod
    def malformed(cls) -> Fault:
        return cls("malformed", status=200)

    @classmethod
    def incomplete(cls) -> Fault:
        return cls("incomplete", status=200)

    @classmethod
    def hang(cls, seconds: float = 30.0) -> Fault:
        return cls("hang", status=0, seconds=seconds)


@dataclass(frozen=True)
class RecordedRequest:
    """What the server received (`received_at`: time.monotonic() on arrival) and the status it answered (0: none,
    the request hung). Requests are logged when their answer is sent, so the log is in order of answers."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    prompt: str | None
    status: int
    received_at: float


@dataclass
class ChatServer:
    answers: Mapping[str, str] | Callable[[str], str] | None = None
    api_key: str | None = "test-key"
    latency: float | Callable[[str], float] = 0.0
    model: str | None = None
    host: str = "127.0.0.1"
    _faults: dict[str | None, deque[Fault]] = field(init=False, default_factory=lambda: defaultdict(deque))
    _log: list[RecordedRequest] = field(init=False, default_factory=list)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)
    _in_flight: int = field(init=False, default=0)
    _max_in_flight: int = field(init=False, default=0)
    _stopping: bool = field(init=False, default=False)
    _port: int = field(init=False, default=0)
    _server: uvicorn.Server | None = field(init=False, default=None)
    _thread: threading.Thread | None = field(init=False, default=None)
    _serial: int = field(init=False, default=0)

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> ChatServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> ChatServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, 0))
        self._port = sock.getsockname()[1]
        config = uvicorn.Config(
            self, log_level="warning", lifespan="off", access_log=False, timeout_graceful_shutdown=1, backlog=2048
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the chat-completions test server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._stopping = True
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self._port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    # ------------------------------------------------------------------ test controls

    def fail(self, prompt: str | None, *faults: Fault) -> None:
        """Script faults for the next requests for `prompt` (None: whichever request comes next)."""
        with self._lock:
            self._faults[prompt].extend(faults)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._log)

    @property
    def max_in_flight(self) -> int:
        return self._max_in_flight

    def reset(self) -> None:
        with self._lock:
            self._log.clear()
            self._faults.clear()
            self._max_in_flight = self._in_flight

    # ------------------------------------------------------------------ protocol

    def answer_for(self, prompt: str) -> str:
        if callable(self.answers):
            return self.answers(prompt)
        if self.answers is not None and prompt in self.answers:
            return self.answers[prompt]
        return f"echo: {prompt}"

    def _next_fault(self, prompt: str | None) -> Fault | None:
        with self._lock:
            for key in (prompt, None):
                queue = self._faults.get(key)
                if queue:
                    return queue.popleft()
        return None

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        self._in_flight += 1
        self._max_in_flight = max(self._max_in_flight, self._in_flight)
        try:
            await self._handle(scope, receive, send)
        finally:
            self._in_flight -= 1

    async def _handle(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        raw = b""
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            raw += message.get("body", b"")
            more = message.get("more_body", False)
        received_at = time.monotonic()
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        path, method = scope["path"], scope["method"]
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = None
        prompt = _prompt_of(path, body)
        status, payload, extra = await self._respond(method, path, headers, body, prompt)
        with self._lock:
            self._log.append(RecordedRequest(method, path, headers, body, prompt, status, received_at))
        if status == 0:
            return
        response_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
        response_headers += [(k.encode(), v.encode()) for k, v in extra.items()]
        await send({"type": "http.response.start", "status": status, "headers": response_headers})
        await send({"type": "http.response.body", "body": payload})

    async def _respond(
        self, method: str, path: str, headers: dict[str, str], body: Any, prompt: str | None
    ) -> tuple[int, bytes, dict[str, str]]:
        if method != "POST" or path not in ("/v1/chat/completions", "/custom"):
            return _error(404, f"no route {method} {path}", "not_found")
        if self.api_key is not None and headers.get("authorization") != f"Bearer {self.api_key}":
            return _error(401, "Incorrect API key provided.", "invalid_api_key")
        if prompt is None:
            return _error(400, "the request body has no user message", "invalid_request_error")
        if path == "/v1/chat/completions" and body.get("stream"):
            return _error(400, "this test server does not stream", "invalid_request_error")
        if self.model is not None and path == "/v1/chat/completions" and body.get("model") != self.model:
            return _error(404, f"The model `{body.get('model')}` does not exist", "model_not_found")
        delay = self.latency(prompt) if callable(self.latency) else self.latency
        if delay > 0:
            await asyncio.sleep(delay)
        fault = self._next_fault(prompt)
        if fault is not None:
            if fault.kind == "hang":
                deadline = time.monotonic() + fault.seconds
                while not self._stopping and time.monotonic() < deadline:
                    await asyncio.sleep(0.02)
                return 0, b"", {}
            if fault.kind == "malformed":
                return 200, b'{"id": "chatcmpl-broken", "choices": [', {}
            if fault.kind == "incomplete":
                return 200, json.dumps({"id": "chatcmpl-incomplete", "object": "chat.completion"}).encode(), {}
            extra = {"retry-after": fault.retry_after} if fault.retry_after is not None else {}
            status, payload, _ = _error(fault.status, f"injected status {fault.status}", "injected")
            return status, payload, extra
        answer = self.answer_for(prompt)
        prompt_tokens = _words(body)
        completion_tokens = len(answer.split())
        if path == "/custom":
            result = {"text": answer, "usage": {"input": prompt_tokens, "output": completion_tokens}}
            return 200, json.dumps({"result": result}).encode(), {}
        self._serial += 1
        payload = {
            "id": f"chatcmpl-{self._serial}",
            "object": "chat.completion",
            "created": CREATED,
            "model": body.get("model", ""),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": answer},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
        return 200, json.dumps(payload).encode(), {}


def _error(status: int, message: str, code: str) -> tuple[int, bytes, dict[str, str]]:
    body = {"error": {"message": message, "type": "invalid_request_error", "code": code}}
    return status, json.dumps(body).encode(), {}


def _prompt_of(path: str, body: Any) -> str | None:
    if not isinstance(body, dict):
        return None
    if path == "/custom":
        question = body.get("question")
        return question if isinstance(question, str) else None
    messages = body.get("messages")
    if not isinstance(messages, list):
        return None
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user" and isinstance(message.get("content"), str):
            return str(message["content"])
    return None


def _words(body: Any) -> int:
    if isinstance(body, dict) and isinstance(body.get("messages"), list):
        return sum(len(str(m.get("content", "")).split()) for m in body["messages"] if isinstance(m, dict))
    if isinstance(body, dict) and isinstance(body.get("question"), str):
        return len(body["question"].split())
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve OpenAI chat completions on 127.0.0.1 until stdin closes.")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds slept before each answer")
    parser.add_argument("--api-key", default="test-key", help="bearer key callers must send ('' accepts any)")
    args = parser.parse_args()
    server = ChatServer(api_key=args.api_key or None, latency=args.latency).start()
    print(f"READY {server.url}", flush=True)
    try:
        sys.stdin.read()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
