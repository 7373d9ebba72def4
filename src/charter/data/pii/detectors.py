"""The always-on detectors.

One pass of cheap pre-filters over the text finds numeric zones, upper-case alphanumeric zones and literal anchors
(``@``, ``://``, token prefixes...). Numeric rules run on each zone's *shape* (digits -> 0, lower case -> a) and
their matches are cached per shape, so the regex work is done once per distinct shape; candidates are scored with
the context words before them, validators (checksums, numbering plans) run only on candidates that can still reach
the threshold, and overlapping spans are resolved deterministically.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from itertools import accumulate

from charter.data.pii import catalog as c
from charter.data.pii import validators as v
from charter.data.pii.errors import PiiError
from charter.data.pii.spans import Span, resolve
from charter.data.pii.triggers import FINDERS, Candidate, Finder, find_ipv6

#: how far before a match context words are looked for (same line only), and negative words ("order #")
CONTEXT_WINDOW = 40
NEGATIVE_WINDOW = 16
_SHAPE_CACHE_LIMIT = 8192

_FIELD_SECRET = re.compile(
    r"(?:^|[^a-z])(?:api[ _-]?key|apikey|secret|token|passw(?:or)?d|passwd|pwd|private[ _-]?key|access[ _-]?key|"
    r"credential)s?(?:$|[^a-z])"
)
_NO_SPACE_VALUE = re.compile(r"\S+")
_PLUS_ONE = (1).__add__

Rules = tuple[tuple[c.ZoneRule, tuple[c.Check, ...]], ...]
#: start, end (in the text), the checks to try, the match (in its zone), shift (zone -> text offsets)
ZoneCandidate = tuple[int, int, tuple[c.Check, ...], c.ZoneMatch, int]
#: cached per zone shape: (checks, start, end, named group spans) of each rule match
ShapeHits = tuple[tuple[tuple[c.Check, ...], int, int, dict[str, tuple[int, int]]], ...]


def _select(rules: Sequence[c.ZoneRule], selected: frozenset[str]) -> Rules:
    kept = []
    for rule in rules:
        checks = tuple(check for check in rule.checks if check.entity in selected)
        if checks:
            kept.append((rule, checks))
    return tuple(kept)


class Detector:
    """Always-on PII detectors. Build one and share it (threads included: its only state is a cache of zone
    shapes, filled idempotently).

    ``entities`` restricts what is looked for (default: everything in :data:`catalog.ENTITIES`);
    ``threshold`` is the minimum score reported (default :data:`catalog.DEFAULT_THRESHOLD`).
    """

    def __init__(self, entities: Iterable[str] | None = None, *, threshold: float = c.DEFAULT_THRESHOLD) -> None:
        selected = frozenset(c.ENTITIES if entities is None else entities)
        unknown = sorted(selected - set(c.ENTITIES))
        if unknown:
            nlp = [e for e in unknown if e in c.NLP_ENTITIES]
            hint = f" ({', '.join(nlp)} come from the optional NLP backend, see charter.data.pii.nlp)" if nlp else ""
            raise PiiError(f"unknown entity type(s) {', '.join(unknown)}{hint}; known: {', '.join(c.ENTITIES)}")
        if not 0.0 <= threshold <= 1.0:
            raise PiiError(f"threshold must be between 0 and 1, got {threshold}")
        self.entities = selected
        self.threshold = threshold
        self._numeric = _select(c.NUMERIC_RULES, selected)
        self._alnum = _select(c.ALNUM_RULES, selected)
        self._finders: list[Finder] = [f for e, f in FINDERS.items() if e in selected and e != "IP_ADDRESS"]
        if "IP_ADDRESS" in selected:
            self._finders.append(find_ipv6)
        self._ambiguous = frozenset(s.name for s in c.ENTITY_SPECS if s.ambiguous)
        self._shapes: dict[str, ShapeHits] = {}

    def find(self, text: str, *, context: Sequence[str] = (), threshold: float | None = None) -> list[Span]:
        """Spans in ``text``, non-overlapping, in text order. ``context`` are extra words that apply to the whole
        text (a CSV column name, a JSON field name): they raise the score of the entities they name."""
        return self.find_many([text], context=context, threshold=threshold)[0]

    def find_many(
        self, texts: Sequence[str], *, context: Sequence[str] = (), threshold: float | None = None
    ) -> list[list[Span]]:
        """``find`` for each text, in one pass over them joined (much faster than one call per short text)."""
        if not texts:
            return []
        limit = self.threshold if threshold is None else threshold
        block = texts[0] if len(texts) == 1 else "\n".join(texts)
        starts = list(accumulate(map(_PLUS_ONE, map(len, texts)), initial=0))  # C-level: start of each text
        zoned: list[ZoneCandidate] = []
        found: list[Candidate] = []
        if self._numeric:
            self._numeric_zones(block, zoned)
        if self._alnum:
            self._alnum_zones(block, zoned)
        for finder in self._finders:
            finder(block, found)
        boosted, field_secret = self._field_context(context)
        if field_secret:
            for i, text in enumerate(texts):
                value = _NO_SPACE_VALUE.fullmatch(text.strip())
                if value is not None and v.secret_value(value.group(0)):
                    lead = starts[i] + len(text) - len(text.lstrip())
                    found.append((lead, lead + len(value.group(0)), "SECRET", 0.8))
        spans = resolve(_Scorer(self, block, boosted, limit).run(zoned, found), c.PRIORITY)
        if len(texts) == 1:
            return [spans]
        result: list[list[Span]] = [[] for _ in texts]
        crossing: set[int] = set()
        for span in spans:
            i = bisect_right(starts, span.start) - 1
            if span.end > starts[i] + len(texts[i]):
                crossing.add(i)
                continue
            result[i].append(span.shifted(-starts[i]))
        for i in crossing:  # a multi-line match (a PEM block) ran past its record: scan that record alone
            result[i] = self.find(texts[i], context=context, threshold=threshold)
        return result

    def _numeric_zones(self, block: str, out: list[ZoneCandidate]) -> None:
        shapes = self._shapes
        overhang = c.OVERHANG.match
        for zone in c.NUMERIC_ZONE.finditer(block):
            start, end = zone.span()
            while start and block[start - 1] in "+(":
                start -= 1
            piece = block[start : overhang(block, end).end()]  # type: ignore[union-attr]
            shape = piece.translate(c.SHAPE)
            hits = shapes.get(shape)
            if hits is None:
                hits = self._shape_hits(shape)
            for checks, s, e, groups in hits:
                out.append((start + s, start + e, checks, c.ZoneMatch(piece, s, e, groups), start))

    def _shape_hits(self, shape: str) -> ShapeHits:
        hits = tuple(
            (checks, m.start(), m.end(), {name: m.span(name) for name in rule.pattern.groupindex})
            for rule, checks in self._numeric
            for m in rule.pattern.finditer(shape)
        )
        if len(self._shapes) >= _SHAPE_CACHE_LIMIT:
            self._shapes.clear()
        self._shapes[shape] = hits
        return hits

    def _alnum_zones(self, block: str, out: list[ZoneCandidate]) -> None:
        """Upper-case zones are few: concatenate them and run each rule once over that short string."""
        pieces: list[str] = []
        origins: list[int] = []
        offsets: list[int] = []
        position = 0
        for zone in c.ALNUM_ZONE.finditer(block):
            piece = block[zone.start() : zone.end() + 2]
            pieces.append(piece)
            origins.append(zone.start())
            offsets.append(position)
            position += len(piece) + 1
        if not pieces:
            return
        joined = "\x00".join(pieces)
        for rule, checks in self._alnum:
            for m in rule.pattern.finditer(joined):
                i = bisect_right(offsets, m.start()) - 1
                shift = origins[i] - offsets[i]
                groups = {name: m.span(name) for name in rule.pattern.groupindex}
                out.append((m.start() + shift, m.end() + shift, checks, c.ZoneMatch(joined, *m.span(), groups), shift))

    def _field_context(self, context: Sequence[str]) -> tuple[frozenset[str], bool]:
        if not context:
            return frozenset(), False
        words = " ".join(context).replace("_", " ").lower()
        entities: set[str] = set()
        for m in c.CONTEXT_ANY.finditer(words):
            entities |= c.CONTEXT_WORDS[m.group(1)]
        field_secret = "SECRET" in self.entities and _FIELD_SECRET.search(words) is not None
        return frozenset(entities), field_secret


class _Scorer:
    """Context scoring, lazy validation and span building for one block. This is the hot loop: it is kept flat
    (no per-candidate helper calls) on purpose."""

    def __init__(self, detector: Detector, block: str, boosted: frozenset[str], limit: float) -> None:
        self.block = block
        self.boosted = boosted
        self.limit = limit
        self.selected = detector.entities
        self.ambiguous = detector._ambiguous

    def run(self, zoned: list[ZoneCandidate], found: list[Candidate]) -> list[Span]:
        """The score of a candidate is its base score, raised by CONTEXT_BOOST (to at least MIN_SCORE_WITH_CONTEXT)
        when a context word for its entity precedes it on its line (or names the field), lowered by CONTEXT_BOOST
        when an ambiguous entity is preceded by a nearer negative word ("order 123456782"), capped at 1.

        Three passes: validate the candidates whose shape alone reaches the threshold (most of them; an invalid
        one needs no context), read the context of all remaining candidates at once, then score."""
        block, boosted, ambiguous, limit = self.block, self.boosted, self.ambiguous, self.limit
        boost, floor = c.CONTEXT_BOOST, c.MIN_SCORE_WITH_CONTEXT
        selected = self.selected
        # pass 1: (start, end, entity, base) already valid; candidates still to weigh against their context
        valid: list[Candidate] = [f for f in found if f[2] in selected]
        pending: list[ZoneCandidate] = []
        for candidate in zoned:
            checks = candidate[2]
            if len(checks) == 1 and isinstance(checks[0].bound, float) and checks[0].bound >= limit:
                hit = checks[0].validate(candidate[3])
                if hit is not None:
                    valid.append((candidate[0], hit[1] + candidate[4], checks[0].entity, hit[0]))
            else:
                pending.append(candidate)
        # pass 2: context words before every remaining start
        contexts = _contexts(block, {v[0] for v in valid} | {p[0] for p in pending})
        # pass 3: scores
        spans: list[Span] = []
        for start, end, entity, base in valid:
            positives, negative = contexts[start]
            positive = positives.get(entity, -1)
            if positive >= 0 or entity in boosted:
                base = max(base + boost, floor)
            if negative > positive and entity in ambiguous:
                base -= boost
            if base >= limit:
                spans.append(Span(start, end, entity, min(base, 1.0)))
        priority = c.PRIORITY
        for start, end, checks, m, shift in pending:
            positives, negative = contexts[start]
            # (potential score, priority, check, context delta) for checks that can still reach the threshold
            potentials = []
            for check in checks:
                bound = check.bound if isinstance(check.bound, float) else check.bound(m)
                if bound <= 0.0:
                    continue  # the shape is right but a value rule excludes it (e.g. no trunk 0)
                entity = check.entity
                positive = positives.get(entity, -1)
                delta = 0.0
                if positive >= 0 or entity in boosted:
                    delta = boost if bound + boost > floor else floor - bound
                if negative > positive and entity in ambiguous:
                    delta -= boost
                if bound + delta >= limit:  # the bound is an upper bound: below it, no checksum needs to run
                    potentials.append((bound + delta, priority[entity], check, delta))
            if not potentials:
                continue
            if len(potentials) > 1:
                potentials.sort(key=lambda p: (-p[0], p[1]))
            winner = -1.0
            for potential, _, check, delta in potentials:
                if potential <= winner:
                    # a validated check on this same span scores at least as high and comes first on ties:
                    # resolution would drop this one whatever happens, so its checksum need not run
                    break
                hit = check.validate(m)
                if hit is None:
                    continue
                value = hit[0] + delta
                if value < limit:
                    continue
                value = min(value, 1.0)
                spans.append(Span(start, hit[1] + shift, check.entity, value))
                if hit[1] + shift == end:
                    winner = value
        return spans


_NO_WORDS: dict[str, int] = {}
Context = tuple[dict[str, int], int]


def _contexts(block: str, starts: Iterable[int]) -> dict[int, Context]:
    """For each start: the entities named by context words before it on its line (-> end of the nearest such word,
    in its lower-cased window) and the end of the nearest negative word (-1 when none). The windows are lower-cased
    and searched in one pass, joined by line breaks (which no context word contains)."""
    order = sorted(starts)
    windows = []
    for start in order:
        low = start - CONTEXT_WINDOW if start > CONTEXT_WINDOW else 0
        newline = block.rfind("\n", low, start)
        windows.append(block[low if newline < 0 else newline + 1 : start])
    joined = "\n".join(windows).lower()
    offsets = list(accumulate(map(_PLUS_ONE, map(len, windows)), initial=0))
    if len(joined) != offsets[-1] - 1 and windows:  # lower() changed a length (rare letters): one window at a time
        return {start: _context_of(window.lower()) for start, window in zip(order, windows, strict=True)}
    result: dict[int, Context] = dict.fromkeys(order, (_NO_WORDS, -1))
    current = -1
    positives: dict[str, int] = _NO_WORDS
    negative = -1
    for m in c.CONTEXT_ANY.finditer(joined):
        i = bisect_right(offsets, m.start()) - 1
        if i != current:
            if current >= 0:
                result[order[current]] = (positives, negative)
            current, positives, negative = i, {}, -1
        origin = offsets[i]
        entities = c.CONTEXT_WORDS[m.group(1)]
        if entities is c.NEGATIVE:
            if m.start() - origin >= len(windows[i]) - NEGATIVE_WINDOW:
                negative = m.end() - origin
        else:
            for entity in entities:
                positives[entity] = m.end() - origin
    if current >= 0:
        result[order[current]] = (positives, negative)
    return result


def _context_of(window: str) -> Context:
    positives: dict[str, int] = {}
    negative = -1
    near = len(window) - NEGATIVE_WINDOW
    for m in c.CONTEXT_ANY.finditer(window):
        entities = c.CONTEXT_WORDS[m.group(1)]
        if entities is c.NEGATIVE:
            if m.start() >= near:
                negative = m.end()
        else:
            for entity in entities:
                positives[entity] = m.end()
    return positives, negative


_DEFAULT: list[Detector] = []


def default_detector() -> Detector:
    """A shared detector with every always-on entity and the default threshold (built once)."""
    if not _DEFAULT:
        _DEFAULT.append(Detector())
    return _DEFAULT[0]
