"""Decoding OTLP/HTTP trace payloads: both encodings, compression, refusals with OTLP error semantics, the time
window, and the partial-success answer."""

from __future__ import annotations

import gzip
import json
import math
import zlib
from datetime import timedelta

import pytest
from google.protobuf import json_format
from google.rpc import error_details_pb2, status_pb2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from charter.telemetry import otlp
from charter.telemetry.ingest import IngestOptions, ingest
from charter.telemetry.otlp import (
    BadPayload,
    DecodeLimits,
    PayloadTooLarge,
    TimeWindow,
    UnsupportedMediaType,
    decode_request,
    to_unix_nano,
)
from tests.telemetry.otlp_builders import (
    NOW,
    START_NS,
    TRACE_ID,
    j_request,
    j_span,
    pb_request,
    pb_span,
    span_id,
    to_otlp_json,
)

PB, JS = "application/x-protobuf", "application/json"
CHAT = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o",
    "gen_ai.usage.input_tokens": 120,
    "gen_ai.usage.output_tokens": 40,
}
RESOURCE = {"service.name": "support-api", "charter.system": "support-bot"}


# ------------------------------------------------------------------------------------------- OTLP/JSON


def test_the_spec_example_request_decodes_with_hex_ids_string_int64_and_integer_enums() -> None:
    # The shape of opentelemetry-proto examples/trace.json: upper-case hex ids, times as strings, kind 2.
    body = json.dumps(
        {
            "resourceSpans": [
                {
                    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "my.service"}}]},
                    "scopeSpans": [
                        {
                            "scope": {"name": "my.library", "version": "1.0.0"},
                            "spans": [
                                {
                                    "traceId": "5B8EFFF798038103D269B633813FC60C",
                                    "spanId": "EEE19B7EC3C1B174",
                                    "parentSpanId": "EEE19B7EC3C1B173",
                                    "name": "I'm a server span",
                                    "startTimeUnixNano": "1544712660000000000",
                                    "endTimeUnixNano": 1544712661000000000,
                                    "kind": 2,
                                    "status": {"code": 2, "message": "boom"},
                                    "futureField": {"ignored": True},
                                    "attributes": [
                                        {"key": "s", "value": {"stringValue": "some value"}},
                                        {"key": "i", "value": {"intValue": "-9007199254740993"}},
                                        {"key": "n", "value": {"intValue": 7}},
                                        {"key": "d", "value": {"doubleValue": 0.25}},
                                        {"key": "nan", "value": {"doubleValue": "NaN"}},
                                        {"key": "b", "value": {"boolValue": True}},
                                        {"key": "bytes", "value": {"bytesValue": "aGk="}},
                                        {"key": "arr", "value": {"arrayValue": {"values": [{"stringValue": "stop"}]}}},
                                        {
                                            "key": "kv",
                                            "value": {
                                                "kvlistValue": {"values": [{"key": "a", "value": {"intValue": "1"}}]}
                                            },
                                        },
                                        {"key": "empty", "value": {}},
                                        {"key": "unknown", "value": {"someNewValue": 1}},
                                    ],
                                    "events": [{"timeUnixNano": "1544712660500000000", "name": "e", "attributes": []}],
                                }
                            ],
                        }
                    ],
                }
            ]
        }
    ).encode()
    decoded = decode_request(body, "application/json; charset=utf-8")
    (span,) = decoded.spans
    assert (span.trace_id, span.span_id, span.parent_span_id) == (
        "5b8efff798038103d269b633813fc60c",
        "eee19b7ec3c1b174",
        "eee19b7ec3c1b173",
    )
    assert (span.start_ns, span.end_ns, span.kind) == (1544712660000000000, 1544712661000000000, 2)
    assert (span.status_code, span.status_message, span.scope) == (2, "boom", "my.library")
    a = span.attributes
    assert a["s"] == "some value" and a["i"] == -9007199254740993 and a["n"] == 7 and a["d"] == 0.25
    assert math.isnan(a["nan"]) and a["b"] is True and a["bytes"] == b"hi"
    assert a["arr"] == ["stop"] and a["kv"] == {"a": 1} and a["empty"] is None and a["unknown"] is None
    assert span.events[0].name == "e" and span.events[0].time_ns == 1544712660500000000
    assert span.resource == {"service.name": "my.service"}


@pytest.mark.parametrize(
    ("payload", "where", "what"),
    [
        ({"resourceSpans": "x"}, "resourceSpans", "must be a list"),
        (
            {
                "resourceSpans": [
                    {
                        "scopeSpans": [
                            {
                                "spans": [
                                    {"traceId": TRACE_ID, "spanId": "0000000000000001", "startTimeUnixNano": "soon"}
                                ]
                            }
                        ]
                    }
                ]
            },
            "resourceSpans[0].scopeSpans[0].spans[0].startTimeUnixNano",
            "must be an integer",
        ),
        (
            {
                "resourceSpans": [
                    {
                        "scopeSpans": [
                            {"spans": [{"traceId": TRACE_ID, "spanId": "0000000000000001", "kind": "SPAN_KIND_SERVER"}]}
                        ]
                    }
                ]
            },
            "spans[0].kind",
            "enum values are integers",
        ),
        (
            {
                "resourceSpans": [
                    {
                        "scopeSpans": [
                            {
                                "spans": [
                                    {
                                        "traceId": TRACE_ID,
                                        "spanId": "0000000000000001",
                                        "attributes": [{"key": "k", "value": {"intValue": 1.5}}],
                                    }
                                ]
                            }
                        ]
                    }
                ]
            },
            "spans[0].attributes[0].value.intValue",
            "must be an integer",
        ),
        (
            {"resourceSpans": [{"resource": {"attributes": [{"key": 3, "value": {}}]}}]},
            "resourceSpans[0].resource.attributes[0].key",
            "must be a string",
        ),
        ({"resource_spans": []}, "resource_spans", "lowerCamelCase"),
        (
            {"resourceSpans": [{"scopeSpans": [{"spans": [{"trace_id": TRACE_ID}]}]}]},
            "trace_id",
            "lowerCamelCase",
        ),
    ],
)
def test_a_malformed_json_request_is_refused_naming_the_field(payload, where, what) -> None:
    with pytest.raises(BadPayload, match=what) as info:
        decode_request(json.dumps(payload).encode(), JS)
    assert info.value.status == 400 and where in info.value.message and where in (info.value.field or "")


def test_invalid_json_is_a_400_with_line_and_column() -> None:
    with pytest.raises(BadPayload, match=r"not valid JSON: .* line 1 column \d+"):
        decode_request(b'{"resourceSpans": [', JS)
    with pytest.raises(BadPayload, match="must be a JSON object"):
        decode_request(b"[]", JS)


# ------------------------------------------------------------------------------------------- encodings agree

_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.binary(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(attrs=st.dictionaries(st.text(min_size=1, max_size=12), _values, max_size=6))
def test_protobuf_and_its_otlp_json_encoding_decode_to_the_same_spans(attrs) -> None:
    body = pb_request(RESOURCE, [pb_span(0, attrs, events=[("ev", START_NS + 5, attrs)])])
    from_pb = decode_request(body, PB)
    from_json = decode_request(to_otlp_json(body), JS)
    assert from_pb.spans == from_json.spans
    assert from_pb.spans[0].attributes == attrs


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [("gzip", gzip.compress), ("deflate", zlib.compress), ("identity", lambda b: b), (None, lambda b: b)],
)
def test_compressed_bodies_decode_like_the_plain_one(encoding, compress) -> None:
    body = pb_request(RESOURCE, [pb_span(i, CHAT) for i in range(3)])
    assert decode_request(compress(body), PB, encoding).spans == decode_request(body, PB).spans


# ------------------------------------------------------------------------------------------- refusals


@pytest.mark.parametrize("content_type", [None, "", "text/plain", "application/grpc", "application/protobuf+x"])
def test_a_content_type_that_is_not_otlp_is_415(content_type) -> None:
    with pytest.raises(UnsupportedMediaType, match="application/x-protobuf") as info:
        decode_request(b"{}", content_type)
    assert info.value.status == 415


def test_json_in_another_charset_and_an_unknown_content_encoding_are_415() -> None:
    with pytest.raises(UnsupportedMediaType, match="UTF-8"):
        decode_request(b"{}", "application/json; charset=latin-1")
    with pytest.raises(UnsupportedMediaType, match="gzip, deflate or none") as info:
        decode_request(b"{}", JS, "br")
    assert info.value.field == "Content-Encoding"


def test_a_truncated_protobuf_is_refused_and_nothing_is_decoded() -> None:
    body = pb_request(RESOURCE, [pb_span(i, CHAT) for i in range(5)])
    with pytest.raises(BadPayload, match="truncated or corrupt") as info:
        decode_request(body[: len(body) * 2 // 3], PB)
    assert info.value.status == 400
    with pytest.raises(BadPayload, match="truncated or corrupt"):
        ingest(body[:-7], PB, now=NOW)


def test_a_gzip_bomb_is_stopped_at_the_inflated_cap_with_413() -> None:
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024))  # 64 MiB of zeros in ~64 KB
    assert len(bomb) < 100_000
    limits = DecodeLimits(max_body_bytes=1024 * 1024, max_inflated_bytes=4 * 1024 * 1024)
    with pytest.raises(PayloadTooLarge, match="inflates past 4194304 bytes") as info:
        decode_request(bomb, PB, "gzip", limits)
    assert info.value.status == 413
    with pytest.raises(PayloadTooLarge, match="at most 1024 are accepted"):
        decode_request(b"x" * 2048, PB, None, DecodeLimits(max_body_bytes=1024))


def test_broken_gzip_is_a_400() -> None:
    packed = gzip.compress(pb_request(RESOURCE, [pb_span(0, CHAT)]))
    with pytest.raises(BadPayload, match="truncated"):
        decode_request(packed[:-12], PB, "gzip")
    with pytest.raises(BadPayload, match="not valid gzip"):
        decode_request(b"plainly not gzip", PB, "gzip")


def test_a_span_with_invalid_ids_is_rejected_alone() -> None:
    good = pb_span(0, CHAT)
    zero = pb_span(1, CHAT, trace_id="0" * 32)
    short = pb_span(2, CHAT)
    short.span_id = b"\x01\x02"
    decoded = decode_request(pb_request(RESOURCE, [good, zero, short]), PB)
    assert [s.span_id for s in decoded.spans] == [span_id(0)]
    assert [r.where for r in decoded.rejected] == [
        "resourceSpans[0].scopeSpans[0].spans[1]",
        "resourceSpans[0].scopeSpans[0].spans[2]",
    ]
    assert "traceId must be 16 bytes and not all zero" in decoded.rejected[0].reason
    assert "spanId must be 8 bytes" in decoded.rejected[1].reason
    bad_hex = j_span(0, CHAT) | {"spanId": "zz" * 8}
    decoded = decode_request(j_request(RESOURCE, [bad_hex, j_span(1, CHAT)]), JS)
    assert len(decoded.spans) == 1 and "16 hex digits" in decoded.rejected[0].reason


# ------------------------------------------------------------------------------------------- time window


@pytest.mark.parametrize(
    ("start", "duration_ms", "what"),
    [
        (NOW - timedelta(seconds=10), -5.0, "ends before it starts"),
        (NOW - timedelta(days=400), 10.0, "more than 7 days before the server time"),
        (NOW + timedelta(days=365 * 30), 10.0, "after the server time"),
        (NOW - timedelta(days=2), 26 * 3600 * 1000.0, "more than the allowed 24 h"),
    ],
)
def test_absurd_times_refuse_the_request_and_name_the_span(start, duration_ms, what) -> None:
    spans = [pb_span(0, CHAT), pb_span(1, CHAT, start_ns=to_unix_nano(start), duration_ms=duration_ms)]
    with pytest.raises(BadPayload, match=what) as info:
        ingest(pb_request(RESOURCE, spans), PB, now=NOW)
    assert info.value.status == 400
    assert "nothing was stored" in info.value.message
    assert info.value.field == "resourceSpans[0].scopeSpans[0].spans[1]"


def test_unset_times_are_absurd() -> None:
    assert TimeWindow().problem(0, 0, NOW) == "startTimeUnixNano and endTimeUnixNano are required (got 0, i.e. unset)"


def test_the_window_follows_the_injected_clock_and_its_configuration() -> None:
    window = TimeWindow(max_age=timedelta(hours=1), max_future=timedelta(seconds=30))
    now_ns = to_unix_nano(NOW)
    assert window.problem(now_ns - 3_500 * 10**9, now_ns - 3_400 * 10**9, NOW) is None
    assert "more than 1 h before" in (window.problem(now_ns - 3_700 * 10**9, now_ns, NOW) or "")
    assert "more than 30 s after" in (window.problem(now_ns, now_ns + 31 * 10**9, NOW) or "")
    check = window.checker(NOW)
    assert check(now_ns - 10**9, now_ns) is None
    assert check(now_ns, now_ns + 31 * 10**9) == window.problem(now_ns, now_ns + 31 * 10**9, NOW)


def test_absurd_times_can_reject_only_the_span_and_do_not_concern_non_genai_spans() -> None:
    old = to_unix_nano(NOW - timedelta(days=30))
    spans = [
        pb_span(0, CHAT),
        pb_span(1, CHAT, start_ns=old),
        pb_span(2, {"http.request.method": "GET"}, start_ns=old, name="GET /health"),
    ]
    body = pb_request(RESOURCE, spans)
    result = ingest(body, PB, now=NOW, options=IngestOptions(bad_times="reject_span"))
    assert len(result.spans) == 1 and result.skipped == 1
    assert result.rejected[0].reason.startswith("absurd times: starts 2026-01-31")
    with pytest.raises(BadPayload):
        ingest(body, PB, now=NOW)  # the default refuses the request


# ------------------------------------------------------------------------------------------- partial success


def test_spans_without_a_system_are_rejected_in_a_partial_success_and_the_rest_accepted() -> None:
    body = pb_request({"service.name": "anon"}, [pb_span(0, CHAT), pb_span(1, CHAT)]) + pb_request(
        RESOURCE, [pb_span(2, CHAT), pb_span(3, {"db.system": "postgresql"}, name="SELECT")]
    )  # two ExportTraceServiceRequests concatenated are one with both resourceSpans (protobuf merge)
    result = ingest(body, PB, now=NOW)
    assert [s.span_id for s in result.spans] == [span_id(2)]
    assert result.skipped == 1 and result.received == 4
    partial = result.partial_success()
    assert partial is not None and partial.rejected_spans == 2
    assert "2 of 4 spans rejected: 2 x no Charter system: set the resource attribute charter.system" in (
        partial.error_message
    )
    assert "(e.g. resourceSpans[0].scopeSpans[0].spans[0])" in partial.error_message
    response = ExportTraceServiceResponse.FromString(result.response_body())
    assert response.partial_success.rejected_spans == 2
    assert response.partial_success.error_message == partial.error_message


def test_a_token_bound_to_one_system_supplies_it_and_refuses_others() -> None:
    body = pb_request({"service.name": "anon"}, [pb_span(0, CHAT), pb_span(1, CHAT | {"charter.system": "billing"})])
    bound = IngestOptions(default_system="support-bot", allowed_systems=frozenset({"support-bot"}))
    result = ingest(body, PB, now=NOW, options=bound)
    assert [(s.span_id, s.system) for s in result.spans] == [(span_id(0), "support-bot")]
    assert result.rejected[0].reason == "this token may write to support-bot only; the span names 'billing'"
    bad_key = ingest(pb_request({"charter.system": "Support Bot!"}, [pb_span(0, CHAT)]), PB, now=NOW)
    assert "is not a system key" in bad_key.rejected[0].reason


def test_full_success_leaves_partial_success_unset_in_both_encodings() -> None:
    body = pb_request(RESOURCE, [pb_span(0, CHAT)])
    result = ingest(body, PB, now=NOW)
    assert result.partial_success() is None
    assert not ExportTraceServiceResponse.FromString(result.response_body()).HasField("partial_success")
    as_json = ingest(to_otlp_json(body), JS, now=NOW)
    assert json.loads(as_json.response_body()) == {}


def test_warnings_travel_as_a_partial_success_with_zero_rejected() -> None:
    result = ingest(pb_request(RESOURCE, [pb_span(0, CHAT | {"charter.prompt": "no version"})]), PB, now=NOW)
    partial = result.partial_success()
    assert partial is not None and partial.rejected_spans == 0
    assert "accepted with warnings: resourceSpans[0].scopeSpans[0].spans[0]: charter.prompt 'no version' is not " in (
        partial.error_message
    )
    doc = json.loads(otlp.encode_response(partial, JS))
    assert doc == {"partialSuccess": {"errorMessage": partial.error_message}}  # rejectedSpans 0 is the default


def test_reject_where_moves_spans_after_a_lookup() -> None:
    result = ingest(pb_request(RESOURCE, [pb_span(0, CHAT), pb_span(1, CHAT)]), PB, now=NOW)
    moved = result.reject_where(lambda s: s.span_id == span_id(1), "system support-bot is retired")
    assert moved == 1 and len(result.spans) == 1
    assert result.partial_success() == otlp.PartialSuccess(
        1, f"1 of 2 spans rejected: 1 x system support-bot is retired (e.g. span {span_id(1)})"
    )


def test_an_empty_request_is_a_success() -> None:
    for body, ct in ((b"", PB), (b"{}", JS), (b'{"resourceSpans": []}', JS)):
        result = ingest(body, ct, now=NOW)
        assert (result.received, result.spans, result.partial_success()) == (0, [], None)


# ------------------------------------------------------------------------------------------- failure bodies


def test_a_refusal_is_answered_with_a_google_rpc_status_in_the_request_encoding() -> None:
    try:
        decode_request(b"\x0a\xff\xff", PB)
    except BadPayload as e:
        error = e
    status = status_pb2.Status.FromString(otlp.encode_status(error, PB))
    assert status.message == error.message and status.code == 3
    detail = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(detail)
    assert detail.field_violations[0].field == "body"
    doc = json.loads(otlp.encode_status(error, JS))
    assert doc["message"] == error.message
    assert doc["details"][0]["@type"] == "type.googleapis.com/google.rpc.BadRequest"
    parsed = json_format.Parse(otlp.encode_status(error, JS), status_pb2.Status())
    assert parsed.message == error.message
    assert otlp.response_media_type("text/plain") == JS and otlp.response_media_type(PB) == PB


def test_limits_and_windows_refuse_nonsense_configuration() -> None:
    with pytest.raises(ValueError, match="max_inflated_bytes must be a positive number of bytes"):
        DecodeLimits(max_inflated_bytes=0)
    with pytest.raises(ValueError, match="max_future must be a non-negative timedelta"):
        TimeWindow(max_future=timedelta(seconds=-1))


def test_deeply_nested_values_are_refused_or_ignored_not_a_crash() -> None:
    nested = b'{"arrayValue": {"values": [' * 3000 + b"]}}" * 3000
    body = b'{"resourceSpans": [{"resource": {"attributes": [{"key": "k", "value": ' + nested + b"}]}}]}"
    with pytest.raises(BadPayload, match="nests JSON deeper than"):
        decode_request(body, JS)
    shallow = b'{"arrayValue": {"values": [' * 80 + b"]}}" * 80
    body = b'{"resourceSpans": [{"resource": {"attributes": [{"key": "k", "value": ' + shallow + b"}]}}]}"
    with pytest.raises(
        BadPayload, match=r"resource.attributes\[0\].value(.arrayValue.values\[0\])+: values nest deeper"
    ):
        decode_request(body, JS)
    deep_text = "[" * 50_000 + "]" * 50_000
    result = ingest(pb_request(RESOURCE, [pb_span(0, CHAT | {"gen_ai.input.messages": deep_text})]), PB, now=NOW)
    assert result.spans[0].input_messages is None
    assert "gen_ai.input.messages is not a list of messages; ignored" in result.warnings[0]


_FIELDS = [
    "traceId", "spanId", "parentSpanId", "name", "kind", "startTimeUnixNano", "endTimeUnixNano", "attributes",
    "events", "status", "code", "message", "key", "value", "stringValue", "intValue", "doubleValue", "boolValue",
    "arrayValue", "kvlistValue", "bytesValue", "values", "timeUnixNano", "resource", "scopeSpans", "spans", "scope",
]  # fmt: skip
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=34)
    | st.just(TRACE_ID) | st.just("00000000000000aa"),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(_FIELDS), inner, max_size=4),
    max_leaves=12,
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(span=_JSON, resource=_JSON)
def test_any_json_is_decoded_or_refused_with_a_400_never_a_crash(span, resource) -> None:
    body = json.dumps({"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": [span]}]}]}).encode()
    try:
        decoded = decode_request(body, JS)
    except BadPayload as e:
        assert e.status == 400 and e.message
    else:
        assert decoded.total == 1
        ingest(body, JS, now=NOW, options=IngestOptions(bad_times="reject_span", default_system="support-bot"))


@settings(max_examples=200, deadline=None)
@given(junk=st.binary(max_size=300), cut=st.integers(0, 400))
def test_any_bytes_are_decoded_or_refused_never_a_crash(junk, cut) -> None:
    real = pb_request(RESOURCE, [pb_span(0, CHAT), pb_span(1, CHAT)])
    for body, encoding in ((junk, None), (real[:cut] + junk, None), (junk, "gzip"), (gzip.compress(junk), "gzip")):
        try:
            ingest(body, PB, encoding, now=NOW, options=IngestOptions(bad_times="reject_span"))
        except (BadPayload, PayloadTooLarge) as e:
            assert e.status in (400, 413) and e.message
