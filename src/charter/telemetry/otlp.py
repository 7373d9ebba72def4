"""OTLP/HTTP trace payloads: decoding, refusals, the time window, and the response bodies.

What this relies on (opentelemetry-proto `docs/specification.md`, OTLP/HTTP sections):

- The body of `POST /v1/traces` is an `ExportTraceServiceRequest`, binary protobuf (`Content-Type:
  application/x-protobuf`) or the OTLP/JSON encoding (`application/json`): the proto3 JSON mapping with lowerCamelCase
  keys, `traceId`/`spanId`/`parentSpanId` as case-insensitive hex (not base64), enum values as integers only, 64-bit
  integers as decimal strings or numbers, unknown fields ignored.
- The client MAY gzip the body (`Content-Encoding: gzip`); the OpenTelemetry Python exporter also offers `deflate`
  (zlib). The server MUST cap the body, including after decompression (64 MiB recommended, configurable), and answer
  413 when the cap is exceeded.
- Data that cannot be decoded is a permanent failure: 400, body a `google.rpc.Status` (a `BadRequest` detail naming
  the bad field), in the request's encoding; clients do not retry it. An unsupported `Content-Type` or
  `Content-Encoding` is 415 (RFC 9110, 415 Unsupported Media Type; the OTLP specification does not name a code).
- Partial success: 200 with `partial_success.rejected_spans` and an English `error_message` that says why and what to
  change; `rejected_spans` 0 with a message conveys warnings. Full success leaves `partial_success` unset.

Nothing is half-decoded: a refusal raises before any span is returned. Per-span problems (invalid ids here; missing
system, timestamps outside the window in `ingest`) become `Rejection`s for the partial-success answer.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from google.rpc import code_pb2, error_details_pb2, status_pb2  # type: ignore[import-untyped]
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from charter.telemetry.otlp_json import from_json
from charter.telemetry.wire import (
    BadPayload,
    OtlpError,
    PayloadTooLarge,
    RawEvent,
    RawSpan,
    Rejection,
    UnsupportedMediaType,
    id_problem,
    where,
)

__all__ = [
    "JSON",
    "PROTOBUF",
    "BadPayload",
    "DecodeLimits",
    "Decoded",
    "OtlpError",
    "PartialSuccess",
    "PayloadTooLarge",
    "RawEvent",
    "RawSpan",
    "Rejection",
    "TimeWindow",
    "UnsupportedMediaType",
    "decode_request",
    "encode_response",
    "encode_status",
    "inflate",
    "media_type_of",
    "response_media_type",
]

PROTOBUF: Final = "application/x-protobuf"
JSON: Final = "application/json"
MEDIA_TYPES: Final = (PROTOBUF, JSON)
CONTENT_CODINGS: Final = ("gzip", "deflate", "identity")
STATUS_ERROR: Final = 2  # opentelemetry.proto.trace.v1.Status.StatusCode.STATUS_CODE_ERROR
MIB: Final = 1024 * 1024
MAX_MESSAGE_CHARS: Final = 4000  # partial-success and status messages stay short (the spec caps responses at 4 MiB)

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class DecodeLimits:
    """Size caps: the body as received and after decompression (the OTLP spec recommends 64 MiB for both)."""

    max_body_bytes: int = 64 * MIB
    max_inflated_bytes: int = 64 * MIB

    def __post_init__(self) -> None:
        for name in ("max_body_bytes", "max_inflated_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive number of bytes, got {value!r}")


@dataclass(frozen=True)
class TimeWindow:
    """Which span times are believable, relative to the server clock (injected as `now`)."""

    max_age: timedelta = timedelta(days=7)
    max_future: timedelta = timedelta(minutes=15)
    max_duration: timedelta = timedelta(hours=24)

    def __post_init__(self) -> None:
        for name in ("max_age", "max_future", "max_duration"):
            value = getattr(self, name)
            if not isinstance(value, timedelta) or value < timedelta(0):
                raise ValueError(f"{name} must be a non-negative timedelta, got {value!r}")

    def checker(self, now: datetime) -> Callable[[int, int], str | None]:
        """`problem` with the bounds computed once, for checking every span of a request."""
        now_ns = to_unix_nano(now)
        earliest, latest, longest = now_ns - _ns(self.max_age), now_ns + _ns(self.max_future), _ns(self.max_duration)

        def check(start_ns: int, end_ns: int) -> str | None:
            if earliest <= start_ns <= end_ns <= latest and end_ns - start_ns <= longest:
                return None
            return self.problem(start_ns, end_ns, now)

        return check

    def problem(self, start_ns: int, end_ns: int, now: datetime) -> str | None:
        """Why a span's start/end times are absurd, or None when they are believable."""
        if start_ns <= 0 or end_ns <= 0:
            return "startTimeUnixNano and endTimeUnixNano are required (got 0, i.e. unset)"
        if end_ns < start_ns:
            return f"ends before it starts (end {_iso(end_ns)} < start {_iso(start_ns)})"
        now_ns = to_unix_nano(now)
        if start_ns < now_ns - _ns(self.max_age):
            return (
                f"starts {_iso(start_ns)}, more than {_human(self.max_age)} before the server time {_iso(now_ns)}; "
                "older spans are refused (check the sender's clock or its retry queue)"
            )
        if end_ns > now_ns + _ns(self.max_future):
            return (
                f"ends {_iso(end_ns)}, more than {_human(self.max_future)} after the server time {_iso(now_ns)}; "
                "check the sender's clock"
            )
        if end_ns - start_ns > _ns(self.max_duration):
            return f"lasts {_human(timedelta(microseconds=(end_ns - start_ns) // 1000))}, more than the allowed " + (
                _human(self.max_duration)
            )
        return None


@dataclass
class Decoded:
    media_type: str
    spans: list[RawSpan]
    rejected: list[Rejection]

    @property
    def total(self) -> int:
        return len(self.spans) + len(self.rejected)


@dataclass(frozen=True)
class PartialSuccess:
    rejected_spans: int
    error_message: str


def to_unix_nano(ts: datetime) -> int:
    if ts.tzinfo is None:
        raise ValueError("the clock must give timezone-aware datetimes")
    return (ts - _EPOCH) // timedelta(microseconds=1) * 1000


def from_unix_nano(ns: int) -> datetime:
    return _EPOCH + timedelta(microseconds=ns // 1000)


def media_type_of(content_type: str | None) -> str:
    """The OTLP encoding named by a Content-Type header, or UnsupportedMediaType (415)."""
    if not content_type:
        raise UnsupportedMediaType(
            f"the request has no Content-Type; send {PROTOBUF} (binary protobuf) or {JSON} (OTLP/JSON)",
            field="Content-Type",
        )
    main, _, params = content_type.partition(";")
    media = main.strip().lower()
    if media not in MEDIA_TYPES:
        raise UnsupportedMediaType(
            f"Content-Type {content_type.strip()[:100]!r} is not an OTLP encoding; send {PROTOBUF} or {JSON}",
            field="Content-Type",
        )
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            raise UnsupportedMediaType(
                f"charset {value.strip()!r} is not supported; OTLP/JSON is UTF-8", field="Content-Type"
            )
    return media


def inflate(body: bytes, content_encoding: str | None, limits: DecodeLimits = DecodeLimits()) -> bytes:
    """The body with its Content-Encoding undone, never inflating past `limits.max_inflated_bytes`."""
    if len(body) > limits.max_body_bytes:
        raise PayloadTooLarge(
            f"the body is {len(body)} bytes; at most {limits.max_body_bytes} are accepted — export smaller batches",
            field="body",
        )
    coding = (content_encoding or "identity").strip().lower()
    if coding in ("", "identity"):
        data = body
    elif coding == "gzip":
        data = _bounded_inflate(body, zlib.MAX_WBITS | 16, "gzip", limits.max_inflated_bytes)
    elif coding == "deflate":
        data = _bounded_inflate(body, zlib.MAX_WBITS, "deflate (zlib)", limits.max_inflated_bytes)
    else:
        raise UnsupportedMediaType(
            f"Content-Encoding {content_encoding!r} is not supported; use gzip, deflate or none",
            field="Content-Encoding",
        )
    if len(data) > limits.max_inflated_bytes:
        raise PayloadTooLarge(
            f"the body is {len(data)} bytes; at most {limits.max_inflated_bytes} are accepted — export smaller batches",
            field="body",
        )
    return data


def _bounded_inflate(body: bytes, wbits: int, name: str, cap: int) -> bytes:
    out: list[bytes] = []
    size = 0
    rest = body
    while True:  # concatenated gzip members are one stream (RFC 1952)
        d = zlib.decompressobj(wbits)
        try:
            chunk = d.decompress(rest, cap - size + 1)
        except zlib.error as e:
            raise BadPayload(f"the body is not valid {name} data ({e})", field="body") from None
        size += len(chunk)
        if size > cap:
            raise PayloadTooLarge(
                f"the {name} body inflates past {cap} bytes; at most {cap} are accepted — export smaller batches",
                field="body",
            )
        out.append(chunk)
        if not d.eof:
            raise BadPayload(f"the {name} body is truncated (the compressed stream does not end)", field="body")
        rest = d.unused_data
        if not rest or wbits == zlib.MAX_WBITS or not rest.startswith(b"\x1f\x8b"):
            if rest.strip(b"\x00"):
                raise BadPayload(f"the {name} body has {len(rest)} bytes of trailing garbage", field="body")
            return b"".join(out)


def decode_request(
    body: bytes, content_type: str | None, content_encoding: str | None = None, limits: DecodeLimits = DecodeLimits()
) -> Decoded:
    """Decode an OTLP/HTTP trace export body. Raises an OtlpError (nothing returned) when it cannot be read."""
    media = media_type_of(content_type)
    data = inflate(body, content_encoding, limits)
    spans, rejected = _from_protobuf(data) if media == PROTOBUF else from_json(data)
    return Decoded(media, spans, rejected)


# ---------------------------------------------------------------------------------------------- binary protobuf


def _pb_value(v: AnyValue) -> Any:
    which = v.WhichOneof("value")
    if which == "string_value":
        return v.string_value
    if which == "int_value":
        return v.int_value
    if which == "double_value":
        return v.double_value
    if which == "bool_value":
        return v.bool_value
    if which == "array_value":
        return [_pb_value(x) for x in v.array_value.values]
    if which == "kvlist_value":
        return {kv.key: _pb_value(kv.value) for kv in v.kvlist_value.values}
    if which == "bytes_value":
        return v.bytes_value
    return None


def _pb_attrs(kvs: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    kv: KeyValue
    for kv in kvs:
        out[kv.key] = _pb_value(kv.value)
    return out


def _from_protobuf(data: bytes) -> tuple[list[RawSpan], list[Rejection]]:
    try:
        request = ExportTraceServiceRequest.FromString(data)
    except DecodeError as e:
        raise BadPayload(
            f"the body is not a valid protobuf ExportTraceServiceRequest (truncated or corrupt: {e}); "
            f"send the bytes the OTLP exporter produced, with Content-Type {PROTOBUF}",
            field="body",
        ) from None
    spans: list[RawSpan] = []
    rejected: list[Rejection] = []
    for ri, rs in enumerate(request.resource_spans):
        resource = _pb_attrs(rs.resource.attributes)
        for si, ss in enumerate(rs.scope_spans):
            scope = ss.scope.name
            for ki, sp in enumerate(ss.spans):
                trace_id, span_id, parent = sp.trace_id.hex(), sp.span_id.hex(), sp.parent_span_id.hex()
                problem = id_problem(trace_id, span_id, parent)
                if problem is not None:
                    rejected.append(Rejection(where(ri, si, ki), span_id, problem))
                    continue
                events = [RawEvent(e.name, e.time_unix_nano, _pb_attrs(e.attributes)) for e in sp.events]
                spans.append(
                    RawSpan(
                        (ri, si, ki), trace_id, span_id, parent, sp.name, sp.kind, sp.start_time_unix_nano,
                        sp.end_time_unix_nano, _pb_attrs(sp.attributes), events, sp.status.code, sp.status.message,
                        resource, scope,
                    )
                )  # fmt: skip
    return spans, rejected


# ---------------------------------------------------------------------------------------------- responses


def response_media_type(content_type: str | None) -> str:
    """The encoding of the answer: the request's (the spec requires the same), JSON when it named neither."""
    try:
        return media_type_of(content_type)
    except UnsupportedMediaType:
        return JSON


def encode_response(partial: PartialSuccess | None, media_type: str) -> bytes:
    """An ExportTraceServiceResponse body; `partial` None is full success (partial_success left unset)."""
    response = ExportTraceServiceResponse()
    if partial is not None:
        response.partial_success.rejected_spans = partial.rejected_spans
        response.partial_success.error_message = partial.error_message[:MAX_MESSAGE_CHARS]
    if media_type == JSON:
        return json_format.MessageToJson(response, indent=None).encode()
    return response.SerializeToString()


_RPC_CODES: Final = {400: code_pb2.INVALID_ARGUMENT, 413: code_pb2.RESOURCE_EXHAUSTED, 415: code_pb2.INVALID_ARGUMENT}


def encode_status(error: OtlpError, media_type: str) -> bytes:
    """The google.rpc.Status body of a 4xx answer, with a BadRequest detail naming the field when known."""
    status = status_pb2.Status(code=_RPC_CODES.get(error.status, code_pb2.UNKNOWN), message=error.message)
    if error.field:
        detail = error_details_pb2.BadRequest(
            field_violations=[error_details_pb2.BadRequest.FieldViolation(field=error.field, description=error.message)]
        )
        status.details.add().Pack(detail)
    if media_type == JSON:
        return json_format.MessageToJson(status, indent=None).encode()
    body: bytes = status.SerializeToString()
    return body


# ---------------------------------------------------------------------------------------------- helpers


def _ns(delta: timedelta) -> int:
    return delta // timedelta(microseconds=1) * 1000


def _iso(ns: int) -> str:
    try:
        return from_unix_nano(ns).isoformat().replace("+00:00", "Z")
    except OverflowError:
        return f"{ns} ns after 1970"


def _human(delta: timedelta) -> str:
    seconds = delta.total_seconds()
    for unit, size, least in (("days", 86400, 172800), ("h", 3600, 3600), ("min", 60, 60)):
        if seconds >= least:
            value = seconds / size
            return f"{value:g} {unit}" if value == math.floor(value) else f"{value:.1f} {unit}"
    return f"{seconds:g} s"
