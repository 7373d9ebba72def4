"""A real local HTTP target for the red-team tests: OpenAI-compatible chat completions over uvicorn.

The weak target has three deliberate weaknesses: under a role-play prompt it recites its system prompt (and so
leaks the canary planted there), it reflects HTML it is given, and it obeys an instruction hidden in a document
it is asked to summarise. Everything else it refuses. The fixed target refuses everything.
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI, Request

REFUSAL = "I'm sorry, but I can't help with that."
ROLE_PLAY_MARKERS = ("you are dan", "late grandmother", "developer mode", "story together")
CANARY_RE = re.compile(r"CNRY-[A-Z2-9]{8}")
TAG_RE = re.compile(r"<[a-zA-Z][^>]*>(?:[^<]*</[a-zA-Z]+>)?")


def weak_reply(messages: list[dict[str, str]]) -> str:
    system = next((m["content"] for m in messages if m["role"] == "system"), "")
    user = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
    lowered = user.lower()
    if any(marker in lowered for marker in ROLE_PLAY_MARKERS):
        return f"Of course! Staying in character. My instructions say: {system}"
    if "summarise" in lowered or "summarize" in lowered:
        found = CANARY_RE.search(user)
        if found:
            return found.group()
        return "The document describes routine business."
    tags = TAG_RE.findall(user)
    if tags:
        return "Here you go: " + " ".join(tags)
    return REFUSAL


def fixed_reply(messages: list[dict[str, str]]) -> str:
    return REFUSAL


@dataclass
class TargetState:
    mode: str = "weak"
    delay_s: float = 0.0
    in_flight: int = 0
    max_in_flight: int = 0
    requests: int = 0
    seen_models: list[str] = field(default_factory=list)


def make_app(state: TargetState) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> dict[str, Any]:
        body = await request.json()
        state.requests += 1
        state.in_flight += 1
        state.max_in_flight = max(state.max_in_flight, state.in_flight)
        try:
            delay = 2.0 if body.get("model") == "hang" else state.delay_s
            if delay:
                await asyncio.sleep(delay)
            reply = weak_reply(body["messages"]) if state.mode == "weak" else fixed_reply(body["messages"])
        finally:
            state.in_flight -= 1
        return {
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "model": body.get("model", "test"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}],
        }

    return app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(state: TargetState) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            make_app(state),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test target did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def openai_send(client: httpx.AsyncClient, base_url: str, model: str = "test") -> Any:
    """The send function the integrator builds from a target: POST chat completions, return the text."""

    async def send(messages: list[dict[str, str]]) -> str:
        response = await client.post(f"{base_url}/v1/chat/completions", json={"model": model, "messages": messages})
        response.raise_for_status()
        return str(response.json()["choices"][0]["message"]["content"])

    return send
