"""Reading and writing dataset files: Charter CSV / JSON Lines, Inspect AI sample files, Langfuse dataset exports.

Formats (`fmt`):
- `csv`: columns id, input, reference, expected, choices, tags, metadata (only `input` is required). Cells: input is
  text, or a JSON array of {role, content} messages; expected is one text, or a JSON array of texts for several;
  choices a JSON array; tags comma-separated; metadata a JSON object. A blank id is the record's number.
- `jsonl`: one JSON object per line with the same fields (expected: text or list).
- `inspect_csv`, `inspect_json`, `inspect_jsonl`: Inspect AI `Sample` records (input, target, id, choices, metadata,
  description), read the way Inspect's csv_dataset / json_dataset read them; the agent fields (sandbox, files,
  setup, checkpoint) are refused. `target` is `expected`; `description` goes to metadata.
- `langfuse_json` (an array of items, or an API page {"data": [...]}), `langfuse_jsonl`: Langfuse dataset items
  (id, input, expectedOutput, metadata, status, …). ARCHIVED items are skipped unless include_archived. An object
  input needs `input_key` (which key holds the prompt) unless it is {"messages": [...]}; an object expectedOutput
  is taken at `expected_key`, or kept whole as canonical JSON text.
In Inspect and Langfuse files, reference and tags travel in metadata under the reserved key "charter".

CSV and JSON Lines are read as streams (one record at a time); a JSON array document is read whole. Every error
names the line (and the column for CSV, the item for a Langfuse API page), the field and what is allowed.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TextIO

from charter.evaluation.dataset_mapping import (
    INSPECT_FIELDS,
    LANGFUSE_FIELDS,
    FieldProblem,
    Options,
    inspect_from,
    inspect_to,
    langfuse_from,
    langfuse_to,
    native_from_cells,
    native_from_json,
    native_to_cells,
    native_to_json,
)
from charter.evaluation.datasets import FIELDS, DatasetError, DatasetVersion, Sample, make_sample

FORMATS = ("csv", "jsonl", "inspect_csv", "inspect_json", "inspect_jsonl", "langfuse_json", "langfuse_jsonl")
Record = dict[str, Any]


@dataclass(frozen=True, slots=True)
class _Located:
    line: int | None
    item: int
    record: Record
    columns: dict[str, int]


# ----------------------------------------------------------------------------- record sources


def _lines(source: TextIO | Iterable[str]) -> Iterator[str]:
    first = True
    for line in source:
        if first:
            line = line.removeprefix("\ufeff")
            first = False
        yield line


def _csv_records(source: TextIO | Iterable[str], allowed: tuple[str, ...], required: str) -> Iterator[_Located]:
    reader = csv.reader(_lines(source), strict=True)

    def rows() -> Iterator[list[str]]:
        while True:
            try:
                yield next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise DatasetError(f"malformed CSV: {exc}", line=reader.line_num) from None

    iterator = rows()
    header = next(iterator, None)
    if not header or not any(cell.strip() for cell in header):
        raise DatasetError(f"line 1 must be a header naming the columns; allowed: {', '.join(allowed)}", line=1)
    names = [cell.strip() for cell in header]
    columns: dict[str, int] = {}
    for number, name in enumerate(names, start=1):
        if name not in allowed:
            raise DatasetError(f"unknown column {name!r}; allowed columns: {', '.join(allowed)}", line=1, column=number)
        if name in columns:
            raise DatasetError(f"column {name!r} appears twice", line=1, column=number)
        columns[name] = number
    if required not in columns:
        raise DatasetError(f"the header has no {required!r} column; allowed columns: {', '.join(allowed)}", line=1)
    end, item = reader.line_num, 0
    for row in iterator:
        start, end = end + 1, reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        item += 1
        if len(row) != len(names):
            column = min(len(row), len(names)) + 1
            message = f"{len(row)} fields, the header has {len(names)}"
            raise DatasetError(message, line=start, column=column)
        yield _Located(start, item, dict(zip(names, row, strict=True)), columns)


def _jsonl_records(source: TextIO | Iterable[str]) -> Iterator[_Located]:
    item = 0
    for number, line in enumerate(_lines(source), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"invalid JSON: {exc.msg}", line=number, column=exc.colno) from None
        if not isinstance(record, dict):
            raise DatasetError("each line must hold one JSON object", line=number)
        item += 1
        yield _Located(number, item, record, {})


def _json_records(source: TextIO | Iterable[str], page_key: str | None) -> Iterator[_Located]:
    text = "".join(_lines(source))
    try:
        whole = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DatasetError(f"invalid JSON: {exc.msg}", line=exc.lineno, column=exc.colno) from None
    if isinstance(whole, dict) and page_key is not None and isinstance(whole.get(page_key), list):
        items: list[tuple[int | None, Any]] = [(None, value) for value in whole[page_key]]
    elif isinstance(whole, dict):
        items = [(1, whole)]
    elif isinstance(whole, list):
        items = list(_with_lines(text, len(whole)))
    else:
        raise DatasetError("the file must hold a JSON array of objects", line=1)
    for number, (line, record) in enumerate(items, start=1):
        if not isinstance(record, dict):
            raise DatasetError("each item must be a JSON object", line=line, item=number)
        yield _Located(line, number, record, {})


def _with_lines(text: str, count: int) -> Iterator[tuple[int | None, Any]]:
    """The elements of a top-level JSON array with the line each starts on (the text is known to be valid)."""
    decoder = json.JSONDecoder()
    at = text.index("[") + 1
    line, counted = 1, 0
    for _ in range(count):
        while text[at] in " \t\r\n,":
            at += 1
        line += text.count("\n", counted, at)
        counted = at
        value, at = decoder.raw_decode(text, at)
        yield line, value


# ----------------------------------------------------------------------------- formats


@dataclass(frozen=True)
class _Format:
    records: Callable[[TextIO | Iterable[str]], Iterator[_Located]]
    to_fields: Callable[[Record, str, Options], Record | None]
    from_sample: Callable[[Sample], Any]
    container: str  # "csv" | "jsonl" | "json"
    header: tuple[str, ...] = ()
    # which file column a Sample field's errors point at
    columns: tuple[tuple[str, str], ...] = ()


_INSPECT_COLUMNS = (("expected", "target"), ("reference", "metadata"), ("tags", "metadata"))

_FORMATS: dict[str, _Format] = {
    "csv": _Format(
        lambda s: _csv_records(s, FIELDS, "input"),
        lambda r, auto, _o: native_from_cells(r, auto),
        native_to_cells,
        "csv",
        FIELDS,
    ),
    "jsonl": _Format(_jsonl_records, lambda r, auto, _o: native_from_json(r, auto), native_to_json, "jsonl"),
    "inspect_csv": _Format(
        lambda s: _csv_records(s, INSPECT_FIELDS, "input"),
        lambda r, auto, _o: inspect_from(r, auto),
        lambda s: inspect_to(s, cells=True),
        "csv",
        ("id", "input", "target", "choices", "metadata"),
        _INSPECT_COLUMNS,
    ),
    "inspect_json": _Format(
        lambda s: _json_records(s, None),
        lambda r, auto, _o: inspect_from(r, auto),
        lambda s: inspect_to(s, cells=False),
        "json",
    ),
    "inspect_jsonl": _Format(
        _jsonl_records,
        lambda r, auto, _o: inspect_from(r, auto),
        lambda s: inspect_to(s, cells=False),
        "jsonl",
    ),
    "langfuse_json": _Format(lambda s: _json_records(s, "data"), langfuse_from, langfuse_to, "json"),
    "langfuse_jsonl": _Format(_jsonl_records, langfuse_from, langfuse_to, "jsonl"),
}


def _format(fmt: str) -> _Format:
    try:
        return _FORMATS[fmt]
    except KeyError:
        raise DatasetError(f"unknown dataset format {fmt!r}; allowed formats: {', '.join(FORMATS)}") from None


def read_samples(
    source: TextIO | Iterable[str],
    fmt: str,
    *,
    input_key: str | None = None,
    expected_key: str | None = None,
    include_archived: bool = False,
) -> Iterator[Sample]:
    """Samples from a text stream, one record at a time; DatasetError on the first bad record (nothing partial
    should be stored: collect into a DatasetVersion, which also refuses an empty file)."""
    spec = _format(fmt)
    options = Options(input_key, expected_key, include_archived)
    seen: dict[str, str] = {}
    for located in spec.records(source):
        columns = dict(located.columns)
        for field, column in spec.columns:
            if column in columns:
                columns[field] = columns[column]
        where = {"line": located.line, "item": None if located.line is not None else located.item}
        try:
            fields = spec.to_fields(located.record, str(located.item), options)
        except FieldProblem as problem:
            raise DatasetError(
                problem.message, column=columns.get(problem.field), field=problem.field, **where
            ) from None
        if fields is None:
            continue
        sample = make_sample(fields, line=located.line, columns=columns)
        if sample.id in seen:
            message = f"duplicate id {sample.id!r} (first at {seen[sample.id]}); ids must be unique"
            raise DatasetError(message, column=columns.get("id"), field="id", **where)
        seen[sample.id] = f"line {located.line}" if located.line is not None else f"item {located.item}"
        yield sample


def load_dataset(
    source: TextIO | Iterable[str],
    fmt: str,
    *,
    input_key: str | None = None,
    expected_key: str | None = None,
    include_archived: bool = False,
) -> DatasetVersion:
    """A dataset version from a file: all records valid, ids unique, at least one sample."""
    samples = read_samples(
        source, fmt, input_key=input_key, expected_key=expected_key, include_archived=include_archived
    )
    collected = tuple(samples)
    if not collected:
        raise DatasetError("the file holds no samples")
    return DatasetVersion(collected)


def write_samples(samples: Iterable[Sample], fmt: str, out: TextIO) -> int:
    """Write samples in a format; every sample is converted before the first byte is written, so a sample the
    format cannot carry (DatasetError naming it and the format that can) leaves `out` untouched. CSV rows end in
    CRLF (RFC 4180): open CSV files with newline="" for writing and reading, as the csv module asks."""
    spec = _format(fmt)
    records = [spec.from_sample(sample) for sample in samples]
    if spec.container == "csv":
        writer = csv.writer(out)  # RFC 4180: CRLF rows; a lone "\r" in a cell is quoted only then
        writer.writerow(spec.header)
        writer.writerows([[row.get(name, "") for name in spec.header] for row in records])
    elif spec.container == "jsonl":
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    else:
        out.write("[\n" + ",\n".join(json.dumps(record, ensure_ascii=False) for record in records) + "\n]\n")
    return len(records)


def format_for(filename: str) -> str | None:
    """The native format a file name suggests (.csv, .jsonl/.ndjson), or None: then the caller must say."""
    lowered = filename.lower()
    if lowered.endswith(".csv"):
        return "csv"
    if lowered.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    return None


__all__ = [
    "FORMATS",
    "LANGFUSE_FIELDS",
    "format_for",
    "load_dataset",
    "read_samples",
    "write_samples",
]
