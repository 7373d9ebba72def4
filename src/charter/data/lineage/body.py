"""Request bodies for the lineage endpoints: bytes (optionally gzip) → parsed JSON, with limits.

The openlineage-python HTTP transport sends ``Content-Type: application/json`` and, with ``compression: gzip``,
``Content-Encoding: gzip`` (one gzip member, level 3). Nothing else is accepted as an encoding.
"""

from __future__ import annotations

import json
import zlib
from typing import cast

from charter.data.lineage.errors import LineageBodyError

DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024


def decode_body(raw: bytes, *, content_encoding: str | None = None, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> object:
    """Request bytes → parsed JSON. Handles ``Content-Encoding: gzip`` (what the client sends with compression on)
    with a decompressed-size cap, UTF-8 (BOM tolerated), and refuses NaN/Infinity and over-deep nesting."""
    encoding = (content_encoding or "identity").strip().lower()
    if encoding in ("gzip", "x-gzip"):
        data = _gunzip(raw, max_bytes)
    elif encoding in ("identity", ""):
        data = raw
    else:
        raise LineageBodyError(f"Content-Encoding {encoding!r} is not supported; allowed: identity, gzip")
    if len(data) > max_bytes:
        raise LineageBodyError(f"the body is {len(data)} bytes; the limit is {max_bytes} bytes")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise LineageBodyError(f"the body is not UTF-8: invalid byte at offset {error.start}") from None
    try:
        return cast(object, json.loads(text, parse_constant=_reject_constant))
    except json.JSONDecodeError as error:
        raise LineageBodyError(
            f"the body is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    except RecursionError:
        raise LineageBodyError("the body is nested too deeply to be an OpenLineage event") from None


def _gunzip(raw: bytes, max_bytes: int) -> bytes:
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        data = decompressor.decompress(raw, max_bytes + 1)
    except zlib.error as error:
        raise LineageBodyError(f"the body says Content-Encoding: gzip but is not valid gzip ({error})") from None
    if len(data) > max_bytes or decompressor.unconsumed_tail:
        raise LineageBodyError(f"the gzip body inflates past the limit of {max_bytes} bytes")
    if not decompressor.eof:
        raise LineageBodyError("the gzip body is truncated")
    if decompressor.unused_data:
        raise LineageBodyError("the gzip body has trailing data after the first gzip member")
    return data


def _reject_constant(name: str) -> object:
    raise LineageBodyError(f"the body contains {name}, which is not valid JSON; send numbers or null")


def json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__
