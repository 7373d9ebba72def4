"""The PII guard before storage: the data module's detector and egress guard (charter.data.pii), applied to an
interaction's input and output when the system's feedback settings ask for it (pii_guard: mask | redact).

The seam for issue 17: when the data module grows per-system PII policies in the database, `guard` is the one
place that reads them; the ingest path only calls guard(mode, input, output)."""

from __future__ import annotations

from functools import cache

from charter.data.pii import EgressPolicy, Guard, default_detector


@cache
def _guard() -> Guard:
    return Guard(default_detector())


@cache
def _policy(mode: str) -> EgressPolicy:
    return EgressPolicy.from_dict({"vendor": "charter-feedback-store", "default": mode})


def guard(mode: str, text_in: str, text_out: str) -> tuple[str, str, dict[str, int]]:
    """(input, output, counts per entity type) as they may be stored; counts empty when nothing was found or
    the guard is off. Values found are never kept: only their counts."""
    if mode == "off":
        return text_in, text_out, {}
    counts: dict[str, int] = {}
    out: list[str] = []
    for text in (text_in, text_out):
        result = _guard().apply(text, _policy(mode))
        out.append(result.text if result.text is not None else "")
        for entity, per in result.counts.items():
            counts[entity] = counts.get(entity, 0) + sum(per.values())
    return out[0], out[1], counts
