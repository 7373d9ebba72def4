"""A detected span and the deterministic resolution of overlapping candidates."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping
from typing import NamedTuple


class Span(NamedTuple):
    """``text[start:end]`` (character offsets, end exclusive) is an ``entity`` with confidence ``score`` in [0, 1].

    A named tuple: immutable, ordered by (start, end, entity, score), and cheap to build in the hot loop."""

    start: int
    end: int
    entity: str
    score: float

    def to_dict(self) -> dict[str, int | str | float]:
        return {"start": self.start, "end": self.end, "entity": self.entity, "score": round(self.score, 2)}

    def shifted(self, offset: int) -> Span:
        return Span(self.start + offset, self.end + offset, self.entity, self.score)


def resolve(candidates: Iterable[Span], priority: Mapping[str, int]) -> list[Span]:
    """Keep non-overlapping spans: highest score first, then the longer span, then the entity listed first in
    ``priority``, then the earlier start. Returns them in text order. Same input, same output.

    Spans are swept in text order into clusters of mutually overlapping spans; each cluster is resolved on its
    own (spans in different clusters cannot conflict), and most clusters hold a single span."""
    ordered = sorted(candidates)
    kept: list[Span] = []
    cluster: list[Span] = []
    reach = -1
    for span in ordered:
        if span.start >= reach:
            if cluster:
                kept.extend(cluster if len(cluster) == 1 else _resolve_cluster(cluster, priority))
            cluster = [span]
            reach = span.end
        else:
            cluster.append(span)
            reach = max(reach, span.end)
    if cluster:
        kept.extend(cluster if len(cluster) == 1 else _resolve_cluster(cluster, priority))
    return kept


def _resolve_cluster(cluster: list[Span], priority: Mapping[str, int]) -> list[Span]:
    ordered = sorted(cluster, key=lambda s: (-s.score, s.start - s.end, priority.get(s.entity, len(priority)), s.start))
    starts: list[int] = []
    kept: list[Span] = []
    for span in ordered:
        i = bisect_left(starts, span.start)
        if i > 0 and kept[i - 1].end > span.start:
            continue
        if i < len(kept) and kept[i].start < span.end:
            continue
        starts.insert(i, span.start)
        kept.insert(i, span)
    return kept
