"""Traceloop / OpenLLMetry (traceloop/openllmetry, packages/opentelemetry-semantic-conventions-ai, semconv_ai).

OpenLLMetry LLM spans carry the deprecated OTel names (gen_ai.system, gen_ai.usage.prompt_tokens, flattened
gen_ai.prompt.N.* / gen_ai.completion.N.* — read by `deprecated`) plus its own:

- llm.request.type (LLMRequestTypeValues: chat, completion, embedding, rerank) -> the operation;
- traceloop.span.kind (TraceloopSpanKindValues: workflow, task, agent, tool) on the application's decorated
  functions, with traceloop.entity.name (and traceloop.workflow.name) -> operation and entity;
- llm.usage.total_tokens (renamed gen_ai.usage.total_tokens in semconv-ai 0.5);
- llm.response.finish_reason / gen_ai.response.finish_reason (one value);
- streaming: a gen_ai.content.completion.chunk (formerly llm.content.completion.chunk) span event per chunk, so the
  first one's time is the time to first token;
- traceloop.entity.input / traceloop.entity.output (JSON of the function's arguments / result) as content when a
  span has no messages.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from typing import Final

from charter.telemetry.dialects.common import (
    Found,
    Warn,
    count,
    first_event_ms,
    operation,
    put,
    strings,
    text,
)
from charter.telemetry.otlp import RawSpan

SPAN_KINDS: Final[dict[str, str]] = {
    "workflow": "invoke_workflow",
    "task": "execute_task",
    "agent": "invoke_agent",
    "tool": "execute_tool",
}
REQUEST_TYPES: Final = frozenset({"chat", "completion", "embedding", "rerank"})
CHUNK_EVENTS: Final = frozenset({"gen_ai.content.completion.chunk", "llm.content.completion.chunk"})


def marked(span: RawSpan) -> bool:
    a = span.attributes
    kind = a.get("traceloop.span.kind")
    request_type = a.get("llm.request.type")
    return (type(kind) is str and kind.lower() in SPAN_KINDS) or (
        type(request_type) is str and request_type in REQUEST_TYPES
    )


def relevant(span: RawSpan, heads: AbstractSet[str]) -> bool:
    if "traceloop" in heads or "llm" in heads:
        return True
    return bool(span.events) and any(ev.name in CHUNK_EVENTS for ev in span.events)


def extract(span: RawSpan, found: Found, warn: Warn, capture_content: bool) -> None:
    a = span.attributes
    request_type = a.get("llm.request.type")
    if type(request_type) is str and request_type in REQUEST_TYPES:
        put(found, "operation", operation(request_type))
    kind = a.get("traceloop.span.kind")
    if type(kind) is str:
        put(found, "operation", SPAN_KINDS.get(kind.lower()))
    put(found, "entity", text(a.get("traceloop.entity.name")) or text(a.get("traceloop.workflow.name")))
    for key in ("llm.usage.total_tokens", "gen_ai.usage.total_tokens"):
        put(found, "total_tokens", count(a.get(key), key, warn))
    for key in ("gen_ai.response.finish_reason", "llm.response.finish_reason"):
        put(found, "finish_reasons", strings(a.get(key)))
    put(found, "ttft_ms", first_event_ms(span.start_ns, span.events, CHUNK_EVENTS))
    if capture_content:
        entity_in, entity_out = text(a.get("traceloop.entity.input")), text(a.get("traceloop.entity.output"))
        if entity_in is not None:
            put(found, "input_messages", [{"role": "user", "content": entity_in}])
        if entity_out is not None:
            put(found, "output_messages", [{"role": "assistant", "content": entity_out}])
