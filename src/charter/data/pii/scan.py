"""Streamed PII scanning of text, CSV and JSON Lines files of any size, in bounded memory.

Records are read in batches (one detector pass per batch and, for CSV/JSONL, per column or field so that the column
name counts as context) and yielded in file order. A problem (binary or mis-encoded input, a line over the limit,
invalid CSV or JSON, an unknown field) raises a :class:`ScanError` naming the line; the records yielded before it
are complete, and nothing after it is claimed: ``ScanError.records`` says how many were scanned.

Offsets: for text, into the line (without its line break); for CSV and JSONL, into the field's value (the decoded
string, not its quoted or escaped form). JSONL lines are ``{"line": N, "spans": [...]}`` with N the physical line
where the record starts (CSV: the header is line 1); spans carry ``field`` when a record has several fields.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal, Protocol

from charter.data.pii.errors import (
    BinaryFileError,
    CsvFormatError,
    EncodingError,
    JsonlFormatError,
    LineTooLongError,
    ScanError,
    UnknownFieldError,
    UnknownFormatError,
)
from charter.data.pii.spans import Span

Format = Literal["text", "csv", "jsonl"]
FORMATS: tuple[Format, ...] = ("text", "csv", "jsonl")
DEFAULT_MAX_LINE_BYTES = 1 << 20
#: characters of text handed to the detectors at once (memory stays a small multiple of this)
BATCH_CHARS = 256_000
BATCH_RECORDS = 4096
_EXTENSIONS: dict[str, Format] = {".csv": "csv", ".tsv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


class SpanFinder(Protocol):
    """What the scanner needs: :class:`charter.data.pii.detectors.Detector` or :class:`...nlp.Analyzer`."""

    def find_many(
        self, texts: Sequence[str], *, context: Sequence[str] = (), threshold: float | None = None
    ) -> list[list[Span]]: ...


@dataclass(frozen=True, slots=True)
class FieldSpans:
    """The spans found in one field of a record (``field`` is None for a text line)."""

    field: str | None
    text: str
    spans: tuple[Span, ...]


@dataclass(frozen=True, slots=True)
class ScanRecord:
    """One record (a text line, a CSV row, a JSON Lines object) and the fields in which PII was found."""

    line: int
    fields: tuple[FieldSpans, ...] = ()

    @property
    def spans(self) -> list[Span]:
        return [s for f in self.fields for s in f.spans]

    def to_json(self, *, with_field: bool) -> dict[str, Any]:
        spans = []
        for f in self.fields:
            for s in f.spans:
                item: dict[str, Any] = s.to_dict()
                if with_field and f.field is not None:
                    item["field"] = f.field
                spans.append(item)
        return {"line": self.line, "spans": spans}


@dataclass
class ScanSummary:
    records: int = 0
    records_with_pii: int = 0
    spans: int = 0
    entities: dict[str, int] = field(default_factory=dict)
    not_looked_for: tuple[str, ...] = ()

    def add(self, record: ScanRecord) -> None:
        self.records += 1
        spans = record.spans
        if spans:
            self.records_with_pii += 1
            self.spans += len(spans)
            for s in spans:
                self.entities[s.entity] = self.entities.get(s.entity, 0) + 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "records_with_pii": self.records_with_pii,
            "spans": self.spans,
            "entities": dict(sorted(self.entities.items())),
            "not_looked_for": list(self.not_looked_for),
        }


def detect_format(path: str | Path) -> Format:
    """csv for .csv/.tsv, jsonl for .jsonl/.ndjson, text otherwise."""
    return _EXTENSIONS.get(Path(path).suffix.lower(), "text")


class Scanner:
    """Scans a binary stream as ``text``, ``csv`` or ``jsonl``. ``max_line_bytes`` bounds a physical line."""

    def __init__(
        self,
        finder: SpanFinder,
        *,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        encoding: str = "utf-8",
        threshold: float | None = None,
        delimiter: str = ",",
    ) -> None:
        if max_line_bytes < 1:
            raise ScanError(f"max_line_bytes must be at least 1, got {max_line_bytes}")
        self.finder = finder
        self.max_line_bytes = max_line_bytes
        self.encoding = encoding
        self.threshold = threshold
        self.delimiter = delimiter

    def scan(
        self, stream: IO[bytes], *, fmt: str = "text", field: str | None = None, name: str = "<input>"
    ) -> Iterator[ScanRecord]:
        if fmt not in FORMATS:
            raise UnknownFormatError(f"unknown format {fmt!r}; allowed: {', '.join(FORMATS)}")
        if fmt == "text":
            if field is not None:
                raise UnknownFieldError(f"{name}: --field applies to csv and jsonl input, not to plain text")
            return self._text(stream, name)
        if fmt == "csv":
            return self._csv(stream, field, name)
        return self._jsonl(stream, field, name)

    def scan_path(self, path: str | Path, *, fmt: str | None = None, field: str | None = None) -> Iterator[ScanRecord]:
        """Open and scan a file (format from its extension unless given); the file is closed when done."""
        with open(path, "rb") as stream:
            yield from self.scan(stream, fmt=fmt or detect_format(path), field=field, name=str(path))

    # --- physical lines ---------------------------------------------------------------------------------------
    def _lines(self, stream: IO[bytes], name: str, counter: list[int]) -> Iterator[tuple[int, str]]:
        """(line number, decoded line without its break); counter[0] is the last line read."""
        limit = self.max_line_bytes
        number = 0
        while True:
            raw = stream.readline(limit + 2)
            if not raw:
                return
            number += 1
            counter[0] = number
            content = raw[:-1] if raw.endswith(b"\n") else raw
            if content.endswith(b"\r"):
                content = content[:-1]
            if len(content) > limit:
                raise LineTooLongError(
                    f"{name}: line {number} is longer than the limit of {limit} bytes; raise the limit "
                    "(--max-line-bytes) or split the line",
                    line=number,
                )
            if b"\x00" in content:
                raise BinaryFileError(
                    f"{name}: line {number} contains a NUL byte: this is a binary file (or UTF-16/32 text, which "
                    "needs --encoding); only text, CSV and JSON Lines can be scanned",
                    line=number,
                )
            try:
                text = content.decode(self.encoding)
            except UnicodeDecodeError as exc:
                raise EncodingError(
                    f"{name}: line {number} is not valid {self.encoding} (byte 0x{content[exc.start]:02x} at byte "
                    f"{exc.start + 1} of the line); re-encode the file or pass its encoding (--encoding)",
                    line=number,
                ) from exc
            except LookupError as exc:
                raise EncodingError(f"unknown encoding {self.encoding!r}") from exc
            if number == 1 and text.startswith("\ufeff"):
                text = text[1:]
            yield number, text

    # --- text ---------------------------------------------------------------------------------------------------
    def _text(self, stream: IO[bytes], name: str) -> Iterator[ScanRecord]:
        counter = [0]
        scanned = 0
        key: list[str | None] = [None]  # inside a PEM private key block started on an earlier line: its label
        batch: list[tuple[int, str]] = []
        size = 0
        try:
            for number, text in self._lines(stream, name, counter):
                batch.append((number, text))
                size += len(text)
                if size >= BATCH_CHARS or len(batch) >= BATCH_RECORDS:
                    for record in self._text_batch(batch, key):
                        yield record
                        scanned += 1
                    batch, size = [], 0
            for record in self._text_batch(batch, key):
                yield record
                scanned += 1
        except ScanError as exc:
            exc.records = scanned
            raise

    def _text_batch(self, batch: list[tuple[int, str]], key: list[str | None]) -> Iterator[ScanRecord]:
        if not batch:
            return
        found = self.finder.find_many([t for _, t in batch], threshold=self.threshold)
        for (number, text), spans in zip(batch, found, strict=True):
            spans, key[0] = _private_key_lines(text, spans, key[0])
            fields = (FieldSpans(None, text, tuple(spans)),) if spans else ()
            yield ScanRecord(number, fields)

    # --- CSV ----------------------------------------------------------------------------------------------------
    def _csv(self, stream: IO[bytes], field: str | None, name: str) -> Iterator[ScanRecord]:
        counter = [0]
        scanned = 0
        lines = (text + "\n" for _, text in self._lines(stream, name, counter))
        reader = csv.reader(lines, delimiter=self.delimiter, strict=True)
        try:
            header = self._csv_row(reader, name, counter, 1)
            if header is None:
                return
            columns = list(range(len(header)))
            if field is not None:
                if field not in header:
                    raise UnknownFieldError(
                        f"{name}: no column {field!r}; the columns are: {', '.join(header)}", line=1
                    )
                columns = [header.index(field)]
            batch: list[tuple[int, list[str]]] = []
            size = 0
            while True:
                start = counter[0] + 1
                row = self._csv_row(reader, name, counter, start)
                if row is None:
                    break
                if not row:
                    continue  # a blank line is not a record
                if len(row) != len(header):
                    raise CsvFormatError(
                        f"{name}: line {start}: {len(row)} fields where the header has {len(header)}", line=start
                    )
                batch.append((start, row))
                size += sum(len(row[c]) for c in columns)
                if size >= BATCH_CHARS or len(batch) >= BATCH_RECORDS:
                    for record in self._table_batch(batch, header, columns, field is None):
                        yield record
                        scanned += 1
                    batch, size = [], 0
            for record in self._table_batch(batch, header, columns, field is None):
                yield record
                scanned += 1
        except ScanError as exc:
            exc.records = scanned
            raise

    @staticmethod
    def _csv_row(reader: Iterator[list[str]], name: str, counter: list[int], start: int) -> list[str] | None:
        try:
            return next(reader)
        except StopIteration:
            return None
        except csv.Error as exc:
            hint = ""
            if "field limit" in str(exc):
                hint = f" (Python's csv reader refuses fields over {csv.field_size_limit()} characters: scan as text)"
            raise CsvFormatError(f"{name}: line {start}: invalid CSV: {exc}{hint}", line=start) from exc

    def _table_batch(
        self, batch: list[tuple[int, list[str]]], header: list[str], columns: list[int], named: bool
    ) -> Iterator[ScanRecord]:
        per_row: list[list[FieldSpans]] = [[] for _ in batch]
        for c in columns:
            values = [row[c] for _, row in batch]
            found = self.finder.find_many(values, context=[header[c]], threshold=self.threshold)
            for i, spans in enumerate(found):
                if spans:
                    per_row[i].append(FieldSpans(header[c] if named else None, values[i], tuple(spans)))
        for (start, _), fields in zip(batch, per_row, strict=True):
            yield ScanRecord(start, tuple(fields))

    # --- JSON Lines ---------------------------------------------------------------------------------------------
    def _jsonl(self, stream: IO[bytes], field: str | None, name: str) -> Iterator[ScanRecord]:
        counter = [0]
        scanned = 0
        seen_field = False
        keys_seen: set[str] = set()
        batch: list[tuple[int, list[tuple[str, str]]]] = []
        size = 0
        path = field.split(".") if field is not None else None
        try:
            for number, text in self._lines(stream, name, counter):
                if not text.strip():
                    continue
                try:
                    value = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise JsonlFormatError(
                        f"{name}: line {number}, column {exc.colno}: invalid JSON: {exc.msg}", line=number
                    ) from exc
                if path is not None:
                    if not isinstance(value, dict):
                        raise JsonlFormatError(
                            f"{name}: line {number} is a JSON {type(value).__name__}, not an object: --field "
                            "needs one object per line",
                            line=number,
                        )
                    keys_seen.update(value)
                    leaf = _lookup(value, path)
                    leaves = [(field or "", leaf)] if isinstance(leaf, str) else []
                    if leaf is not _MISSING:
                        seen_field = True
                        if isinstance(leaf, int) and not isinstance(leaf, bool):
                            leaves = [(field or "", str(leaf))]
                else:
                    leaves = list(_leaves(value, ""))
                batch.append((number, leaves))
                size += sum(len(v) for _, v in leaves)
                if size >= BATCH_CHARS or len(batch) >= BATCH_RECORDS:
                    for record in self._leaf_batch(batch, named=path is None):
                        yield record
                        scanned += 1
                    batch, size = [], 0
            for record in self._leaf_batch(batch, named=path is None):
                yield record
                scanned += 1
            if path is not None and scanned and not seen_field:
                raise UnknownFieldError(
                    f"{name}: no record has a field {field!r}; top-level fields seen: "
                    f"{', '.join(sorted(keys_seen)) or '(none)'}"
                )
        except ScanError as exc:
            exc.records = scanned
            raise

    def _leaf_batch(self, batch: list[tuple[int, list[tuple[str, str]]]], *, named: bool) -> Iterator[ScanRecord]:
        groups: dict[str, list[tuple[int, str]]] = {}
        for i, (_, leaves) in enumerate(batch):
            for key, value in leaves:
                groups.setdefault(key, []).append((i, value))
        per_record: list[list[FieldSpans]] = [[] for _ in batch]
        for key, items in groups.items():
            context = [key.rsplit(".", 1)[-1].split("[", 1)[0]] if key else []
            found = self.finder.find_many([v for _, v in items], context=context, threshold=self.threshold)
            for (i, value), spans in zip(items, found, strict=True):
                if spans:
                    per_record[i].append(FieldSpans(key if named else None, value, tuple(spans)))
        for (number, _), fields in zip(batch, per_record, strict=True):
            yield ScanRecord(number, tuple(fields))


_MISSING = object()


def _lookup(value: dict[str, Any], path: list[str]) -> Any:
    current: Any = value
    for part in path:
        if not isinstance(current, dict) or part not in current:
            return _MISSING
        current = current[part]
    return current


def _leaves(value: Any, prefix: str) -> Iterator[tuple[str, str]]:
    """(dotted path, text) of the strings and integers in a JSON value."""
    if isinstance(value, str):
        yield prefix, value
    elif isinstance(value, bool) or value is None or isinstance(value, float):
        return
    elif isinstance(value, int):
        yield prefix, str(value)
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaves(v, f"{prefix}[{i}]")


def _private_key_lines(text: str, spans: list[Span], in_key: str | None) -> tuple[list[Span], str | None]:
    """A PEM private key spans lines: once its BEGIN line is seen, every line up to its END line is SECRET."""
    if in_key is not None:
        end = text.find(f"-----END {in_key}-----")
        if end < 0:
            return [Span(0, len(text), "SECRET", 1.0)] if text else [], in_key
        close = end + len(f"-----END {in_key}-----")
        rest = [s for s in spans if s.start >= close]
        return [Span(0, close, "SECRET", 1.0), *rest], None
    for s in spans:
        if s.entity == "SECRET" and s.end == len(text) and text.startswith("-----BEGIN ", s.start):
            label = text[s.start + len("-----BEGIN ") :].split("-----", 1)[0]
            if f"-----END {label}-----" not in text:
                return spans, label
    return spans, None


def write_jsonl(records: Iterable[ScanRecord], out: IO[str], *, with_field: bool = True) -> ScanSummary:
    """Write one JSON line per record (the ``charter pii scan --jsonl`` contract) and return the summary. An
    error from ``records`` propagates after the lines already written: the output is then incomplete."""
    summary = ScanSummary()
    for record in records:
        out.write(json.dumps(record.to_json(with_field=with_field), separators=(",", ":")))
        out.write("\n")
        summary.add(record)
    return summary
