"""Reading datasets into columns: CSV (stdlib csv), JSON Lines (stdlib json), Parquet (pyarrow).

Used by the server for uploaded files and by the SDK / CLI to build profiles locally. Every error says the
line (or part) of the file that is wrong.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Final

import pyarrow.parquet as pq

from charter.monitoring.drift.profiles import ProfileError

FORMATS: Final = ("csv", "jsonl", "parquet")
_EXTENSIONS: Final = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet"}
_CONTENT_TYPES: Final = {
    "text/csv": "csv",
    "application/jsonl": "jsonl",
    "application/x-ndjson": "jsonl",
    "application/x-jsonlines": "jsonl",
    "application/vnd.apache.parquet": "parquet",
}


def detect_format(filename: str | None, content_type: str | None, data: bytes, explicit: str | None = None) -> str:
    if explicit:
        if explicit not in FORMATS:
            raise ProfileError(f"format must be one of {', '.join(FORMATS)}, not {explicit!r}")
        return explicit
    if data[:4] == b"PAR1":
        return "parquet"
    if filename:
        fmt = _EXTENSIONS.get(Path(filename).suffix.lower())
        if fmt:
            return fmt
    if content_type:
        fmt = _CONTENT_TYPES.get(content_type.split(";")[0].strip().lower())
        if fmt:
            return fmt
    raise ProfileError(
        f"cannot tell the file's format from its name {filename!r}; name it .csv, .jsonl or .parquet "
        "or pass format=csv|jsonl|parquet"
    )


def read_columns(data: bytes, fmt: str) -> dict[str, Any]:
    """The file's columns (name -> values). Raises ProfileError for empty or malformed files."""
    if not data.strip():
        raise ProfileError("the file is empty")
    if fmt == "csv":
        return read_csv(data)
    if fmt == "jsonl":
        return read_jsonl(data)
    if fmt == "parquet":
        return read_parquet(data)
    raise ProfileError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ProfileError(f"the file is not UTF-8 text (byte {exc.start}); save it as UTF-8") from None


def read_csv(data: bytes) -> dict[str, list[str]]:
    reader = csv.reader(io.StringIO(_text(data), newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise ProfileError("the file is empty") from None
    except csv.Error as exc:
        raise ProfileError(f"line 1 is not valid CSV: {exc}") from None
    names = [h.strip() for h in header]
    if not any(names):
        raise ProfileError("line 1 must be a header with column names")
    if any(not n for n in names):
        raise ProfileError(f"line 1: column {names.index('') + 1} has no name")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ProfileError(f"line 1: duplicate column names {', '.join(dupes)}")
    columns: list[list[str]] = [[] for _ in names]
    try:
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) != len(names):
                raise ProfileError(
                    f"line {reader.line_num} has {len(row)} fields; the header has {len(names)} ({', '.join(names)})"
                )
            for col, value in zip(columns, row, strict=True):
                col.append(value)
    except csv.Error as exc:
        raise ProfileError(f"line {reader.line_num} is not valid CSV: {exc}") from None
    if not columns[0]:
        raise ProfileError("the file has a header but no rows")
    return dict(zip(names, columns, strict=True))


def read_jsonl(data: bytes) -> dict[str, list[Any]]:
    rows: list[dict[str, Any]] = []
    for number, line in enumerate(_text(data).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise ProfileError(f"line {number} is not valid JSON: {exc}") from None
        if not isinstance(row, dict):
            raise ProfileError(f"line {number} must be a JSON object of column -> value")
        for key, value in row.items():
            if isinstance(value, dict | list):
                raise ProfileError(f"line {number}: column '{key}' holds a nested {type(value).__name__}")
        rows.append(row)
    if not rows:
        raise ProfileError("the file has no rows")
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    return {name: [row.get(name) for row in rows] for name in names}


def read_parquet(data: bytes) -> dict[str, Any]:
    try:
        table = pq.read_table(io.BytesIO(data))
    except Exception as exc:  # pyarrow raises several exception types for broken files
        raise ProfileError(f"the file is not valid Parquet: {exc}") from None
    if table.num_rows == 0:
        raise ProfileError("the file has no rows")
    out: dict[str, Any] = {}
    for name in table.column_names:
        column = table.column(name)
        try:
            out[str(name)] = column.to_numpy(zero_copy_only=False)
        except Exception:  # nested types
            raise ProfileError(f"column '{name}' has a nested type ({column.type}); flatten it first") from None
    return out


def read_file(path: str | Path, fmt: str | None = None) -> dict[str, Any]:
    p = Path(path)
    data = p.read_bytes()
    return read_columns(data, detect_format(p.name, None, data, fmt))
