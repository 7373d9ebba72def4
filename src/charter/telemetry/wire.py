"""What a decoded OTLP trace request is made of, whatever its encoding, and the refusals of a whole request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

ZERO_TRACE: Final = "0" * 32
ZERO_SPAN: Final = "0" * 16


class OtlpError(ValueError):
    """A request refused as a whole; `status` is the HTTP status the OTLP/HTTP endpoint answers with."""

    status: int = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class BadPayload(OtlpError):
    status = 400


class PayloadTooLarge(OtlpError):
    status = 413


class UnsupportedMediaType(OtlpError):
    status = 415


@dataclass(slots=True)
class RawEvent:
    name: str
    time_ns: int
    attributes: dict[str, Any]


@dataclass(slots=True)
class RawSpan:
    """One span as sent, whatever the encoding: ids as lower-case hex, attribute values as Python values
    (str, bool, int, float, bytes, list for arrayValue, dict for kvlistValue, None for an empty AnyValue)."""

    position: tuple[int, int, int]  # (resourceSpans, scopeSpans, spans) indices in the request
    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    kind: int
    start_ns: int
    end_ns: int
    attributes: dict[str, Any]
    events: list[RawEvent]
    status_code: int
    status_message: str
    resource: dict[str, Any]  # shared by the spans of one resourceSpans entry
    scope: str

    @property
    def where(self) -> str:
        return where(*self.position)


@dataclass(frozen=True, slots=True)
class Rejection:
    where: str  # e.g. resourceSpans[0].scopeSpans[1].spans[7]
    span_id: str
    reason: str


def where(resource: int, scope: int, span: int) -> str:
    return f"resourceSpans[{resource}].scopeSpans[{scope}].spans[{span}]"


def id_problem(trace_id: str, span_id: str, parent: str) -> str | None:
    if len(trace_id) != 32 or trace_id == ZERO_TRACE:
        return f"traceId must be 16 bytes and not all zero (got {len(trace_id) // 2} bytes: {trace_id[:40]!r})"
    if len(span_id) != 16 or span_id == ZERO_SPAN:
        return f"spanId must be 8 bytes and not all zero (got {len(span_id) // 2} bytes: {span_id[:40]!r})"
    if parent and len(parent) != 16:
        return f"parentSpanId must be empty or 8 bytes (got {len(parent) // 2} bytes)"
    return None


def kind_of(x: Any) -> str:
    if x is None:
        return "null"
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, str):
        return f"the text {x[:40]!r}"
    if isinstance(x, int | float):
        return f"the number {x!r}"
    if isinstance(x, dict):
        return "an object"
    if isinstance(x, list):
        return "a list"
    return type(x).__name__
