"""Test helpers: OTLP requests built by hand (protobuf and the OTLP/JSON encoding) and RawSpans for mapping tests."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from charter.telemetry.otlp import RawEvent, RawSpan, to_unix_nano

NOW = datetime(2026, 3, 2, 10, 0, 30, tzinfo=UTC)
START = NOW - timedelta(seconds=20)
START_NS = to_unix_nano(START)
TRACE_ID = "5b8efff798038103d269b633813fc60c"


def span_id(i: int) -> str:
    return f"{i + 1:016x}"


# ------------------------------------------------------------------------------------------- protobuf


def any_value(value: Any) -> AnyValue:
    if value is None:
        return AnyValue()
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, str):
        return AnyValue(string_value=value)
    if isinstance(value, bytes):
        return AnyValue(bytes_value=value)
    if isinstance(value, list):
        return AnyValue(array_value=ArrayValue(values=[any_value(v) for v in value]))
    if isinstance(value, dict):
        return AnyValue(kvlist_value=KeyValueList(values=key_values(value)))
    raise TypeError(type(value))


def key_values(attrs: dict[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=k, value=any_value(v)) for k, v in attrs.items()]


def pb_span(
    i: int,
    attrs: dict[str, Any],
    *,
    start_ns: int = START_NS,
    duration_ms: float = 250.0,
    events: list[tuple[str, int, dict[str, Any]]] = (),  # type: ignore[assignment]
    status: int = 0,
    status_message: str = "",
    trace_id: str = TRACE_ID,
    name: str = "chat gpt-4o",
) -> Span:
    return Span(
        trace_id=bytes.fromhex(trace_id),
        span_id=bytes.fromhex(span_id(i)),
        name=name,
        kind=Span.SPAN_KIND_CLIENT,
        start_time_unix_nano=start_ns,
        end_time_unix_nano=start_ns + int(duration_ms * 1e6),
        attributes=key_values(attrs),
        events=[Span.Event(name=n, time_unix_nano=t, attributes=key_values(a)) for n, t, a in events],
        status=Status(code=status, message=status_message),  # type: ignore[arg-type]
    )


def pb_request(resource: dict[str, Any], spans: list[Span], scope: str = "test.instrumentation") -> bytes:
    req = ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource={"attributes": key_values(resource)},  # type: ignore[arg-type]
                scope_spans=[ScopeSpans(scope={"name": scope}, spans=spans)],  # type: ignore[arg-type]
            )
        ]
    )
    return req.SerializeToString()


# ------------------------------------------------------------------------------------------- OTLP/JSON


def to_otlp_json(body: bytes) -> bytes:
    """A protobuf ExportTraceServiceRequest re-encoded by the OTLP/JSON rules: proto3 JSON mapping (lowerCamelCase,
    64-bit integers as strings, bytes base64) with integer enums and hex trace/span ids."""
    request = ExportTraceServiceRequest.FromString(body)
    doc = json_format.MessageToDict(request, use_integers_for_enums=True)
    for rs in doc.get("resourceSpans", []):
        for ss in rs.get("scopeSpans", []):
            for sp in ss.get("spans", []):
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in sp:
                        sp[key] = base64.b64decode(sp[key]).hex().upper()
                for link in sp.get("links", []):
                    for key in ("traceId", "spanId"):
                        if key in link:
                            link[key] = base64.b64decode(link[key]).hex()
    return json.dumps(doc).encode()


def j_value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, list):
        return {"arrayValue": {"values": [j_value(v) for v in value]}}
    if isinstance(value, dict):
        return {"kvlistValue": {"values": j_attrs(value)}}
    raise TypeError(type(value))


def j_attrs(attrs: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": j_value(v)} for k, v in attrs.items()]


def j_request(resource: dict[str, Any], spans: list[dict[str, Any]]) -> bytes:
    doc = {
        "resourceSpans": [
            {
                "resource": {"attributes": j_attrs(resource)},
                "scopeSpans": [{"scope": {"name": "hand.written"}, "spans": spans}],
            }
        ]
    }
    return json.dumps(doc).encode()


def j_span(i: int, attrs: dict[str, Any], *, start_ns: int = START_NS, duration_ms: float = 250.0) -> dict[str, Any]:
    return {
        "traceId": TRACE_ID.upper(),
        "spanId": span_id(i),
        "name": "chat gpt-4o",
        "kind": 3,
        "startTimeUnixNano": str(start_ns),
        "endTimeUnixNano": str(start_ns + int(duration_ms * 1e6)),
        "attributes": j_attrs(attrs),
    }


# ------------------------------------------------------------------------------------------- RawSpans


def raw(
    attrs: dict[str, Any],
    *,
    events: list[tuple[str, float, dict[str, Any]]] = (),  # type: ignore[assignment]
    duration_ms: float = 1200.0,
    status: int = 0,
    status_message: str = "",
    resource: dict[str, Any] | None = None,
    name: str = "span",
) -> RawSpan:
    """A decoded span; event times are given in ms after the span start."""
    return RawSpan(
        (0, 0, 0),
        TRACE_ID,
        span_id(0),
        "",
        name,
        3,
        START_NS,
        START_NS + int(duration_ms * 1e6),
        attrs,
        [RawEvent(n, START_NS + int(ms * 1e6), a) for n, ms, a in events],
        status,
        status_message,
        resource if resource is not None else {"service.name": "support-api", "charter.system": "support-bot"},
        "test",
    )
