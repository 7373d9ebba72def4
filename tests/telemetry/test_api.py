"""OTLP/HTTP into Charter: spans exported by the OpenTelemetry SDK to a running server, stored under the PII
policy, rolled up into monitoring metrics that alert rules see; refusals in OTLP's own terms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import select

from charter.kit.principal import SYSTEM
from charter.monitoring.models import MetricSeries
from charter.telemetry.models import TelemetrySpan
from charter.telemetry.service import roll_up
from tests.releases.conftest import cli, make_system  # noqa: F401  (the live server fixture)
from tests.telemetry.test_sdk_export import otel_genai_chat, produce, reference_p95

SYSTEM_KEY = "support-bot"


@pytest.fixture
def live(cli: Any, actors: Any, session: Any, clock: Any) -> Any:  # noqa: F811
    clock.set(datetime.now(UTC))  # the SDK stamps spans with the real time; the server checks them against its clock
    make_system(actors, SYSTEM_KEY)
    session.commit()
    return cli


def export(url: str, token: str, produce_fn: Any, compression: Compression = Compression.NoCompression) -> list[Any]:
    provider = TracerProvider(resource=Resource.create({"service.name": "support-api", "charter.system": SYSTEM_KEY}))
    sent = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(sent))
    exporter = OTLPSpanExporter(
        endpoint=f"{url}/v1/traces", headers={"Authorization": f"Bearer {token}"}, compression=compression, timeout=10
    )
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=60_000, max_export_batch_size=512))
    produce_fn(provider.get_tracer("tests.telemetry.app"))
    assert provider.force_flush(20_000)
    provider.shutdown()
    return list(sent.get_finished_spans())


def stored(session: Any) -> list[TelemetrySpan]:
    session.expire_all()
    return list(session.execute(select(TelemetrySpan).order_by(TelemetrySpan.id)).scalars())


def test_sdk_spans_are_stored_redacted_and_rolled_up_into_metrics(live, session, actors, clock) -> None:
    token = live.token("engineer", scopes=["telemetry:write"])
    sent = export(live.url, token, produce, Compression.Gzip)
    live.quiet()
    rows = stored(session)
    genai = [s for s in sent if s.name != "GET /health"]
    assert len(rows) == len(genai) and {r.span_id for r in rows} == {f"{s.context.span_id:016x}" for s in genai}
    chat = [r for r in rows if r.prompt == "support-answer@4" and not r.is_error]
    assert chat and all(r.content_policy == "redact" for r in chat)
    assert {r.model for r in rows} >= {"gpt-4o", "gpt-3.5-turbo", "claude-sonnet-4"}
    assert any(e["name"] == "relevance" for r in chat for e in r.evaluations)

    # the roll-up: buckets closed after the grace period become monitoring points per model and prompt
    latest = max(r.end_at for r in rows)
    clock.set(latest + timedelta(minutes=3))
    done = roll_up(actors.ctx("admin").acting_as(SYSTEM))
    assert done["spans"] == len(rows) and done["points"] > 0
    series = session.execute(select(MetricSeries.name, MetricSeries.labels)).all()
    names = {n for n, _ in series}
    assert {"latency_p95_ms", "error_rate", "span_count", "input_tokens", "relevance"} <= names
    assert roll_up(actors.ctx("admin").acting_as(SYSTEM))["spans"] == 0  # nothing rolled up twice
    assert reference_p95 is not None


def test_pii_in_content_is_redacted_before_storage_and_counted(live, session) -> None:
    token = live.token("engineer", scopes=["telemetry:write"])

    def app(tracer: Any) -> None:
        otel_genai_chat(
            tracer,
            "gpt-4o",
            [{"role": "user", "content": "Email me at jane.doe@example.com or call +44 20 7946 0958"}],
            prompt="support-answer@4",
            stream=False,
        )

    export(live.url, token, app)
    live.quiet()
    (row,) = stored(session)
    text = " ".join(m["content"] for m in row.content["input"])
    assert "jane.doe@example.com" not in text and "7946 0958" not in text
    assert sum(row.pii_counts.values()) >= 2
    status = httpx.get(
        f"{live.url}/api/v1/systems/{SYSTEM_KEY}/telemetry", headers={"Authorization": f"Bearer {live.token('viewer')}"}
    ).json()
    live.quiet()
    assert status["spans"] == 1 and status["content_policy"] == "redact" and sum(status["pii_found"].values()) >= 2
    assert status["by_model_and_prompt"] == [{"model": "gpt-4o", "prompt": "support-answer@4", "spans": 1}]


def test_refusals_follow_otlp_and_store_nothing(live, session) -> None:
    token = live.token("engineer", scopes=["telemetry:write"])
    headers = {"Authorization": f"Bearer {token}"}
    url = f"{live.url}/v1/traces"
    r = httpx.post(url, content=b"\x0a\xff\xff", headers={**headers, "Content-Type": "application/x-protobuf"})
    assert r.status_code == 400 and r.headers["content-type"].startswith("application/x-protobuf")
    r = httpx.post(url, content=b"<xml/>", headers={**headers, "Content-Type": "text/xml"})
    assert r.status_code == 415
    now_ns = int(datetime.now(UTC).timestamp() * 1e9)
    no_system = {
        "resourceSpans": [
            {
                "resource": {"attributes": []},
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": "0af7651916cd43dd8448eb211c80319c",
                                "spanId": "b7ad6b7169203331",
                                "name": "chat gpt-4o",
                                "kind": 3,
                                "startTimeUnixNano": str(now_ns - 2_000_000_000),
                                "endTimeUnixNano": str(now_ns - 1_000_000_000),
                                "attributes": [
                                    {"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
                                    {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o"}},
                                ],
                            }
                        ]
                    }
                ],
            }
        ]
    }
    r = httpx.post(url, json=no_system, headers=headers)
    live.quiet()
    assert r.status_code == 200 and r.json()["partialSuccess"]["rejectedSpans"] == "1"
    assert "charter.system" in r.json()["partialSuccess"]["errorMessage"]
    no_scope = live.token("engineer", scopes=["metrics:write"])
    r = httpx.post(url, json=no_system, headers={"Authorization": f"Bearer {no_scope}"})
    assert r.status_code == 403 and "telemetry:write" in r.text
    assert stored(session) == []
    assert ExportTraceServiceResponse is not None
