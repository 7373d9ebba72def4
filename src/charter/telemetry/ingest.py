"""What an OTLP/HTTP trace endpoint runs on a request body, with no I/O: decode, resolve each span's Charter system,
skip non-GenAI spans, check times, map; and the partial-success answer.

    result = ingest(body, request.headers.get("content-type"), request.headers.get("content-encoding"),
                    now=clock.now(), options=IngestOptions(default_system=token.system, ...))
    result.reject_where(lambda s: s.system not in known_systems, "no such system ...")   # after a DB lookup
    store(result.spans) ...; return Response(result.response_body(), media_type=result.media_type)

An `OtlpError` (400/413/415) means the whole request is refused and nothing may be stored; answer it with
`otlp.encode_status(error, otlp.response_media_type(content_type))`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, Literal

from charter.telemetry.dialects.common import text
from charter.telemetry.mapping import SYSTEM_ATTRIBUTE, GenAISpan, MappingOptions, dialect_of, map_span
from charter.telemetry.otlp import (
    MAX_MESSAGE_CHARS,
    BadPayload,
    DecodeLimits,
    PartialSuccess,
    RawSpan,
    Rejection,
    TimeWindow,
    decode_request,
    encode_response,
)

SYSTEM_KEY = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}[a-z0-9]$")  # the inventory's system key (a slug)
NO_SYSTEM: Final = (
    "no Charter system: set the resource attribute charter.system to the system key "
    "(e.g. OTEL_RESOURCE_ATTRIBUTES=charter.system=support-bot) or use a token bound to one system"
)
MAX_WARNINGS: Final = 100


@dataclass(frozen=True)
class IngestOptions:
    default_system: str | None = None  # the system a token is bound to: used when a span names none
    allowed_systems: frozenset[str] | None = None  # None: any system; a token bound to one: {that system}
    limits: DecodeLimits = field(default_factory=DecodeLimits)
    window: TimeWindow = field(default_factory=TimeWindow)
    mapping: MappingOptions = field(default_factory=MappingOptions)
    bad_times: Literal["refuse", "reject_span"] = "refuse"  # absurd times refuse the request, or only the span
    max_listed: int = 5  # example locations / reasons named in an error message


@dataclass
class IngestResult:
    media_type: str
    received: int  # spans in the request
    spans: list[GenAISpan]  # accepted GenAI spans, mapped
    skipped: int  # spans that are not GenAI spans (counted, not errors)
    rejected: list[Rejection]  # spans refused, each with where and why
    warnings: list[str] = field(default_factory=list)  # attributes ignored on accepted spans
    max_listed: int = 5

    def reject_where(self, predicate: Callable[[GenAISpan], bool], reason: str) -> int:
        """Move accepted spans matching `predicate` to the rejected ones (e.g. a system that does not exist)."""
        keep: list[GenAISpan] = []
        moved = 0
        for span in self.spans:
            if predicate(span):
                self.rejected.append(Rejection(f"span {span.span_id}", span.span_id, reason))
                moved += 1
            else:
                keep.append(span)
        self.spans = keep
        return moved

    def partial_success(self) -> PartialSuccess | None:
        """The OTLP partial_success: rejected spans and why, or warnings only; None for a full success."""
        if not self.rejected and not self.warnings:
            return None
        parts: list[str] = []
        if self.rejected:
            by_reason = Counter(r.reason for r in self.rejected)
            first_where: dict[str, str] = {}
            for r in self.rejected:
                first_where.setdefault(r.reason, r.where)
            listed = by_reason.most_common(self.max_listed)
            groups = [f"{n} x {reason} (e.g. {first_where[reason]})" for reason, n in listed]
            if len(by_reason) > len(listed):
                groups.append(f"and {len(by_reason) - len(listed)} other reasons")
            parts.append(f"{len(self.rejected)} of {self.received} spans rejected: " + "; ".join(groups))
        if self.warnings:
            shown = self.warnings[: self.max_listed]
            more = f" (and {len(self.warnings) - len(shown)} more)" if len(self.warnings) > len(shown) else ""
            parts.append("accepted with warnings: " + "; ".join(shown) + more)
        return PartialSuccess(len(self.rejected), ". ".join(parts)[:MAX_MESSAGE_CHARS])

    def response_body(self) -> bytes:
        """The ExportTraceServiceResponse to answer with (200), in the request's encoding."""
        return encode_response(self.partial_success(), self.media_type)


def resolve_system(span: RawSpan, options: IngestOptions) -> tuple[str | None, str | None]:
    """The span's Charter system key (span attribute, else resource attribute, else the token's), or why not."""
    declared = text(span.attributes.get(SYSTEM_ATTRIBUTE)) or text(span.resource.get(SYSTEM_ATTRIBUTE))
    system = declared or options.default_system
    if system is None:
        return None, NO_SYSTEM
    if not SYSTEM_KEY.match(system):
        return None, (
            f"charter.system {system[:80]!r} is not a system key (lower-case letters, digits and '-', 3-64 characters)"
        )
    if options.allowed_systems is not None and system not in options.allowed_systems:
        allowed = ", ".join(sorted(options.allowed_systems)) or "no system"
        return None, f"this token may write to {allowed} only; the span names {system!r}"
    return system, None


def ingest(
    body: bytes,
    content_type: str | None,
    content_encoding: str | None = None,
    *,
    now: datetime,
    options: IngestOptions = IngestOptions(),
) -> IngestResult:
    """Decode and map one OTLP/HTTP trace export; raises an OtlpError when the request is refused as a whole."""
    decoded = decode_request(body, content_type, content_encoding, options.limits)
    rejected = list(decoded.rejected)
    genai: list[tuple[RawSpan, str, str]] = []
    skipped = 0
    time_problems: list[tuple[str, str]] = []
    check_times = options.window.checker(now)
    for raw in decoded.spans:
        dialect = dialect_of(raw)
        if dialect is None:
            skipped += 1
            continue
        problem = check_times(raw.start_ns, raw.end_ns)
        if problem is not None:
            if options.bad_times == "refuse":
                time_problems.append((raw.where, problem))
            else:
                rejected.append(Rejection(raw.where, raw.span_id, f"absurd times: {problem}"))
            continue
        system, why = resolve_system(raw, options)
        if system is None:
            rejected.append(Rejection(raw.where, raw.span_id, why or NO_SYSTEM))
            continue
        genai.append((raw, system, dialect))
    if time_problems:
        listed = "; ".join(f"{w}: {p}" for w, p in time_problems[: options.max_listed])
        more = (
            f" (and {len(time_problems) - options.max_listed} more)" if len(time_problems) > options.max_listed else ""
        )
        raise BadPayload(
            f"{len(time_problems)} span{'s' if len(time_problems) > 1 else ''} with absurd times, nothing was "
            f"stored — {listed}{more}",
            field=time_problems[0][0],
        )
    spans: list[GenAISpan] = []
    warnings: list[str] = []
    for raw, system, dialect in genai:
        mapped, notes = map_span(raw, system, options.mapping, dialect)
        spans.append(mapped)
        if notes and len(warnings) < MAX_WARNINGS:
            warnings.extend(f"{raw.where}: {note}" for note in notes)
    return IngestResult(
        decoded.media_type, decoded.total, spans, skipped, rejected, warnings[:MAX_WARNINGS], options.max_listed
    )
