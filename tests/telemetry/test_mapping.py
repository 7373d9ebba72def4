"""Mapping GenAI spans of each dialect to one GenAISpan. The attribute sets are written from the published
conventions: open-telemetry/semantic-conventions(-genai) docs/gen-ai, Arize-ai/openinference spec/, and
traceloop/openllmetry's semconv_ai package and instrumentations."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from charter.telemetry.mapping import Evaluation, MappingOptions, dialect_of, map_span
from charter.telemetry.otlp import from_unix_nano
from tests.telemetry.otlp_builders import START_NS, TRACE_ID, raw, span_id


def mapped(span, options: MappingOptions = MappingOptions()):
    result, warnings = map_span(span, "support-bot", options)
    return result, warnings


# ------------------------------------------------------------------------------------------- current OTel


OTEL_CHAT = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4",
    "gen_ai.response.model": "gpt-4-0613",
    "gen_ai.response.id": "chatcmpl-123",
    "gen_ai.response.finish_reasons": ["stop"],
    "gen_ai.usage.input_tokens": 100,
    "gen_ai.usage.output_tokens": 180,
    "gen_ai.conversation.id": "conv_5j66UpCpwteGg4YSxUnt7lPY",
    "gen_ai.request.temperature": 0.0,
    "server.address": "api.openai.com",
    "charter.prompt": "weather-answer@4",
    "charter.prompt.hash": "sha256:" + "ab" * 32,
    "gen_ai.system_instructions": json.dumps([{"type": "text", "content": "You are a weather assistant."}]),
    # The examples of the spans document (input / output messages JSON schemas), as JSON strings on the span.
    "gen_ai.input.messages": json.dumps(
        [
            {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]},
            {
                "role": "assistant",
                "parts": [
                    {
                        "type": "tool_call",
                        "id": "call_VSPygqKTWdrhaFErNvMV18Yl",
                        "name": "get_weather",
                        "arguments": {"location": "Paris"},
                    }
                ],
            },
            {
                "role": "tool",
                "parts": [
                    {"type": "tool_call_response", "id": "call_VSPygqKTWdrhaFErNvMV18Yl", "response": "rainy, 57°F"}
                ],
            },
        ]
    ),
    "gen_ai.output.messages": json.dumps(
        [
            {
                "role": "assistant",
                "parts": [
                    {"type": "text", "content": "The weather in Paris is currently rainy with a temperature of 57°F."}
                ],
                "finish_reason": "stop",
            }
        ]
    ),
}


def test_a_current_otel_chat_span_maps_every_field() -> None:
    events = [
        (
            "gen_ai.evaluation.result",
            1300.0,
            {
                "gen_ai.evaluation.name": "Relevance",
                "gen_ai.evaluation.score.value": 4.0,
                "gen_ai.evaluation.score.label": "relevant",
                "gen_ai.evaluation.explanation": "The response is factually accurate but lacks detail.",
                "gen_ai.response.id": "chatcmpl-123",
            },
        )
    ]
    span, warnings = mapped(raw(OTEL_CHAT, events=events, duration_ms=1234.5, name="chat gpt-4"))
    assert warnings == []
    assert (span.system, span.trace_id, span.span_id, span.parent_span_id) == (
        "support-bot",
        TRACE_ID,
        span_id(0),
        None,
    )
    assert (span.dialect, span.operation, span.provider) == ("otel", "chat", "openai")
    assert (span.request_model, span.response_model, span.model) == ("gpt-4", "gpt-4-0613", "gpt-4")
    assert span.start == from_unix_nano(START_NS) and span.latency_ms == pytest.approx(1234.5)
    assert (span.input_tokens, span.output_tokens, span.total_tokens) == (100, 180, 280)
    assert span.finish_reasons == ("stop",)
    assert (span.conversation_id, span.response_id) == ("conv_5j66UpCpwteGg4YSxUnt7lPY", "chatcmpl-123")
    assert (span.prompt, span.prompt_hash) == ("weather-answer@4", "sha256:" + "ab" * 32)
    assert span.service_name == "support-api" and span.is_error is False and span.ttft_ms is None
    assert span.input_messages == [
        {"role": "system", "content": "You are a weather assistant."},
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": 'tool_call get_weather({"location":"Paris"})'},
        {"role": "tool", "content": "rainy, 57°F"},
    ]
    assert span.output_messages == [
        {"role": "assistant", "content": "The weather in Paris is currently rainy with a temperature of 57°F."}
    ]
    assert span.evaluations == [
        Evaluation("Relevance", 4.0, "relevant", "The response is factually accurate but lacks detail.", "chatcmpl-123")
    ]


def test_structured_message_attributes_map_like_their_json_text() -> None:
    as_text, _ = mapped(raw(OTEL_CHAT))
    structured = OTEL_CHAT | {
        "gen_ai.input.messages": json.loads(OTEL_CHAT["gen_ai.input.messages"]),
        "gen_ai.output.messages": json.loads(OTEL_CHAT["gen_ai.output.messages"]),
        "gen_ai.system_instructions": json.loads(OTEL_CHAT["gen_ai.system_instructions"]),
    }
    as_values, _ = mapped(raw(structured))
    assert as_values.input_messages == as_text.input_messages
    assert as_values.output_messages == as_text.output_messages


@pytest.mark.parametrize(
    ("attrs", "operation", "entity"),
    [
        ({"gen_ai.operation.name": "embeddings", "gen_ai.request.model": "text-embedding-3-small"}, "embeddings", None),
        (
            {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "Flights", "gen_ai.tool.call.id": "call_1"},
            "execute_tool",
            "Flights",
        ),
        (
            {
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.provider.name": "openai",
                "gen_ai.agent.name": "Math Tutor",
            },
            "invoke_agent",
            "Math Tutor",
        ),
        ({"gen_ai.operation.name": "generate_content", "gen_ai.provider.name": "gcp.gemini"}, "generate_content", None),
    ],
)
def test_other_otel_operations(attrs, operation, entity) -> None:
    span, _ = mapped(raw(attrs))
    assert (span.operation, span.entity) == (operation, entity)


def test_streaming_time_to_first_chunk_is_read_in_seconds() -> None:
    span, _ = mapped(raw(OTEL_CHAT | {"gen_ai.request.stream": True, "gen_ai.response.time_to_first_chunk": 0.5}))
    assert span.ttft_ms == 500.0
    late, warnings = mapped(raw(OTEL_CHAT | {"gen_ai.response.time_to_first_chunk": 9.0}, duration_ms=1000))
    assert late.ttft_ms is None and warnings == ["time to first token 9000 ms is outside the span's 1000 ms; ignored"]


def test_an_error_comes_from_the_status_error_type_and_the_exception_event() -> None:
    failed = raw(
        OTEL_CHAT | {"error.type": "timeout"},
        status=2,
        status_message="Request timed out.",
        events=[("exception", 900.0, {"exception.type": "openai.APITimeoutError", "exception.message": "timed out"})],
    )
    span, _ = mapped(failed)
    assert (span.is_error, span.error_type, span.error_message) == (True, "timeout", "Request timed out.")
    only_exception = raw(
        OTEL_CHAT,
        status=2,
        events=[("exception", 900.0, {"exception.type": "openai.RateLimitError", "exception.message": "429"})],
    )
    span, _ = mapped(only_exception)
    assert (span.is_error, span.error_type, span.error_message) == (True, "openai.RateLimitError", "429")
    handled = raw(OTEL_CHAT, events=[("exception", 900.0, {"exception.type": "KeyError"})])
    assert mapped(handled)[0].is_error is False  # an exception recorded on a span that ended OK


# ------------------------------------------------------------------------------------------- deprecated OTel


def test_the_deprecated_conventions_with_content_events() -> None:
    attrs = {
        "gen_ai.system": "az.ai.openai",
        "gen_ai.request.model": "gpt-4",
        "gen_ai.request.max_tokens": 100,
        "gen_ai.response.model": "gpt-4-0613",
        "gen_ai.response.finish_reasons": ["stop"],
        "gen_ai.usage.prompt_tokens": 100,
        "gen_ai.usage.completion_tokens": 180,
    }
    events = [
        (
            "gen_ai.content.prompt",
            1.0,
            {"gen_ai.prompt": '[{"role": "user", "content": "What is the capital of France?"}]'},
        ),
        (
            "gen_ai.content.completion",
            1100.0,
            {"gen_ai.completion": '[{"role": "assistant", "content": "The capital of France is Paris."}]'},
        ),
        (
            "gen_ai.evaluation.user_feedback",
            1150.0,
            {"gen_ai.response.id": "chatcmpl-1", "gen_ai.evaluation.score": 0.42},
        ),
    ]
    span, warnings = mapped(raw(attrs, events=events))
    assert warnings == []
    assert (span.dialect, span.operation, span.provider) == ("otel_deprecated", "chat", "azure.ai.openai")
    assert (span.input_tokens, span.output_tokens) == (100, 180)
    assert span.input_messages == [{"role": "user", "content": "What is the capital of France?"}]
    assert span.output_messages == [{"role": "assistant", "content": "The capital of France is Paris."}]
    assert span.evaluations == [Evaluation("user_feedback", 0.42, None, None, "chatcmpl-1")]


def test_plain_text_prompt_attributes_become_one_message() -> None:
    span, _ = mapped(raw({"gen_ai.system": "vertex_ai", "gen_ai.prompt": "Hello", "gen_ai.completion": "Hi there"}))
    assert span.provider == "gcp.vertex_ai"
    assert (span.input_messages, span.output_messages) == (
        [{"role": "user", "content": "Hello"}],
        [{"role": "assistant", "content": "Hi there"}],
    )


def test_current_names_win_over_deprecated_ones_on_the_same_span() -> None:
    both = {
        "gen_ai.provider.name": "openai",
        "gen_ai.system": "azure",
        "gen_ai.operation.name": "chat",
        "gen_ai.usage.input_tokens": 10,
        "gen_ai.usage.prompt_tokens": 99,
    }
    span, _ = mapped(raw(both))
    assert (span.dialect, span.provider, span.input_tokens) == ("otel", "openai", 10)


# ------------------------------------------------------------------------------------------- OpenInference


OPENINFERENCE_LLM = {
    "openinference.span.kind": "LLM",
    "llm.model_name": "gpt-4o-2024-08-06",
    "llm.provider": "azure",
    "llm.system": "openai",
    "llm.invocation_parameters": '{"temperature": 0.7}',
    "llm.input_messages.0.message.role": "system",
    "llm.input_messages.0.message.content": "You are a helpful assistant.",
    "llm.input_messages.1.message.role": "user",
    "llm.input_messages.1.message.contents.0.message_content.type": "text",
    "llm.input_messages.1.message.contents.0.message_content.text": "What is in this image?",
    "llm.input_messages.1.message.contents.1.message_content.type": "image",
    "llm.input_messages.1.message.contents.1.message_content.image.image.url": "https://example.com/a.png",
    "llm.output_messages.0.message.role": "assistant",
    "llm.output_messages.0.message.content": "A cat.",
    "llm.token_count.prompt": 31,
    "llm.token_count.completion": 25,
    "llm.token_count.total": 56,
    "llm.finish_reason": "stop",
    "session.id": "26bcd3d2-cad2-443d-a23c-625e47f3324a",
    "input.value": '{"messages": "..."}',
    "input.mime_type": "application/json",
    "output.value": "A cat.",
    "annotations.0.annotation.name": "hallucination",
    "annotations.0.annotation.score": 1,
    "annotations.0.annotation.label": "hallucinated",
    "annotations.0.annotation.explanation": "The claim is not supported by the retrieved documents.",
    "annotations.0.annotation.annotator_kind": "LLM",
    "evaluations.0.evaluation.name": "correctness",
    "evaluations.0.evaluation.score": 0.5,
}


def test_an_openinference_llm_span_maps_every_field() -> None:
    span, warnings = mapped(
        raw(OPENINFERENCE_LLM, events=[("First Token Stream Event", 320.0, {})], name="ChatCompletion")
    )
    assert warnings == []
    assert (span.dialect, span.operation, span.provider) == ("openinference", "chat", "azure.ai.openai")
    assert (span.request_model, span.response_model) == ("gpt-4o-2024-08-06", None)
    assert (span.input_tokens, span.output_tokens, span.total_tokens) == (31, 25, 56)
    assert span.finish_reasons == ("stop",) and span.ttft_ms == pytest.approx(320.0)
    assert span.conversation_id == "26bcd3d2-cad2-443d-a23c-625e47f3324a"
    assert span.input_messages == [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "What is in this image?"},
    ]
    assert span.output_messages == [{"role": "assistant", "content": "A cat."}]
    assert span.evaluations == [
        Evaluation("hallucination", 1.0, "hallucinated", "The claim is not supported by the retrieved documents."),
        Evaluation("correctness", 0.5),
    ]


def test_openinference_completions_embeddings_tools_and_chains() -> None:
    completion, _ = mapped(
        raw(
            {
                "openinference.span.kind": "LLM",
                "llm.model_name": "babbage-002",
                "llm.system": "openai",
                "llm.prompts.0.prompt.text": "def fib(n):",
                "llm.choices.0.completion.text": " + fib(n-3)",
            }
        )
    )
    assert (completion.operation, completion.provider) == ("text_completion", "openai")
    assert completion.input_messages == [{"role": "user", "content": "def fib(n):"}]
    assert completion.output_messages == [{"role": "assistant", "content": " + fib(n-3)"}]
    embedding, _ = mapped(raw({"openinference.span.kind": "EMBEDDING", "embedding.model_name": "BERT-base"}))
    assert (embedding.operation, embedding.model) == ("embeddings", "BERT-base")
    tool, _ = mapped(raw({"openinference.span.kind": "TOOL", "tool.name": "WeatherAPI", "input.value": "Paris"}))
    assert (tool.operation, tool.entity, tool.input_messages) == (
        "execute_tool",
        "WeatherAPI",
        [{"role": "user", "content": "Paris"}],
    )
    chain, _ = mapped(raw({"openinference.span.kind": "CHAIN", "input.value": "q", "output.value": "a"}))
    assert (chain.operation, chain.output_messages) == ("chain", [{"role": "assistant", "content": "a"}])
    assert dialect_of(raw({"openinference.span.kind": "UNKNOWN"})) is None


# ------------------------------------------------------------------------------------------- Traceloop


OPENLLMETRY_CHAT = {
    "gen_ai.system": "openai",
    "llm.request.type": "chat",
    "gen_ai.request.model": "gpt-3.5-turbo",
    "gen_ai.response.model": "gpt-3.5-turbo-0125",
    "gen_ai.openai.api_base": "https://api.openai.com/v1/",
    "llm.is_streaming": True,
    "gen_ai.prompt.0.role": "system",
    "gen_ai.prompt.0.content": "You are a poet.",
    "gen_ai.prompt.1.role": "user",
    "gen_ai.prompt.1.content": "Tell me a joke about OpenTelemetry",
    "gen_ai.completion.0.role": "assistant",
    "gen_ai.completion.0.content": "Why did the span cross the road?",
    "gen_ai.completion.0.finish_reason": "stop",
    "gen_ai.usage.prompt_tokens": 15,
    "gen_ai.usage.completion_tokens": 9,
    "llm.usage.total_tokens": 24,
    "traceloop.workflow.name": "joke_generator",
    "traceloop.association.properties.user_id": "u-1",
}


def test_an_openllmetry_chat_span_with_streaming_chunks() -> None:
    events = [("gen_ai.content.completion.chunk", ms, {}) for ms in (410.0, 450.0, 520.0)]
    span, warnings = mapped(raw(OPENLLMETRY_CHAT, events=events, name="openai.chat"))
    assert warnings == []
    assert (span.dialect, span.operation, span.provider) == ("traceloop", "chat", "openai")
    assert (span.request_model, span.response_model) == ("gpt-3.5-turbo", "gpt-3.5-turbo-0125")
    assert (span.input_tokens, span.output_tokens, span.total_tokens) == (15, 9, 24)
    assert span.finish_reasons == ("stop",) and span.ttft_ms == pytest.approx(410.0)
    assert span.input_messages == [
        {"role": "system", "content": "You are a poet."},
        {"role": "user", "content": "Tell me a joke about OpenTelemetry"},
    ]
    assert span.output_messages == [{"role": "assistant", "content": "Why did the span cross the road?"}]


@pytest.mark.parametrize(
    ("request_type", "operation"),
    [("completion", "text_completion"), ("embedding", "embeddings"), ("rerank", "rerank")],
)
def test_traceloop_request_types(request_type, operation) -> None:
    span, _ = mapped(raw({"gen_ai.system": "cohere", "llm.request.type": request_type}))
    assert (span.dialect, span.operation) == ("traceloop", operation)


def test_traceloop_workflow_and_tool_spans() -> None:
    workflow = {
        "traceloop.span.kind": "workflow",
        "traceloop.entity.name": "joke_generator",
        "traceloop.entity.input": '{"args": [], "kwargs": {"topic": "otel"}}',
        "traceloop.entity.output": '"Why did the span cross the road?"',
    }
    span, _ = mapped(raw(workflow))
    assert (span.dialect, span.operation, span.entity, span.model) == (
        "traceloop",
        "invoke_workflow",
        "joke_generator",
        None,
    )
    assert span.input_messages == [{"role": "user", "content": workflow["traceloop.entity.input"]}]
    tool, _ = mapped(raw({"traceloop.span.kind": "tool", "traceloop.entity.name": "search"}))
    assert (tool.operation, tool.entity) == ("execute_tool", "search")


# ------------------------------------------------------------------------------------------- common rules


def test_non_genai_spans_have_no_dialect() -> None:
    assert dialect_of(raw({"http.request.method": "GET", "url.path": "/health"})) is None
    assert dialect_of(raw({"db.system": "postgresql"})) is None
    assert dialect_of(raw({"traceloop.span.kind": "unknown"})) is None
    only_evaluation = raw({}, events=[("gen_ai.evaluation.result", 5.0, {"gen_ai.evaluation.name": "toxicity"})])
    assert dialect_of(only_evaluation) == "otel"
    assert mapped(only_evaluation)[0].operation == "evaluation"


def test_prompt_attribution_and_bad_values_are_reported_not_fatal() -> None:
    span, warnings = mapped(
        raw(
            OTEL_CHAT
            | {
                "charter.prompt": "weather answer v4",
                "charter.prompt.hash": "md5:abc",
                "gen_ai.usage.input_tokens": -3,
                "gen_ai.usage.output_tokens": "12",
            }
        )
    )
    assert (span.prompt, span.prompt_hash, span.input_tokens, span.output_tokens) == (None, None, None, 12)
    assert warnings == [
        "gen_ai.usage.input_tokens -3 is negative; ignored",
        "charter.prompt 'weather answer v4' is not name@version (e.g. support-answer@3); prompt attribution dropped",
        "charter.prompt.hash 'md5:abc' is not sha256:<64 hex digits>; ignored",
    ]


def test_content_can_be_left_out_or_cut() -> None:
    span, _ = mapped(raw(OTEL_CHAT), MappingOptions(capture_content=False))
    assert (span.input_messages, span.output_messages, span.has_content) == (None, None, False)
    span, _ = mapped(raw(OTEL_CHAT), MappingOptions(max_message_chars=10, max_messages=2))
    assert span.content_truncated is True
    assert span.input_messages == [
        {"role": "system", "content": "You are a "},
        {"role": "user", "content": "Weather in"},
    ]
    with pytest.raises(ValueError, match="max_messages must be a positive integer"):
        MappingOptions(max_messages=0)


# ------------------------------------------------------------------------------------------- robustness

_KEYS = sorted(
    set(OTEL_CHAT) | set(OPENINFERENCE_LLM) | set(OPENLLMETRY_CHAT)
    | {"gen_ai.prompt", "gen_ai.completion", "gen_ai.response.time_to_first_chunk", "llm.token_count.total",
       "traceloop.span.kind", "traceloop.entity.input", "gen_ai.tool.name", "error.type"}
)  # fmt: skip
_ANY = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30) | st.binary(max_size=5)
    | st.sampled_from(['[{"role": 1, "parts": 5}]', '{"a": [}', "[]", '[{"parts": [{"type": "tool_call"}]}]']),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(
    attrs=st.dictionaries(st.sampled_from(_KEYS), _ANY, max_size=12),
    events=st.lists(
        st.tuples(
            st.sampled_from(["gen_ai.evaluation.result", "exception", "First Token Stream Event",
                             "gen_ai.content.prompt", "gen_ai.content.completion.chunk"]),
            st.floats(-10, 2000, allow_nan=False),
            st.dictionaries(st.sampled_from(["gen_ai.evaluation.name", "gen_ai.evaluation.score.value",
                                             "gen_ai.prompt", "exception.type"]), _ANY, max_size=3),
        ),
        max_size=3,
    ),
    status=st.sampled_from([0, 1, 2]),
)  # fmt: skip
def test_mapping_never_fails_on_odd_values_it_only_warns(attrs, events, status) -> None:
    span = raw(attrs, events=events, status=status)
    if dialect_of(span) is None:
        return
    result, warnings = mapped(span)
    assert result.operation and all(isinstance(w, str) for w in warnings)
    assert result.input_tokens is None or result.input_tokens >= 0
    for messages in (result.input_messages or [], result.output_messages or []):
        assert all(isinstance(m["role"], str) and isinstance(m["content"], str) for m in messages)
    assert all(e.score_value is None or math.isfinite(e.score_value) for e in result.evaluations)
