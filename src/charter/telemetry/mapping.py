"""GenAI spans in several dialects mapped to one `GenAISpan`.

Dialects, detected by their markers (the first that matches names `GenAISpan.dialect`):

1. `otel` — the current OTel GenAI semantic conventions (gen_ai.operation.name / gen_ai.provider.name), see
   `dialects/otel.py`;
2. `openinference` — openinference.span.kind, see `dialects/openinference.py`;
3. `traceloop` — traceloop.span.kind or llm.request.type (OpenLLMetry), see `dialects/traceloop.py`;
4. `otel_deprecated` — gen_ai.system, gen_ai.usage.prompt_tokens, gen_ai.prompt.N.* …, see `dialects/deprecated.py`;
5. `otel` again for spans with only some current attributes (gen_ai.request.model, gen_ai.usage.input_tokens, …)
   or only `gen_ai.evaluation.result` events.

Spans mix them (OpenLLMetry sends gen_ai.system with llm.request.type; instrumentations migrating send both token
names), so every dialect whose attributes (or events) the span carries is read, and each field takes the first value
found in this precedence: current OTel, OpenInference, deprecated OTel, Traceloop. A span with none of the markers
(HTTP, database… spans) is not a GenAI span: the ingest counts and skips it. Attribute values of the wrong type or
range are ignored with a warning (reported in the partial success), never an error.

Common to all dialects: the span status (STATUS_CODE_ERROR) or error.type make an error; its type is error.type,
else the `exception` event's exception.type; its message the status message, else exception.message.
Charter's own attributes: `charter.system` (resource or span: the Charter system key), `charter.prompt`
("name@version" of the prompt-registry version that produced the call) and `charter.prompt.hash` (the registry's
served content hash, "sha256:<64 hex>", for the registry to resolve).
When no operation is named, a span naming a model is taken as `chat` (the deprecated conventions describe only LLM
request spans), a span carrying only evaluation results as `evaluation`, anything else as `unknown`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from charter.telemetry.dialects import deprecated, openinference, otel, traceloop
from charter.telemetry.dialects.common import Found, text
from charter.telemetry.model import OPERATIONS, Evaluation, GenAISpan, Message
from charter.telemetry.otlp import STATUS_ERROR, RawSpan, from_unix_nano

__all__ = ["OPERATIONS", "Evaluation", "GenAISpan", "MappingOptions", "Message", "dialect_of", "map_span"]

SYSTEM_ATTRIBUTE: Final = "charter.system"
PROMPT_ATTRIBUTE: Final = "charter.prompt"
PROMPT_HASH_ATTRIBUTE: Final = "charter.prompt.hash"
EXCEPTION_EVENT: Final = "exception"
PROMPT_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}@[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
PROMPT_HASH = re.compile(r"^sha256:[0-9a-f]{64}$")

_MARKERS: Final = (
    ("otel", otel.marked),
    ("openinference", openinference.marked),
    ("traceloop", traceloop.marked),
    ("otel_deprecated", deprecated.marked),
    ("otel", otel.marked_loosely),
)
# Precedence order; all but the first run only when the span has attributes (or events) of theirs.
_GATED: Final = (
    (openinference.relevant, openinference.extract),
    (deprecated.relevant, deprecated.extract),
    (traceloop.relevant, traceloop.extract),
)


@dataclass(frozen=True)
class MappingOptions:
    capture_content: bool = True  # False: messages are never read (a system whose policy drops content)
    max_message_chars: int = 100_000  # longer message contents are cut (and content_truncated set)
    max_messages: int = 500  # per direction

    def __post_init__(self) -> None:
        for name in ("max_message_chars", "max_messages"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")


def dialect_of(span: RawSpan) -> str | None:
    """The dialect whose markers the span carries, or None for a span that is not a GenAI span."""
    for name, marked in _MARKERS:
        if marked(span):
            return name
    return None


def map_span(
    span: RawSpan, system: str, options: MappingOptions = MappingOptions(), dialect: str | None = None
) -> tuple[GenAISpan, list[str]]:
    """Map a GenAI span (see `dialect_of`); returns the span and warnings about attributes that were ignored."""
    warnings: list[str] = []
    warn = warnings.append
    found: Found = {}
    a = span.attributes
    otel.extract(span, found, warn, options.capture_content)
    heads = {key.partition(".")[0] for key in a}
    for relevant, extract in _GATED:
        if relevant(span, heads):
            extract(span, found, warn, options.capture_content)
    latency_ms = (span.end_ns - span.start_ns) / 1e6
    evaluations: list[Evaluation] = found.get("evaluations", [])
    request_model, response_model = found.get("request_model"), found.get("response_model")

    operation = found.get("operation")
    if operation is None:
        if request_model or response_model:
            operation = "chat"
        elif evaluations:
            operation = "evaluation"
        else:
            operation = "unknown"

    ttft = found.get("ttft_ms")
    if ttft is not None and not 0 <= ttft <= latency_ms:
        warn(f"time to first token {ttft:g} ms is outside the span's {latency_ms:g} ms; ignored")
        ttft = None

    error_type: str | None = found.get("error_type")
    is_error = span.status_code == STATUS_ERROR or error_type is not None
    error_message = span.status_message or None
    if is_error:
        for ev in span.events:
            if ev.name == EXCEPTION_EVENT:
                error_type = error_type or text(ev.attributes.get("exception.type"))
                error_message = error_message or text(ev.attributes.get("exception.message"))
                break

    input_tokens, output_tokens = found.get("input_tokens"), found.get("output_tokens")
    total = found.get("total_tokens")
    if total is None and input_tokens is not None and output_tokens is not None:
        total = input_tokens + output_tokens

    prompt = text(a.get(PROMPT_ATTRIBUTE))
    if prompt is not None and not PROMPT_REF.match(prompt):
        warn(
            f"{PROMPT_ATTRIBUTE} {prompt!r:.80} is not name@version (e.g. support-answer@3); prompt attribution dropped"
        )
        prompt = None
    prompt_hash = text(a.get(PROMPT_HASH_ATTRIBUTE))
    if prompt_hash is not None and not PROMPT_HASH.match(prompt_hash):
        warn(f"{PROMPT_HASH_ATTRIBUTE} {prompt_hash!r:.80} is not sha256:<64 hex digits>; ignored")
        prompt_hash = None

    truncated = False
    inputs: list[Message] | None = found.get("input_messages")
    outputs: list[Message] | None = found.get("output_messages")
    if inputs is not None:
        inputs, cut = _bounded(inputs, options)
        truncated |= cut
    if outputs is not None:
        outputs, cut = _bounded(outputs, options)
        truncated |= cut

    mapped = GenAISpan(
        system=system,
        trace_id=span.trace_id,
        span_id=span.span_id,
        parent_span_id=span.parent_span_id or None,
        name=span.name,
        dialect=dialect or dialect_of(span) or "otel",
        operation=operation,
        provider=found.get("provider"),
        request_model=request_model,
        response_model=response_model,
        start=from_unix_nano(span.start_ns),
        end=from_unix_nano(span.end_ns),
        latency_ms=latency_ms,
        ttft_ms=ttft,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        total_tokens=total,
        finish_reasons=found.get("finish_reasons", ()),
        is_error=is_error,
        error_type=error_type,
        error_message=error_message,
        conversation_id=found.get("conversation_id"),
        response_id=found.get("response_id"),
        prompt=prompt,
        prompt_hash=prompt_hash,
        entity=found.get("entity"),
        service_name=text(span.resource.get("service.name")),
        service_version=text(span.resource.get("service.version")),
        environment=text(span.resource.get("deployment.environment.name"))
        or text(span.resource.get("deployment.environment")),
        input_messages=inputs,
        output_messages=outputs,
        content_truncated=truncated,
        evaluations=evaluations,
    )
    return mapped, warnings


def _bounded(messages: list[Message], options: MappingOptions) -> tuple[list[Message], bool]:
    cut = len(messages) > options.max_messages
    out = messages[: options.max_messages]
    limit = options.max_message_chars
    if any(len(m["content"]) > limit for m in out):
        cut = True
        out = [m if len(m["content"]) <= limit else {"role": m["role"], "content": m["content"][:limit]} for m in out]
    return out, cut
