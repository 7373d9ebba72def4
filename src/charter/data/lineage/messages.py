"""Turning jsonschema errors into messages a person can act on: instance paths, leaf errors, short reprs."""

from __future__ import annotations

import json
import re
import reprlib
from collections.abc import Iterator, Sequence

from jsonschema.exceptions import ValidationError, best_match

_FORMAT_HINTS = {
    "uuid": "a UUID such as 01908c5e-3bd4-7c2a-9f5e-0a6b1c2d3e4f",
    "date-time": "an RFC 3339 date-time with a time-zone offset, such as 2024-05-01T12:00:00.000Z",
    "uri": "an absolute URI with a scheme, such as https://github.com/org/repo",
}
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_short = reprlib.Repr()
_short.maxstring = 80
_short.maxother = 80
_short.maxdict = 4
_short.maxlist = 4
_short.maxlevel = 2


def render_path(path: Sequence[str | int]) -> str:
    """``['outputs', 0, 'facets', 'my.facet']`` → ``outputs[0].facets["my.facet"]``; ``[]`` → ``event``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _IDENT.match(part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part)}]"
    return out or "event"


def leaf_errors(error: ValidationError) -> Iterator[ValidationError]:
    """Flatten anyOf/oneOf wrappers to the errors a person can act on."""
    if not error.context:
        yield error
        return
    branches = {e.relative_schema_path[0] for e in error.context if e.relative_schema_path}
    if len(branches) == 1:
        for child in error.context:
            yield from leaf_errors(child)
    else:
        chosen = best_match(error.context)
        yield from (leaf_errors(chosen) if chosen is not None else iter((error,)))


def describe(error: ValidationError) -> str:
    keyword, value, instance = error.validator, error.validator_value, error.instance
    if keyword == "format":
        hint = _FORMAT_HINTS.get(str(value))
        base = f"{_short.repr(instance)} is not a {value!r}"
        return f"{base} (expected {hint})" if hint else base
    if keyword == "type":
        return f"{_short.repr(instance)} is not of type {value!r}"
    if keyword == "enum":
        return f"{_short.repr(instance)} is not one of {value!r}"
    if keyword == "not" and isinstance(value, dict) and list(value) == ["required"]:
        return f"must not have all of {value['required']!r} together"
    if keyword == "not":
        return f"must not be valid under {_short.repr(value)}"
    message = error.message
    return message if len(message) <= 300 else message[:297] + "..."


def path_key(path: Sequence[str | int]) -> tuple[tuple[int, int, str], ...]:
    return tuple((0, p, "") if isinstance(p, int) else (1, 0, p) for p in path)
