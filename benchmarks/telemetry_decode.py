"""The pure part of telemetry ingest: decode + map + roll up OTLP trace batches of 512 spans, in CPU time per core.

    python benchmarks/telemetry_decode.py                 # 20 batches per case
    python benchmarks/telemetry_decode.py --batches 50 --no-content

Batches are produced by the OpenTelemetry SDK and encoded by the OTLP exporter's own encoder (encode_spans): 60%
current-OTel chat spans with content captured and an evaluation event, 20% OpenLLMetry-style (workflow span + chat
span with flattened prompts and chunk events), 20% OpenInference-style. Figures are spans per CPU-second of this
single-threaded process (time.process_time), so they are per core and less sensitive to other load on the machine.
Issue 22 needs >= 5,000 spans/s end to end over HTTP with the PII detectors on; this part should be far above it.

Peer in the same run: google.protobuf.json_format.ParseDict on the same OTLP/JSON bodies (ids re-encoded as base64,
as the proto3 JSON mapping expects) — the library route the hand-written OTLP/JSON reader replaces.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import platform
import time
from collections.abc import Callable
from datetime import UTC, datetime

from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Tracer

from charter.telemetry.ingest import IngestOptions, ingest
from charter.telemetry.mapping import MappingOptions
from charter.telemetry.otlp import decode_request
from charter.telemetry.rollup import PriceTable, Rollup

PB, JS = "application/x-protobuf", "application/json"
PRICES = PriceTable.from_config(
    {
        "prices": [
            {"provider": "openai", "model": "gpt-4o", "input_per_million": 2.5, "output_per_million": 10},
            {"provider": "openai", "model": "gpt-3.5-turbo*", "input_per_million": 0.5, "output_per_million": 1.5},
            {"provider": "anthropic", "model": "claude-sonnet-4", "input_per_million": 3, "output_per_million": 15},
        ]
    }
)
QUESTION = "My order 4411 arrived damaged, can I get a replacement or a refund to my card?"
ANSWER = "I am sorry about that. I have opened a replacement for order 4411; it ships within two working days."


def otel_chat(tracer: Tracer, i: int, content: bool) -> None:
    attrs = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.response.model": "gpt-4o-2024-08-06",
        "gen_ai.response.id": f"chatcmpl-{i}",
        "gen_ai.response.finish_reasons": ["stop"],
        "gen_ai.usage.input_tokens": 120 + i % 50,
        "gen_ai.usage.output_tokens": 40 + i % 30,
        "gen_ai.conversation.id": f"conv-{i % 97}",
        "gen_ai.response.time_to_first_chunk": 0.2 + (i % 10) / 100,
        "server.address": "api.openai.com",
        "charter.prompt": f"support-answer@{3 + i % 2}",
    }
    if content:
        attrs["gen_ai.input.messages"] = json.dumps(
            [
                {"role": "system", "parts": [{"type": "text", "content": "You are a support agent."}]},
                {"role": "user", "parts": [{"type": "text", "content": QUESTION}]},
            ]
        )
        attrs["gen_ai.output.messages"] = json.dumps(
            [{"role": "assistant", "parts": [{"type": "text", "content": ANSWER}], "finish_reason": "stop"}]
        )
    with tracer.start_as_current_span("chat gpt-4o", kind=SpanKind.CLIENT, attributes=attrs) as span:
        span.add_event(
            "gen_ai.evaluation.result", {"gen_ai.evaluation.name": "relevance", "gen_ai.evaluation.score.value": 0.8}
        )


def openllmetry_chat(tracer: Tracer, i: int, content: bool) -> None:
    with tracer.start_as_current_span("support.workflow", attributes={"traceloop.span.kind": "workflow"}):
        attrs = {
            "llm.request.type": "chat",
            "gen_ai.system": "openai",
            "gen_ai.request.model": "gpt-3.5-turbo",
            "gen_ai.response.model": "gpt-3.5-turbo-0125",
            "gen_ai.usage.prompt_tokens": 90,
            "gen_ai.usage.completion_tokens": 35,
            "llm.usage.total_tokens": 125,
            "gen_ai.completion.0.finish_reason": "stop",
        }
        if content:
            attrs |= {
                "gen_ai.prompt.0.role": "user",
                "gen_ai.prompt.0.content": QUESTION,
                "gen_ai.completion.0.role": "assistant",
                "gen_ai.completion.0.content": ANSWER,
            }
        with tracer.start_as_current_span("openai.chat", kind=SpanKind.CLIENT, attributes=attrs) as span:
            span.add_event("gen_ai.content.completion.chunk")


def openinference_chat(tracer: Tracer, i: int, content: bool) -> None:
    attrs = {
        "openinference.span.kind": "LLM",
        "llm.model_name": "claude-sonnet-4",
        "llm.provider": "anthropic",
        "llm.token_count.prompt": 80,
        "llm.token_count.completion": 30,
        "session.id": f"s-{i % 13}",
    }
    if content:
        attrs |= {
            "llm.input_messages.0.message.role": "user",
            "llm.input_messages.0.message.content": QUESTION,
            "llm.output_messages.0.message.role": "assistant",
            "llm.output_messages.0.message.content": ANSWER,
            "input.value": QUESTION,
            "output.value": ANSWER,
        }
    with tracer.start_as_current_span("Messages", attributes=attrs) as span:
        span.add_event("First Token Stream Event")


def make_batch(size: int, content: bool) -> bytes:
    sent = InMemorySpanExporter()
    provider = TracerProvider(
        resource=Resource.create({"service.name": "support-api", "charter.system": "support-bot"})
    )
    provider.add_span_processor(SimpleSpanProcessor(sent))
    tracer = provider.get_tracer("bench")
    i = 0
    while len(sent.get_finished_spans()) < size:
        kind = i % 5
        (otel_chat if kind < 3 else openllmetry_chat if kind == 3 else openinference_chat)(tracer, i, content)
        i += 1
    return encode_spans(list(sent.get_finished_spans())[:size]).SerializeToString()


def to_json(body: bytes, hex_ids: bool) -> bytes:
    doc = json_format.MessageToDict(ExportTraceServiceRequest.FromString(body), use_integers_for_enums=True)
    if hex_ids:
        for rs in doc["resourceSpans"]:
            for ss in rs["scopeSpans"]:
                for sp in ss["spans"]:
                    for key in ("traceId", "spanId", "parentSpanId"):
                        if key in sp:
                            sp[key] = base64.b64decode(sp[key]).hex()
    return json.dumps(doc).encode()


def measure(name: str, batches: int, spans: int, fn: Callable[[], object]) -> float:
    fn()  # warm up
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(batches):
        fn()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    rate = batches * spans / cpu
    print(f"  {name:<46} {rate:>10,.0f} spans/s per core   ({wall / batches * 1000:6.1f} ms wall per batch)")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--spans", type=int, default=512)
    parser.add_argument("--no-content", action="store_true", help="spans without prompts/completions")
    args = parser.parse_args()
    content = not args.no_content
    body = make_batch(args.spans, content)
    gz = gzip.compress(body)
    js, proto_json = to_json(body, hex_ids=True), to_json(body, hex_ids=False)
    now = datetime.now(UTC)
    options = IngestOptions(mapping=MappingOptions(capture_content=content))
    print(
        f"telemetry decode: {args.batches} batches x {args.spans} spans, content {'on' if content else 'off'}; "
        f"protobuf {len(body):,} B, gzip {len(gz):,} B, OTLP/JSON {len(js):,} B; Python {platform.python_version()}"
    )

    def full(data: bytes, ct: str, ce: str | None = None) -> Callable[[], object]:
        def run() -> object:
            result = ingest(data, ct, ce, now=now, options=options)
            r = Rollup(prices=PRICES)
            r.add(result.spans)
            return r.points()

        return run

    n, b = args.spans, args.batches
    results = {}
    print("decode only")
    results["pb_decode"] = measure("protobuf", b, n, lambda: decode_request(body, PB))
    results["json_decode"] = measure("OTLP/JSON (charter.telemetry reader)", b, n, lambda: decode_request(js, JS))
    results["json_peer"] = measure(
        "OTLP/JSON peer: json_format.ParseDict",
        max(1, b // 4),
        n,
        lambda: json_format.ParseDict(json.loads(proto_json), ExportTraceServiceRequest(), ignore_unknown_fields=True),
    )
    print("decode + map (ingest)")
    results["pb_ingest"] = measure("protobuf", b, n, lambda: ingest(body, PB, now=now, options=options))
    print("decode + map + roll up (end to end, pure part)")
    results["pb_full"] = measure("protobuf", b, n, full(body, PB))
    results["gz_full"] = measure("protobuf + gzip", b, n, full(gz, PB, "gzip"))
    results["json_full"] = measure("OTLP/JSON", b, n, full(js, JS))
    print(
        f"ratios: OTLP/JSON reader vs json_format.ParseDict {results['json_decode'] / results['json_peer']:.1f}x; "
        f"protobuf end to end vs the 5,000 spans/s target {results['pb_full'] / 5000:.1f}x, "
        f"OTLP/JSON {results['json_full'] / 5000:.1f}x"
    )


if __name__ == "__main__":
    main()
