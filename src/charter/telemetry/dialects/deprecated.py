"""The deprecated OTel GenAI names (semconv llm-spans.md, v1.26 and before, and the names later marked deprecated).

- gen_ai.system: "The name of the LLM foundation model vendor" -> the provider (replaced by gen_ai.provider.name;
  values such as az.ai.openai, vertex_ai, gemini, xai normalized to the current ones).
- gen_ai.usage.prompt_tokens / gen_ai.usage.completion_tokens (replaced by input_tokens / output_tokens).
- Content as the gen_ai.prompt / gen_ai.completion attributes ("RECOMMENDED to format … as JSON string matching
  OpenAI messages format", e.g. [{'role': 'user', 'content': '…'}]), carried on the span or on the
  gen_ai.content.prompt / gen_ai.content.completion span events; and flattened, as OpenLLMetry records them,
  gen_ai.prompt.N.role / gen_ai.prompt.N.content and gen_ai.completion.N.role / .content / .finish_reason.
- Event gen_ai.evaluation.user_feedback with gen_ai.evaluation.score (double in [-1, 1]) and gen_ai.response.id.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from typing import Final

from charter.telemetry.dialects.common import (
    Found,
    Warn,
    count,
    indexed,
    indexed_messages,
    number,
    openai_messages,
    provider,
    put,
    text,
)
from charter.telemetry.model import Evaluation
from charter.telemetry.otlp import RawSpan

PROMPT_EVENT: Final = "gen_ai.content.prompt"
COMPLETION_EVENT: Final = "gen_ai.content.completion"
USER_FEEDBACK_EVENT: Final = "gen_ai.evaluation.user_feedback"


ATTRIBUTES: Final = frozenset(
    {
        "gen_ai.system",
        "gen_ai.usage.prompt_tokens",
        "gen_ai.usage.completion_tokens",
        "gen_ai.prompt",
        "gen_ai.completion",
        "gen_ai.prompt.0.content",
        "gen_ai.prompt.0.role",
        "gen_ai.completion.0.content",
        "gen_ai.completion.0.role",
        "gen_ai.completion.0.finish_reason",
    }
)
EVENTS: Final = frozenset({PROMPT_EVENT, COMPLETION_EVENT, USER_FEEDBACK_EVENT})


def marked(span: RawSpan) -> bool:
    return not span.attributes.keys().isdisjoint(ATTRIBUTES)


def relevant(span: RawSpan, heads: AbstractSet[str]) -> bool:
    return marked(span) or (bool(span.events) and any(ev.name in EVENTS for ev in span.events))


def extract(span: RawSpan, found: Found, warn: Warn, capture_content: bool) -> None:
    a = span.attributes
    put(found, "provider", provider(a.get("gen_ai.system")))
    put(found, "input_tokens", count(a.get("gen_ai.usage.prompt_tokens"), "gen_ai.usage.prompt_tokens", warn))
    put(found, "output_tokens", count(a.get("gen_ai.usage.completion_tokens"), "gen_ai.usage.completion_tokens", warn))
    completions = indexed(a, "gen_ai.completion.") if "gen_ai.completion.0.finish_reason" in a or (
        capture_content and ("gen_ai.completion.0.content" in a or "gen_ai.completion.0.role" in a)
    ) else []  # fmt: skip
    reasons = tuple(r for r in (text(c.get("finish_reason")) for c in completions) if r is not None)
    put(found, "finish_reasons", reasons or None)
    if capture_content:
        prompt, completion = a.get("gen_ai.prompt"), a.get("gen_ai.completion")
        for ev in span.events:
            if ev.name == PROMPT_EVENT and prompt is None:
                prompt = ev.attributes.get("gen_ai.prompt")
            elif ev.name == COMPLETION_EVENT and completion is None:
                completion = ev.attributes.get("gen_ai.completion")
        put(found, "input_messages", openai_messages(prompt, "user") if type(prompt) is str else None)
        put(found, "output_messages", openai_messages(completion, "assistant") if type(completion) is str else None)
        if "gen_ai.prompt.0.content" in a or "gen_ai.prompt.0.role" in a:
            put(found, "input_messages", indexed_messages(indexed(a, "gen_ai.prompt."), "user"))
        if completions:
            put(found, "output_messages", indexed_messages(completions, "assistant"))
    for ev in span.events:
        if ev.name == USER_FEEDBACK_EVENT:
            score = number(ev.attributes.get("gen_ai.evaluation.score"), "gen_ai.evaluation.score", warn)
            found.setdefault("evaluations", []).append(
                Evaluation("user_feedback", score, None, None, text(ev.attributes.get("gen_ai.response.id")))
            )
