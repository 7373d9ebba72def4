"""The current OTel GenAI semantic conventions (open-telemetry/semantic-conventions docs/gen-ai/, moved in 2026 to
open-telemetry/semantic-conventions-genai): client inference, embeddings, execute_tool and agent spans, and the
`gen_ai.evaluation.result` event.

Attributes read: gen_ai.operation.name, gen_ai.provider.name, gen_ai.request.model, gen_ai.response.model,
gen_ai.response.id, gen_ai.response.finish_reasons (string[]), gen_ai.usage.input_tokens, gen_ai.usage.output_tokens,
gen_ai.conversation.id, gen_ai.response.time_to_first_chunk (seconds, double; streaming), gen_ai.tool.name,
gen_ai.agent.name, gen_ai.workflow.name, error.type, and the opt-in content gen_ai.system_instructions,
gen_ai.input.messages, gen_ai.output.messages — structured, or "MAY be recorded as a JSON string" on spans —
following the input/output messages JSON schemas: [{role, parts: [{type: text, content} | {type: tool_call, id,
name, arguments} | {type: tool_call_response, id, response} | …], finish_reason (output)}].
Event gen_ai.evaluation.result: gen_ai.evaluation.name (required), gen_ai.evaluation.score.value (double),
gen_ai.evaluation.score.label, gen_ai.evaluation.explanation, gen_ai.response.id.
"""

from __future__ import annotations

from typing import Final

from charter.telemetry.dialects.common import (
    Found,
    Warn,
    count,
    number,
    operation,
    otel_messages,
    provider,
    put,
    strings,
    system_instructions,
    text,
)
from charter.telemetry.model import Evaluation
from charter.telemetry.otlp import RawSpan

EVALUATION_EVENT: Final = "gen_ai.evaluation.result"
MARKERS: Final = ("gen_ai.operation.name", "gen_ai.provider.name")


LOOSE_MARKERS: Final = frozenset(
    {
        "gen_ai.request.model",
        "gen_ai.response.model",
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.output_tokens",
        "gen_ai.input.messages",
    }
)


def marked(span: RawSpan) -> bool:
    a = span.attributes
    return "gen_ai.operation.name" in a or "gen_ai.provider.name" in a


def marked_loosely(span: RawSpan) -> bool:
    """Current-convention attributes without the required operation/provider, or an evaluation result."""
    if not span.attributes.keys().isdisjoint(LOOSE_MARKERS):
        return True
    return any(ev.name == EVALUATION_EVENT for ev in span.events)


def evaluations(span: RawSpan, warn: Warn) -> list[Evaluation]:
    out: list[Evaluation] = []
    for ev in span.events:
        if ev.name != EVALUATION_EVENT:
            continue
        a = ev.attributes
        name = text(a.get("gen_ai.evaluation.name"))
        if name is None:
            warn(f"a {EVALUATION_EVENT} event has no gen_ai.evaluation.name; ignored")
            continue
        out.append(
            Evaluation(
                name,
                number(a.get("gen_ai.evaluation.score.value"), "gen_ai.evaluation.score.value", warn),
                text(a.get("gen_ai.evaluation.score.label")),
                text(a.get("gen_ai.evaluation.explanation")),
                text(a.get("gen_ai.response.id")),
            )
        )
    return out


def extract(span: RawSpan, found: Found, warn: Warn, capture_content: bool) -> None:
    """The first extractor: fills `found` directly (attributes whose names did not change from the deprecated
    conventions are read here, for every dialect)."""
    get = span.attributes.get
    ttft = get("gen_ai.response.time_to_first_chunk")
    entity = get("gen_ai.tool.name") or get("gen_ai.agent.name") or get("gen_ai.workflow.name")
    values = (
        ("operation", operation(get("gen_ai.operation.name"))),
        ("provider", provider(get("gen_ai.provider.name"))),
        ("request_model", text(get("gen_ai.request.model"))),
        ("response_model", text(get("gen_ai.response.model"))),
        ("response_id", text(get("gen_ai.response.id"))),
        ("conversation_id", text(get("gen_ai.conversation.id"))),
        ("finish_reasons", strings(get("gen_ai.response.finish_reasons"))),
        ("input_tokens", count(get("gen_ai.usage.input_tokens"), "gen_ai.usage.input_tokens", warn)),
        ("output_tokens", count(get("gen_ai.usage.output_tokens"), "gen_ai.usage.output_tokens", warn)),
        ("error_type", text(get("error.type"))),
        ("entity", text(entity)),
    )
    for key, value in values:
        if value is not None and key not in found:
            found[key] = value
    if ttft is not None:
        seconds = number(ttft, "gen_ai.response.time_to_first_chunk", warn)
        put(found, "ttft_ms", None if seconds is None else seconds * 1000.0)
    if capture_content:
        raw_in, raw_out = get("gen_ai.input.messages"), get("gen_ai.output.messages")
        raw_instructions = get("gen_ai.system_instructions")
        if raw_in is not None or raw_instructions is not None:
            inputs, _ = otel_messages(raw_in, warn, "gen_ai.input.messages")
            instructions = system_instructions(raw_instructions)
            if instructions is not None:
                inputs = [instructions, *(inputs or [])]
            put(found, "input_messages", inputs)
        if raw_out is not None:
            outputs, reasons = otel_messages(raw_out, warn, "gen_ai.output.messages")
            put(found, "output_messages", outputs)
            if reasons:
                put(found, "finish_reasons", tuple(reasons))
    if span.events:
        evals = evaluations(span, warn)
        if evals:
            found.setdefault("evaluations", []).extend(evals)
