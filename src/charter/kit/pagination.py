"""Keyset pagination, filtering and sorting shared by list endpoints."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute

from charter.kit.db import UTCDateTime
from charter.kit.errors import ValidationFailed

T = TypeVar("T")
MAX_LIMIT = 500


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def encode_cursor(values: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(values), default=str).encode()).decode()


def decode_cursor(cursor: str) -> list[Any]:
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise _bad_cursor() from exc
    if not isinstance(value, list) or len(value) != 2:
        raise _bad_cursor()
    return value


def _bad_cursor() -> ValidationFailed:
    msg = "the cursor is not valid; pass back next_cursor exactly as received"
    return ValidationFailed(msg, errors=[{"loc": ["query", "cursor"], "msg": msg, "type": "value_error"}])


def paginate(
    session: Any,
    stmt: Select[Any],
    *,
    sort: str,
    sortable: dict[str, InstrumentedAttribute[Any]],
    id_col: InstrumentedAttribute[Any],
    limit: int,
    cursor: str | None,
) -> tuple[list[Any], str | None]:
    """Order by (sort column, id) and return one page plus the cursor of the next one.

    sort is a column name, prefixed with '-' for descending.
    """
    desc = sort.startswith("-")
    name = sort.removeprefix("-")
    if name not in sortable:
        msg = f"cannot sort by '{name}'; allowed: {', '.join(sorted(sortable))} (prefix '-' for descending)"
        raise ValidationFailed(msg, errors=[{"loc": ["query", "sort"], "msg": msg, "type": "value_error"}])
    if not 1 <= limit <= MAX_LIMIT:
        msg = f"limit must be between 1 and {MAX_LIMIT}"
        raise ValidationFailed(msg, errors=[{"loc": ["query", "limit"], "msg": msg, "type": "value_error"}])
    col = sortable[name]
    if cursor:
        last_value, last_id = decode_cursor(cursor)
        # The cursor comes from the client: check its types so a forged one is a 422, never a 500.
        if isinstance(last_id, bool) or not isinstance(last_id, int) or not isinstance(last_value, str | int):
            raise _bad_cursor()
        if not -(2**63) <= last_id < 2**63 or (isinstance(last_value, int) and not -(2**63) <= last_value < 2**63):
            raise _bad_cursor()
        if isinstance(col.type, UTCDateTime):
            try:
                last_value = datetime.fromisoformat(str(last_value))
            except ValueError as exc:
                raise _bad_cursor() from exc
        elif (expected := _python_type(col)) in (str, int) and not isinstance(last_value, expected):
            raise _bad_cursor()
        if desc:
            stmt = stmt.where(or_(col < last_value, and_(col == last_value, id_col < last_id)))
        else:
            stmt = stmt.where(or_(col > last_value, and_(col == last_value, id_col > last_id)))
    order = (col.desc(), id_col.desc()) if desc else (col.asc(), id_col.asc())
    rows = list(session.execute(stmt.order_by(*order).limit(limit + 1)).scalars())
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        value = getattr(last, col.key)
        next_cursor = encode_cursor(
            [value.isoformat() if hasattr(value, "isoformat") else value, getattr(last, id_col.key)]
        )
    return rows, next_cursor


def _python_type(col: InstrumentedAttribute[Any]) -> type | None:
    try:
        return col.type.python_type  # type: ignore[no-any-return]
    except NotImplementedError:
        return None
