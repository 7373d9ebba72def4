"""The OTLP/JSON encoding of an ExportTraceServiceRequest read into RawSpans (opentelemetry-proto
docs/specification.md, "JSON Protobuf Encoding"): lowerCamelCase keys, hex trace/span ids, integer enums, 64-bit
integers as numbers or decimal strings, bytes as base64, unknown fields ignored.

Hand-written rather than google.protobuf.json_format.ParseDict (after re-encoding the hex ids as base64): ParseDict
is pure Python and decodes about 2,800 spans/s, ~10x slower than this reader (benchmarks/telemetry_decode.py prints
both), which would use up the ingest's whole budget of 5,000 spans/s on decoding alone.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any, Final

from charter.telemetry.wire import ZERO_SPAN, ZERO_TRACE, BadPayload, RawEvent, RawSpan, Rejection, kind_of, where

_U64: Final = 2**64
_I64: Final = 2**63
_HEX32 = re.compile(r"^[0-9a-fA-F]{32}$")
_HEX16 = re.compile(r"^[0-9a-fA-F]{16}$")
MAX_DEPTH: Final = 64  # AnyValue nesting (protobuf's own parser stops at 100 message levels)
_DECIMAL = re.compile(r"^-?[0-9]+$")
_JSON_NUMBER = re.compile(r"^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$")


class _Bad(Exception):
    """A malformed JSON field; the caller adds where it is."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _j_str(x: Any, field: str) -> str:
    if x is None:
        return ""  # proto3 JSON: null is the default value
    if type(x) is not str:
        raise _Bad(field, f"must be a string, got {kind_of(x)}")
    return x


def _j_int(x: Any, field: str, lo: int, hi: int) -> int:
    """A proto3-JSON integer: a JSON number without fraction, or a decimal string (64-bit values)."""
    t = type(x)
    if t is int:
        value: int = x
    elif x is None:
        value = 0
    elif (t is str and _DECIMAL.match(x)) or (t is float and x.is_integer()):
        value = int(x)
    else:
        raise _Bad(field, f"must be an integer (a number or a decimal string), got {kind_of(x)}")
    if not lo <= value < hi:
        raise _Bad(field, f"{value} is out of range")
    return value


def _j_double(x: Any, field: str) -> float:
    t = type(x)
    if t is float or t is int:
        return float(x)
    if t is str:
        if x in ("NaN", "Infinity", "-Infinity"):
            return float(x.replace("Infinity", "inf"))
        if _JSON_NUMBER.match(x):
            return float(x)
    raise _Bad(field, f"must be a number, got {kind_of(x)}")


def _j_bool(x: Any, field: str) -> bool:
    if type(x) is not bool:
        raise _Bad(field, f"must be true or false, got {kind_of(x)}")
    return bool(x)


def _j_bytes(x: Any, field: str) -> bytes:
    s = _j_str(x, field)
    try:
        return base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError):
        try:
            return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
        except (binascii.Error, ValueError):
            raise _Bad(field, "must be base64 text") from None


def _j_list(x: Any, field: str) -> list[Any]:
    if x is None:
        return []
    if type(x) is not list:
        raise _Bad(field, f"must be a list, got {kind_of(x)}")
    return x


def _j_obj(x: Any, field: str) -> dict[str, Any]:
    if x is None:
        return {}
    if type(x) is not dict:
        raise _Bad(field, f"must be an object, got {kind_of(x)}")
    return x


def _j_value(v: Any, depth: int = 0) -> Any:
    """An AnyValue; a _Bad's field is relative ('.intValue', '.arrayValue.values[2].stringValue')."""
    if depth > MAX_DEPTH:
        raise _Bad("", f"values nest deeper than {MAX_DEPTH} levels")
    if v is None:
        return None
    if type(v) is not dict:
        raise _Bad("", f'must be an AnyValue object such as {{"stringValue": "..."}}, got {kind_of(v)}')
    x = v.get("stringValue")
    if x is not None:  # the common case first
        return _j_str(x, ".stringValue")
    for key, x in v.items():
        if x is None:
            continue
        if key == "intValue":
            return _j_int(x, ".intValue", -_I64, _I64)
        if key == "doubleValue":
            return _j_double(x, ".doubleValue")
        if key == "boolValue":
            return _j_bool(x, ".boolValue")
        if key == "arrayValue":
            values = _j_list(_j_obj(x, ".arrayValue").get("values"), ".arrayValue.values")
            out: list[Any] = []
            for i, item in enumerate(values):
                try:
                    out.append(_j_value(item, depth + 1))
                except _Bad as e:
                    raise _Bad(f".arrayValue.values[{i}]{e.field}", e.message) from None
            return out
        if key == "kvlistValue":
            values = _j_list(_j_obj(x, ".kvlistValue").get("values"), ".kvlistValue.values")
            return _j_attrs(values, ".kvlistValue.values", depth + 1)
        if key == "bytesValue":
            return _j_bytes(x, ".bytesValue")
    return None  # empty, or only fields this version does not know (ignored, as the spec requires)


def _j_attrs(items: Any, field: str, depth: int = 0) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if items is None:
        return out
    if type(items) is not list:
        raise _Bad(field, f"must be a list, got {kind_of(items)}")
    for i, kv in enumerate(items):
        if type(kv) is not dict:
            raise _Bad(f"{field}[{i}]", f'must be {{"key": ..., "value": {{...}}}}, got {kind_of(kv)}')
        key = kv.get("key")
        if key is None:
            key = ""  # proto3 JSON leaves out (or nulls) default values: no "key" is the empty key
        elif type(key) is not str:
            raise _Bad(f"{field}[{i}].key", f"must be a string, got {kind_of(key)}")
        try:
            out[key] = _j_value(kv.get("value"), depth)
        except _Bad as e:
            raise _Bad(f"{field}[{i}].value{e.field}", e.message) from None
    return out


def _j_enum(x: Any, field: str) -> int:
    if x is None:
        return 0
    if type(x) is str and not x.lstrip("-").isdigit():
        raise _Bad(field, f"enum values are integers in OTLP/JSON (e.g. 2 for STATUS_CODE_ERROR), got {x[:40]!r}")
    return _j_int(x, field, -(2**31), 2**31)


def _j_id(x: Any, pattern: re.Pattern[str]) -> str | None:
    """A hex id in lower case, or None when it is not `size` bytes of hex."""
    if x is None or x == "":
        return ""
    if type(x) is not str or not pattern.match(x):
        return None
    return x.lower()


def from_json(data: bytes) -> tuple[list[RawSpan], list[Rejection]]:
    try:
        doc = json.loads(data)
    except UnicodeDecodeError as e:
        raise BadPayload(f"the body is not UTF-8 text ({e})", field="body") from None
    except json.JSONDecodeError as e:
        raise BadPayload(
            f"the body is not valid JSON: {e.msg} at line {e.lineno} column {e.colno}", field="body"
        ) from None
    except RecursionError:
        raise BadPayload(f"the body nests JSON deeper than {MAX_DEPTH} levels", field="body") from None
    if type(doc) is not dict:
        raise BadPayload(f'the body must be a JSON object {{"resourceSpans": [...]}}, got {kind_of(doc)}', field="body")
    if "resourceSpans" not in doc and "resource_spans" in doc:
        raise BadPayload(
            "OTLP/JSON keys are lowerCamelCase: use resourceSpans, not resource_spans", field="resource_spans"
        )
    spans: list[RawSpan] = []
    rejected: list[Rejection] = []
    where_now = "resourceSpans"
    try:
        for ri, rs in enumerate(_j_list(doc.get("resourceSpans"), "resourceSpans")):
            where_now = f"resourceSpans[{ri}]"
            rs = _j_obj(rs, where_now)
            resource_obj = _j_obj(rs.get("resource"), f"{where_now}.resource")
            resource = _j_attrs(resource_obj.get("attributes"), f"{where_now}.resource.attributes")
            for si, ss in enumerate(_j_list(rs.get("scopeSpans"), f"{where_now}.scopeSpans")):
                where_now = f"resourceSpans[{ri}].scopeSpans[{si}]"
                ss = _j_obj(ss, where_now)
                scope_obj = _j_obj(ss.get("scope"), f"{where_now}.scope")
                scope = _j_str(scope_obj.get("name", ""), f"{where_now}.scope.name")
                for ki, sp in enumerate(_j_list(ss.get("spans"), f"{where_now}.spans")):
                    where_now = where(ri, si, ki)
                    span = _j_span(_j_obj(sp, where_now), (ri, si, ki), resource, scope)
                    if isinstance(span, Rejection):
                        rejected.append(span)
                    else:
                        spans.append(span)
    except _Bad as e:
        location = e.field if e.field.startswith("resourceSpans") else f"{where_now}.{e.field}"
        raise BadPayload(f"{location}: {e.message}", field=location) from None
    return spans, rejected


def _j_span(sp: dict[str, Any], position: tuple[int, int, int], resource: dict[str, Any], scope: str) -> Any:
    if "traceId" not in sp and "trace_id" in sp:
        raise _Bad("trace_id", "OTLP/JSON keys are lowerCamelCase: use traceId, spanId, startTimeUnixNano, …")
    raw_trace, raw_span = sp.get("traceId"), sp.get("spanId")
    trace_id = _j_id(raw_trace, _HEX32)
    span_id = _j_id(raw_span, _HEX16)
    parent = _j_id(sp.get("parentSpanId"), _HEX16)
    shown = span_id or (str(raw_span)[:40] if raw_span is not None else "")
    if trace_id is None or not trace_id or trace_id == ZERO_TRACE:
        return Rejection(
            where(*position), shown, f"traceId must be 32 hex digits, not all zero (got {raw_trace!r:.50})"
        )
    if span_id is None or not span_id or span_id == ZERO_SPAN:
        return Rejection(where(*position), shown, f"spanId must be 16 hex digits, not all zero (got {raw_span!r:.50})")
    if parent is None:
        return Rejection(where(*position), span_id, "parentSpanId must be empty or 16 hex digits")
    events: list[RawEvent] = []
    for i, ev in enumerate(_j_list(sp.get("events"), "events")):
        ev = _j_obj(ev, f"events[{i}]")
        events.append(
            RawEvent(
                _j_str(ev.get("name", ""), f"events[{i}].name"),
                _j_int(ev.get("timeUnixNano", 0), f"events[{i}].timeUnixNano", 0, _U64),
                _j_attrs(ev.get("attributes"), f"events[{i}].attributes"),
            )
        )
    status = _j_obj(sp.get("status"), "status")
    return RawSpan(
        position,
        trace_id,
        span_id,
        parent,
        _j_str(sp.get("name", ""), "name"),
        _j_enum(sp.get("kind"), "kind"),
        _j_int(sp.get("startTimeUnixNano", 0), "startTimeUnixNano", 0, _U64),
        _j_int(sp.get("endTimeUnixNano", 0), "endTimeUnixNano", 0, _U64),
        _j_attrs(sp.get("attributes"), "attributes"),
        events,
        _j_enum(status.get("code"), "status.code"),
        _j_str(status.get("message", ""), "status.message"),
        resource,
        scope,
    )
