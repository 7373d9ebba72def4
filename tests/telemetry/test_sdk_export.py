"""Real spans from the OpenTelemetry Python SDK, exported by OTLPSpanExporter (OTLP/HTTP protobuf, plain, gzip and
deflate) to a local HTTP server that runs the ingest; what arrives maps to what the producers sent.

The producers are instrumentation-style wrappers around a local, deterministic "LLM" (no fake of Charter's parts):
one records the current OTel GenAI conventions as the official instrumentations do with content capture on, one
records what OpenLLMetry records (workflow span, flattened prompts, chunk events), one what OpenInference records.
"""

from __future__ import annotations

import json
import socket
import statistics
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
import uvicorn
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Tracer

from charter.telemetry.ingest import IngestOptions, IngestResult, ingest
from charter.telemetry.mapping import Evaluation, GenAISpan
from charter.telemetry.otlp import DecodeLimits, OtlpError, encode_status, from_unix_nano, response_media_type
from charter.telemetry.rollup import rollup
from tests.telemetry.otlp_builders import to_otlp_json

# ------------------------------------------------------------------------------------------- the local server


@dataclass
class Exchange:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    response: bytes
    result: IngestResult | None


@dataclass
class Collector:
    """A minimal OTLP/HTTP trace endpoint (ASGI) running the ingest on every POST /v1/traces."""

    options: IngestOptions = field(default_factory=IngestOptions)
    exchanges: list[Exchange] = field(default_factory=list)
    url: str = ""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        content_type = headers.get("content-type")
        result: IngestResult | None = None
        try:
            result = ingest(
                body, content_type, headers.get("content-encoding"), now=datetime.now(UTC), options=self.options
            )
            status, media, response = 200, result.media_type, result.response_body()
        except OtlpError as e:
            media = response_media_type(content_type)
            status, response = e.status, encode_status(e, media)
        self.exchanges.append(Exchange(scope["path"], headers, body, status, response, result))
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", media.encode())]})
        await send({"type": "http.response.body", "body": response})

    def results(self) -> list[IngestResult]:
        return [e.result for e in self.exchanges if e.result is not None]


@pytest.fixture(scope="module")
def server() -> Iterator[Collector]:
    collector = Collector()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    uv = uvicorn.Server(uvicorn.Config(collector, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not uv.started:
        assert time.monotonic() < deadline, "the local OTLP server did not start"
        time.sleep(0.01)
    collector.url = f"http://127.0.0.1:{port}/v1/traces"
    yield collector
    uv.should_exit = True
    thread.join(timeout=5)


@pytest.fixture
def collector(server: Collector) -> Collector:
    server.exchanges.clear()
    server.options = IngestOptions()
    return server


# ------------------------------------------------------------------------------------------- the producers


def local_llm(messages: list[dict[str, str]]) -> Iterator[str]:
    """A deterministic local model: streams 'You asked: <last message>' word by word."""
    question = messages[-1]["content"]
    if "timeout" in question:
        raise TimeoutError("the local model did not answer in time")
    for word in f"You asked: {question}".split():
        time.sleep(0.001)
        yield word + " "


def tokens(text: str) -> int:
    return len(text.split())


def judge_relevance(question: str, answer: str) -> float:
    """An in-process evaluator: the share of the question's words the answer repeats."""
    q = set(question.lower().split())
    return len(q & set(answer.lower().split())) / len(q)


def otel_genai_chat(tracer: Tracer, model: str, messages: list[dict[str, str]], *, prompt: str, stream: bool) -> str:
    """Current OTel GenAI conventions, content captured as JSON strings, an evaluation event from a judge."""
    attrs = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": model,
        "gen_ai.conversation.id": "conv-42",
        "gen_ai.request.stream": stream,
        "charter.prompt": prompt,
        "gen_ai.input.messages": json.dumps(
            [{"role": m["role"], "parts": [{"type": "text", "content": m["content"]}]} for m in messages]
        ),
    }
    with tracer.start_as_current_span(f"chat {model}", kind=SpanKind.CLIENT, attributes=attrs) as span:
        started = time.perf_counter()
        chunks: list[str] = []
        try:
            for chunk in local_llm(messages):
                if not chunks and stream:
                    span.set_attribute("gen_ai.response.time_to_first_chunk", time.perf_counter() - started)
                chunks.append(chunk)
        except Exception as e:
            span.set_attribute("error.type", type(e).__qualname__)
            raise
        reply = "".join(chunks).strip()
        span.set_attributes(
            {
                "gen_ai.response.model": f"{model}-2024-08-06",
                "gen_ai.response.id": f"chatcmpl-{len(reply)}",
                "gen_ai.response.finish_reasons": ["stop"],
                "gen_ai.usage.input_tokens": sum(tokens(m["content"]) for m in messages),
                "gen_ai.usage.output_tokens": tokens(reply),
                "gen_ai.output.messages": json.dumps(
                    [{"role": "assistant", "parts": [{"type": "text", "content": reply}], "finish_reason": "stop"}]
                ),
            }
        )
        span.add_event(
            "gen_ai.evaluation.result",
            {
                "gen_ai.evaluation.name": "relevance",
                "gen_ai.evaluation.score.value": judge_relevance(messages[-1]["content"], reply),
            },
        )
        return reply


def openllmetry_chat(tracer: Tracer, model: str, messages: list[dict[str, str]]) -> str:
    """What OpenLLMetry records: a @workflow span around an openai.chat span with flattened prompts/completions
    and a gen_ai.content.completion.chunk event per streamed chunk."""
    with tracer.start_as_current_span(
        "joke_generator.workflow",
        attributes={"traceloop.span.kind": "workflow", "traceloop.entity.name": "joke_generator"},
    ):
        attrs: dict[str, Any] = {
            "llm.request.type": "chat",
            "gen_ai.system": "openai",
            "gen_ai.request.model": model,
            "llm.is_streaming": True,
        }
        for i, m in enumerate(messages):
            attrs[f"gen_ai.prompt.{i}.role"] = m["role"]
            attrs[f"gen_ai.prompt.{i}.content"] = m["content"]
        with tracer.start_as_current_span("openai.chat", kind=SpanKind.CLIENT, attributes=attrs) as span:
            chunks = []
            for chunk in local_llm(messages):
                span.add_event("gen_ai.content.completion.chunk")
                chunks.append(chunk)
            reply = "".join(chunks).strip()
            prompt_tokens, completion_tokens = sum(tokens(m["content"]) for m in messages), tokens(reply)
            span.set_attributes(
                {
                    "gen_ai.response.model": model,
                    "gen_ai.completion.0.role": "assistant",
                    "gen_ai.completion.0.content": reply,
                    "gen_ai.completion.0.finish_reason": "stop",
                    "gen_ai.usage.prompt_tokens": prompt_tokens,
                    "gen_ai.usage.completion_tokens": completion_tokens,
                    "llm.usage.total_tokens": prompt_tokens + completion_tokens,
                }
            )
            return reply


def openinference_chat(tracer: Tracer, model: str, messages: list[dict[str, str]]) -> str:
    """What the OpenInference instrumentations record for a streamed chat completion."""
    attrs: dict[str, Any] = {
        "openinference.span.kind": "LLM",
        "llm.model_name": model,
        "llm.provider": "anthropic",
        "llm.system": "anthropic",
        "input.value": json.dumps({"messages": messages}),
        "input.mime_type": "application/json",
        "session.id": "session-7",
    }
    for i, m in enumerate(messages):
        attrs[f"llm.input_messages.{i}.message.role"] = m["role"]
        attrs[f"llm.input_messages.{i}.message.content"] = m["content"]
    with tracer.start_as_current_span("Messages", attributes=attrs) as span:
        chunks = []
        for chunk in local_llm(messages):
            if not chunks:
                span.add_event("First Token Stream Event")
            chunks.append(chunk)
        reply = "".join(chunks).strip()
        span.set_attributes(
            {
                "llm.output_messages.0.message.role": "assistant",
                "llm.output_messages.0.message.content": reply,
                "llm.token_count.prompt": sum(tokens(m["content"]) for m in messages),
                "llm.token_count.completion": tokens(reply),
                "output.value": reply,
                "output.mime_type": "text/plain",
            }
        )
        return reply


def produce(tracer: Tracer) -> None:
    """An application's traffic: three prompt versions, a failure, a streamed call, other dialects, a health check."""
    ask = [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "How do I reset my password?"}]
    otel_genai_chat(tracer, "gpt-4o", ask, prompt="support-answer@3", stream=False)
    otel_genai_chat(tracer, "gpt-4o", ask, prompt="support-answer@4", stream=True)
    otel_genai_chat(
        tracer,
        "gpt-4o",
        [ask[0], {"role": "user", "content": "Where is my parcel?"}],
        prompt="support-answer@4",
        stream=True,
    )
    with pytest.raises(TimeoutError):
        otel_genai_chat(
            tracer, "gpt-4o", [{"role": "user", "content": "timeout please"}], prompt="support-answer@4", stream=False
        )
    openllmetry_chat(tracer, "gpt-3.5-turbo", [{"role": "user", "content": "Tell me a joke about OpenTelemetry"}])
    openinference_chat(tracer, "claude-sonnet-4", [{"role": "user", "content": "Summarize my ticket"}])
    with tracer.start_as_current_span("GET /health", kind=SpanKind.SERVER, attributes={"http.request.method": "GET"}):
        pass


def export(
    collector: Collector, compression: Compression, resource: dict[str, str] | None = None
) -> list[ReadableSpan]:
    """Produce with the SDK: every span to memory (what was sent) and, batched, over OTLP/HTTP to the collector."""
    provider = TracerProvider(
        resource=Resource.create(
            resource
            or {
                "service.name": "support-api",
                "service.version": "2.3.1",
                "deployment.environment.name": "production",
                "charter.system": "support-bot",
            }
        )
    )
    sent = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(sent))
    exporter = OTLPSpanExporter(endpoint=collector.url, compression=compression, timeout=5)
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=60_000, max_export_batch_size=512))
    produce(provider.get_tracer("tests.telemetry.producer"))
    assert provider.force_flush(10_000)
    provider.shutdown()
    return list(sent.get_finished_spans())


def by_id(results: list[IngestResult]) -> dict[str, GenAISpan]:
    return {s.span_id: s for r in results for s in r.spans}


# ------------------------------------------------------------------------------------------- tests


@pytest.mark.parametrize("compression", [Compression.NoCompression, Compression.Gzip, Compression.Deflate])
def test_spans_exported_by_the_sdk_map_to_what_was_sent(collector: Collector, compression: Compression) -> None:
    sent = export(collector, compression)
    assert collector.exchanges and {e.path for e in collector.exchanges} == {"/v1/traces"}
    assert {e.headers["content-type"] for e in collector.exchanges} == {"application/x-protobuf"}
    if compression is not Compression.NoCompression:
        assert {e.headers.get("content-encoding") for e in collector.exchanges} == {compression.value}
    assert {e.status for e in collector.exchanges} == {200}
    results = collector.results()
    assert sum(r.received for r in results) == len(sent) == 8
    assert sum(r.skipped for r in results) == 1  # GET /health
    assert [r.partial_success() for r in results] == [None] * len(results)
    mapped = by_id(results)
    assert len(mapped) == 7

    for s in sent:
        if s.name == "GET /health":
            continue
        m = mapped[format(s.context.span_id, "016x")]
        a = dict(s.attributes or {})
        assert m.trace_id == format(s.context.trace_id, "032x") and m.system == "support-bot"
        assert m.parent_span_id == (format(s.parent.span_id, "016x") if s.parent else None)
        assert m.start == from_unix_nano(s.start_time) and m.end == from_unix_nano(s.end_time)
        assert m.latency_ms == (s.end_time - s.start_time) / 1e6
        assert (m.service_name, m.service_version, m.environment) == ("support-api", "2.3.1", "production")
        if s.name.startswith("chat "):
            assert (m.dialect, m.operation, m.provider, m.model, m.prompt) == (
                "otel", "chat", "openai", "gpt-4o", a["charter.prompt"],
            )  # fmt: skip
            assert m.conversation_id == "conv-42"
            sent_inputs = json.loads(a["gen_ai.input.messages"])
            assert m.input_messages == [{"role": x["role"], "content": x["parts"][0]["content"]} for x in sent_inputs]
            if "error.type" in a:
                assert (m.is_error, m.error_type) == (True, "TimeoutError")
                assert m.error_message == "TimeoutError: the local model did not answer in time"
                assert m.output_messages is None and m.evaluations == []
                continue
            assert m.is_error is False
            assert (m.input_tokens, m.output_tokens) == (
                a["gen_ai.usage.input_tokens"],
                a["gen_ai.usage.output_tokens"],
            )
            assert m.response_model == "gpt-4o-2024-08-06" and m.finish_reasons == ("stop",)
            assert m.output_messages == [
                {"role": "assistant", "content": json.loads(a["gen_ai.output.messages"])[0]["parts"][0]["content"]}
            ]
            event = next(e for e in s.events if e.name == "gen_ai.evaluation.result")
            assert m.evaluations == [Evaluation("relevance", event.attributes["gen_ai.evaluation.score.value"])]
            expected_ttft = a.get("gen_ai.response.time_to_first_chunk")
            assert m.ttft_ms == (None if expected_ttft is None else pytest.approx(expected_ttft * 1000))
        elif s.name == "openai.chat":
            first_chunk = min(e.timestamp for e in s.events)
            assert (m.dialect, m.operation, m.provider, m.model) == ("traceloop", "chat", "openai", "gpt-3.5-turbo")
            assert (m.input_tokens, m.output_tokens, m.total_tokens) == (
                a["gen_ai.usage.prompt_tokens"], a["gen_ai.usage.completion_tokens"], a["llm.usage.total_tokens"],
            )  # fmt: skip
            assert m.ttft_ms == (first_chunk - s.start_time) / 1e6
            assert m.input_messages == [{"role": "user", "content": "Tell me a joke about OpenTelemetry"}]
            assert m.output_messages == [{"role": "assistant", "content": a["gen_ai.completion.0.content"]}]
            assert m.finish_reasons == ("stop",)
        elif s.name == "joke_generator.workflow":
            assert (m.dialect, m.operation, m.entity, m.model) == (
                "traceloop",
                "invoke_workflow",
                "joke_generator",
                None,
            )
        else:
            assert s.name == "Messages"
            first_token = next(e.timestamp for e in s.events if e.name == "First Token Stream Event")
            assert (m.dialect, m.operation, m.provider, m.model) == (
                "openinference",
                "chat",
                "anthropic",
                "claude-sonnet-4",
            )
            assert (m.input_tokens, m.output_tokens) == (a["llm.token_count.prompt"], a["llm.token_count.completion"])
            assert m.ttft_ms == (first_token - s.start_time) / 1e6 and m.conversation_id == "session-7"
            assert m.output_messages == [{"role": "assistant", "content": a["output.value"]}]


def test_the_same_export_in_otlp_json_maps_identically(collector: Collector) -> None:
    export(collector, Compression.NoCompression)
    from_protobuf = by_id(collector.results())
    now = datetime.now(UTC)
    from_json = by_id([ingest(to_otlp_json(e.body), "application/json", now=now) for e in collector.exchanges])
    assert from_json == from_protobuf and len(from_json) == 7


def test_metrics_rolled_up_from_exported_spans_equal_what_was_sent(collector: Collector) -> None:
    sent = export(collector, Compression.Gzip)
    points = rollup(s for r in collector.results() for s in r.spans)["support-bot"]
    calls = [s for s in sent if s.name == "chat gpt-4o" and s.attributes["charter.prompt"] == "support-answer@4"]
    buckets: dict[datetime, list[ReadableSpan]] = {}
    for s in calls:  # a run may straddle a minute boundary: compare bucket by bucket
        end = from_unix_nano(s.end_time)
        buckets.setdefault(end.replace(second=0, microsecond=0), []).append(s)
    for ts, members in buckets.items():
        got = {p.name: p.value for p in points if p.ts == ts and p.labels["prompt"] == "support-answer@4"}
        latencies = [(s.end_time - s.start_time) / 1e6 for s in members]
        errors = [s for s in members if "error.type" in s.attributes]
        assert got["span_count"] == len(members) and got["error_rate"] == pytest.approx(len(errors) / len(members))
        assert got["latency_p95_ms"] == pytest.approx(reference_p95(latencies))
        assert got["input_tokens"] == sum(s.attributes.get("gen_ai.usage.input_tokens", 0) for s in members)
        assert got["output_tokens"] == sum(s.attributes.get("gen_ai.usage.output_tokens", 0) for s in members)
        scores = [
            e.attributes["gen_ai.evaluation.score.value"]
            for s in members
            for e in s.events
            if e.name == "gen_ai.evaluation.result"
        ]
        assert got.get("relevance") == (pytest.approx(sum(scores) / len(scores)) if scores else None)
        ttfts = [
            s.attributes["gen_ai.response.time_to_first_chunk"] * 1000
            for s in members
            if "gen_ai.response.time_to_first_chunk" in s.attributes
        ]
        assert got.get("ttft_p95_ms") == (pytest.approx(reference_p95(ttfts)) if ttfts else None)
    assert sum(p.value for p in points if p.name == "span_count") == 7


def reference_p95(values: list[float]) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[94]


def test_spans_without_a_system_get_a_partial_success_over_http(collector: Collector) -> None:
    export(collector, Compression.NoCompression, resource={"service.name": "unregistered-app"})
    responses = [ExportTraceServiceResponse.FromString(e.response) for e in collector.exchanges]
    assert sum(r.partial_success.rejected_spans for r in responses) == 7  # every GenAI span; the health check skipped
    assert "no Charter system: set the resource attribute charter.system" in responses[0].partial_success.error_message
    assert by_id(collector.results()) == {}


def test_a_refused_request_fails_the_export_without_a_retry(collector: Collector) -> None:
    collector.options = IngestOptions(limits=DecodeLimits(max_inflated_bytes=256))
    provider = TracerProvider(resource=Resource.create({"charter.system": "support-bot"}))
    sent = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(sent))
    produce(provider.get_tracer("t"))
    exporter = OTLPSpanExporter(endpoint=collector.url, compression=Compression.Gzip, timeout=5)
    assert exporter.export(sent.get_finished_spans()) is SpanExportResult.FAILURE
    assert [e.status for e in collector.exchanges] == [413]  # 413 is not retryable: one attempt
    status_body = collector.exchanges[0].response
    assert b"inflates past 256 bytes" in status_body
    exporter.shutdown()
