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

from charter.db import UTCDateTime
from charter.errors import ValidationFailed

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
        raise ValidationFailed("the cursor is not valid; pass back next_cursor exactly as received") from exc
    if not isinstance(value, list) or len(value) != 2:
        raise ValidationFailed("the cursor is not valid; pass back next_cursor exactly as received")
    return value


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
    name = sort.lstrip("-")
    if name not in sortable:
        raise ValidationFailed(
            f"cannot sort by '{name}'; allowed: {', '.join(sorted(sortable))} (prefix '-' for descending)"
        )
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(f"limit must be between 1 and {MAX_LIMIT}")
    col = sortable[name]
    if cursor:
        last_value, last_id = decode_cursor(cursor)
        if isinstance(col.type, UTCDateTime) and isinstance(last_value, str):
            try:
                last_value = datetime.fromisoformat(last_value)
            except ValueError as exc:
                raise ValidationFailed("the cursor is not valid") from exc
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
