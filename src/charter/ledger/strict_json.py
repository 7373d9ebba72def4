"""Strict reading of stored ledger JSON: what was hashed must be exactly what is stored.

Python's `json.loads` keeps the *last* of two equal keys and accepts NaN and Infinity, while SQL (PostgreSQL's
`json ->>`, SQLite's `json_extract`) and other readers may see the *first*. So a stored entry edited to
`{"stage":"EVIL",…,"stage":"production"}` re-encodes to the canonical text that was hashed and passes a verifier
that parses and re-encodes, while a report reading it from SQL sees "EVIL" (issue 12, finding 5).

`parse_canonical` closes that: it refuses duplicate keys, NaN/Infinity (and numbers too large for a float),
invalid UTF-8 and any syntax error, then re-encodes the value canonically (`charter.ledger.rules.canonical`:
sorted keys, no whitespace, UTF-8 without \\u escapes) and requires it to equal the stored text byte for byte.
Every error names what was found and where (line, column), e.g. `after: duplicate key 'stage' in the object at
line 1, column 1`. `loads_strict` is the same without the canonical-form requirement.
"""

from __future__ import annotations

import json
import json.decoder
import json.scanner
import math
from collections.abc import Callable
from typing import Any, Final

from charter.ledger.rules import canonical

CANONICAL_RULE: Final = "canonical JSON: sorted keys, no whitespace, UTF-8 without \\u escapes, no NaN"


class StrictJSONError(ValueError):
    """Stored JSON that is not what strict reading allows.

    kind: duplicate_key | constant (NaN/Infinity) | number (too large) | encoding | syntax | not_canonical.
    position: character offset in the text (None if unknown); line and column are 1-based.
    """

    def __init__(self, where: str, kind: str, found: str, text: str, position: int | None, why: str = "") -> None:
        self.where, self.kind, self.found, self.position = where, kind, found, position
        self.line = self.column = None
        at = ""
        if position is not None:
            self.line = text.count("\n", 0, position) + 1
            self.column = position - (text.rfind("\n", 0, position) + 1) + 1
            at = f" at line {self.line}, column {self.column}"
        if kind == "duplicate_key":
            at = f" in the object{at}"
        super().__init__(f"{where}: {found}{at}{why}")


class _Found(Exception):
    """Raised inside the decoder's hooks; carries (kind, what was found)."""

    def __init__(self, kind: str, found: str, why: str = "") -> None:
        super().__init__(found)
        self.kind, self.found, self.why = kind, found, why
        self.position: int | None = None


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Found("duplicate_key", f"duplicate key {key!r}", " (JSON readers disagree on which value wins)")
            seen.add(key)
    return obj


def _constant(name: str) -> Any:
    raise _Found("constant", f"{name} is not JSON", " (only finite numbers are allowed)")


def _float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _Found("number", f"number {text[:40]} is too large", " (a float that large reads as Infinity)")
    return value


# The pure-Python decoder's parts (the C decoder has no hooks with positions). Not in typeshed: typed here.
_py_make_scanner: Callable[[json.JSONDecoder], Callable[[str, int], tuple[Any, int]]]
_py_make_scanner = json.scanner.py_make_scanner  # type: ignore[attr-defined]
_json_object: Callable[..., tuple[Any, int]] = json.decoder.JSONObject  # type: ignore[attr-defined]
_json_array: Callable[..., tuple[Any, int]] = json.decoder.JSONArray  # type: ignore[attr-defined]
_DECODER = json.JSONDecoder(object_pairs_hook=_pairs, parse_constant=_constant, parse_float=_float)


class _Locator(json.JSONDecoder):
    """The pure-Python decoder with the same hooks, tracking where each value and object starts.

    Used only after a failure, to say where it is: the C decoder that reads the text the first time does not
    pass positions to its hooks.
    """

    def __init__(self) -> None:
        super().__init__(object_pairs_hook=_pairs, parse_constant=_constant, parse_float=_float)
        self.parse_object = self._object
        self.parse_array = self._array
        self.scan_once = self._tracking(_py_make_scanner(self))

    def _tracking(self, scan: Callable[[str, int], tuple[Any, int]]) -> Callable[[str, int], tuple[Any, int]]:
        def scan_once(text: str, idx: int) -> tuple[Any, int]:
            try:
                return scan(text, idx)
            except _Found as found:
                if found.position is None:
                    found.position = idx
                raise

        return scan_once

    def _array(self, s_and_end: tuple[str, int], scan: Any) -> tuple[Any, int]:
        return _json_array(s_and_end, self._tracking(scan))

    def _object(self, s_and_end: tuple[str, int], strict: bool, scan: Any, *rest: Any) -> tuple[Any, int]:
        start = s_and_end[1] - 1
        try:
            return _json_object(s_and_end, strict, self._tracking(scan), *rest)
        except _Found as found:
            if found.kind == "duplicate_key" and found.position is None:
                found.position = start
            raise


def _position(text: str) -> int | None:
    try:
        _Locator().decode(text)
    except _Found as found:
        return found.position
    except ValueError:
        return None
    return None


def _text_of(data: str | bytes | bytearray | memoryview, where: str) -> str:
    if isinstance(data, str):
        return data
    raw = bytes(data)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        good = raw[: exc.start].decode("utf-8")
        raise StrictJSONError(
            where, "encoding", f"byte 0x{raw[exc.start]:02x} is not valid UTF-8 (byte {exc.start})", good, len(good)
        ) from None


def loads_strict(data: str | bytes | bytearray | memoryview, *, where: str = "JSON") -> Any:
    """Parse JSON, refusing duplicate keys, NaN/Infinity, out-of-range numbers, bad UTF-8 and syntax errors."""
    text = _text_of(data, where)
    if text.startswith("\ufeff"):
        raise StrictJSONError(where, "syntax", "not JSON: a byte-order mark (U+FEFF) before the value", text, 0)
    try:
        return _DECODER.decode(text)
    except _Found as found:
        raise StrictJSONError(where, found.kind, found.found, text, _position(text), found.why) from None
    except json.JSONDecodeError as exc:
        raise StrictJSONError(where, "syntax", f"not JSON: {exc.msg}", text, exc.pos) from None
    except (ValueError, RecursionError) as exc:  # e.g. an integer past Python's digit limit, absurd nesting
        raise StrictJSONError(where, "syntax", f"not readable JSON: {exc}", text, None) from None


def parse_canonical(data: str | bytes | bytearray | memoryview, *, where: str = "JSON") -> Any:
    """`loads_strict`, and the text must be exactly the canonical encoding of the value it holds."""
    text = _text_of(data, where)
    value = loads_strict(text, where=where)
    again = canonical(value)
    if again != text:
        at = _first_difference(text, again)
        raise StrictJSONError(
            where,
            "not_canonical",
            f"not in canonical form: the stored text has {text[at : at + 24]!r} where the canonical text has "
            f"{again[at : at + 24]!r}",
            text,
            at,
            f" ({CANONICAL_RULE})",
        )
    return value


def is_canonical(data: str | bytes | bytearray | memoryview) -> bool:
    try:
        parse_canonical(data)
    except StrictJSONError:
        return False
    return True


def _first_difference(a: str, b: str) -> int:
    n = min(len(a), len(b))
    lo, hi = 0, n  # binary search on prefix equality: C-speed comparisons
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo
