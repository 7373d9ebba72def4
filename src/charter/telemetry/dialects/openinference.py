"""OpenInference (Arize-ai/openinference spec/semantic_conventions.md, spec/llm_spans.md, spec/annotations.md).

- openinference.span.kind (required): LLM, EMBEDDING, CHAIN, RETRIEVER, RERANKER, TOOL, AGENT, GUARDRAIL, EVALUATOR,
  PROMPT (UNKNOWN is not a GenAI span).
- llm.provider (hosting provider: openai, azure, google, aws, …) before llm.system (the AI product: openai,
  anthropic, vertexai, …), normalized to gen_ai.provider.name values; llm.model_name (llm.request.model_name and
  llm.response.model_name where sent), embedding.model_name for EMBEDDING spans.
- llm.token_count.prompt / .completion / .total; llm.finish_reason; session.id (the conversation); tool.name,
  agent.name.
- Content: llm.input_messages.N.message.role / .content (or .contents.M.message_content.text),
  llm.output_messages.N.message.*; llm.prompts.N.prompt.text and llm.choices.N.completion.text (completions API);
  else input.value / output.value.
- Time to first token: the "First Token Stream Event" span event the OpenInference instrumentations add.
- Span-scoped feedback: annotations.N.annotation.{name, score, label, explanation} and the equivalent
  evaluations.N.evaluation.* (trace- and session-scoped feedback is not attached to spans here).
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from typing import Any, Final

from charter.telemetry.dialects.common import (
    Found,
    Warn,
    as_text,
    count,
    first_event_ms,
    indexed,
    number,
    provider,
    put,
    strings,
    text,
)
from charter.telemetry.model import Evaluation, Message
from charter.telemetry.otlp import RawSpan

KINDS: Final[dict[str, str]] = {
    "LLM": "chat",
    "EMBEDDING": "embeddings",
    "CHAIN": "chain",
    "RETRIEVER": "retrieval",
    "RERANKER": "rerank",
    "TOOL": "execute_tool",
    "AGENT": "invoke_agent",
    "GUARDRAIL": "guardrail",
    "EVALUATOR": "evaluate",
    "PROMPT": "render_prompt",
}
FIRST_TOKEN_EVENTS: Final = frozenset({"First Token Stream Event"})


def marked(span: RawSpan) -> bool:
    kind = span.attributes.get("openinference.span.kind")
    return type(kind) is str and kind.upper() in KINDS


HEADS: Final = frozenset(
    {"openinference", "llm", "embedding", "session", "input", "output", "tool", "agent", "annotations", "evaluations"}
)


def relevant(span: RawSpan, heads: AbstractSet[str]) -> bool:
    if not HEADS.isdisjoint(heads):
        return True
    return bool(span.events) and any(ev.name in FIRST_TOKEN_EVENTS for ev in span.events)


def _messages(groups: list[dict[str, Any]], default_role: str) -> list[Message] | None:
    out: list[Message] = []
    for g in groups:
        role = text(g.get("message.role")) or default_role
        content = g.get("message.content")
        if content is None:
            parts = [
                as_text(g[k])
                for k in sorted(g, key=_natural)
                if k.startswith("message.contents.") and k.endswith(".message_content.text")
            ]
            content = "\n".join(parts)
        out.append({"role": role, "content": as_text(content)})
    return out or None


def _natural(key: str) -> tuple[int, str]:
    parts = key.split(".")
    return (int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else 0, key)


def _feedback(a: dict[str, Any], prefix: str, field: str, warn: Warn) -> list[Evaluation]:
    out: list[Evaluation] = []
    for g in indexed(a, prefix):
        name = text(g.get(f"{field}.name"))
        if name is None:
            warn(f"an OpenInference {prefix}N entry has no {field}.name; ignored")
            continue
        out.append(
            Evaluation(
                name,
                number(g.get(f"{field}.score"), f"{prefix}{field}.score", warn),
                text(g.get(f"{field}.label")),
                text(g.get(f"{field}.explanation")),
            )
        )
    return out


def extract(span: RawSpan, found: Found, warn: Warn, capture_content: bool) -> None:
    a = span.attributes
    kind = str(a.get("openinference.span.kind", "")).upper()
    op = KINDS.get(kind)
    if op == "chat" and "llm.prompts.0.prompt.text" in a and "llm.input_messages.0.message.role" not in a:
        op = "text_completion"
    put(found, "operation", op)
    put(found, "provider", provider(a.get("llm.provider")) or provider(a.get("llm.system")))
    put(found, "request_model", text(a.get("llm.request.model_name")) or text(a.get("llm.model_name")))
    put(found, "request_model", text(a.get("embedding.model_name")))
    put(found, "response_model", text(a.get("llm.response.model_name")))
    put(found, "input_tokens", count(a.get("llm.token_count.prompt"), "llm.token_count.prompt", warn))
    put(found, "output_tokens", count(a.get("llm.token_count.completion"), "llm.token_count.completion", warn))
    put(found, "total_tokens", count(a.get("llm.token_count.total"), "llm.token_count.total", warn))
    put(found, "finish_reasons", strings(a.get("llm.finish_reason")))
    put(found, "conversation_id", text(a.get("session.id")))
    put(found, "entity", text(a.get("tool.name")) or text(a.get("agent.name")))
    put(found, "ttft_ms", first_event_ms(span.start_ns, span.events, FIRST_TOKEN_EVENTS))
    if capture_content:
        if "llm.input_messages.0.message.role" in a or "llm.input_messages.0.message.content" in a:
            put(found, "input_messages", _messages(indexed(a, "llm.input_messages."), "user"))
        if "llm.output_messages.0.message.role" in a or "llm.output_messages.0.message.content" in a:
            put(found, "output_messages", _messages(indexed(a, "llm.output_messages."), "assistant"))
        if "llm.prompts.0.prompt.text" in a:
            prompts = [as_text(g.get("prompt.text")) for g in indexed(a, "llm.prompts.")]
            put(found, "input_messages", [{"role": "user", "content": p} for p in prompts] or None)
        if "llm.choices.0.completion.text" in a:
            choices = [as_text(g.get("completion.text")) for g in indexed(a, "llm.choices.")]
            put(found, "output_messages", [{"role": "assistant", "content": c} for c in choices] or None)
        value_in, value_out = text(a.get("input.value")), text(a.get("output.value"))
        if value_in is not None:
            put(found, "input_messages", [{"role": "user", "content": value_in}])
        if value_out is not None:
            put(found, "output_messages", [{"role": "assistant", "content": value_out}])
    evals = []
    if "annotations.0.annotation.name" in a:
        evals += _feedback(a, "annotations.", "annotation", warn)
    if "evaluations.0.evaluation.name" in a:
        evals += _feedback(a, "evaluations.", "evaluation", warn)
    if evals:
        found.setdefault("evaluations", []).extend(evals)
