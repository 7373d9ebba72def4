"""Streamed scanning of text, CSV and JSON Lines; the JSONL contract; clear errors; the PII audit."""

from __future__ import annotations

import io
import json
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from charter.data.pii import (
    Analyzer,
    BinaryFileError,
    CsvFormatError,
    EncodingError,
    JsonlFormatError,
    LineTooLongError,
    Scanner,
    UnknownFieldError,
    UnknownFormatError,
    audit,
    default_detector,
    write_jsonl,
)
from charter.data.pii.scan import ScanRecord, detect_format

SCANNER = Scanner(default_detector())


def scan(data: bytes, fmt: str, field: str | None = None, **kwargs: object) -> list[ScanRecord]:
    scanner = Scanner(default_detector(), **kwargs) if kwargs else SCANNER  # type: ignore[arg-type]
    return list(scanner.scan(io.BytesIO(data), fmt=fmt, field=field, name="data"))


def jsonl(records: list[ScanRecord], *, with_field: bool = True) -> list[dict[str, object]]:
    out = io.StringIO()
    write_jsonl(records, out, with_field=with_field)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_text_gives_one_jsonl_line_per_line_with_the_documented_keys() -> None:
    text = "hello\nmail bob@example.com\n\ncard 4111 1111 1111 1111 and +44 20 7946 0958\n"
    lines = jsonl(scan(text.encode(), "text"))
    assert [line["line"] for line in lines] == [1, 2, 3, 4]
    assert lines[0] == {"line": 1, "spans": []}
    assert lines[1]["spans"] == [{"start": 5, "end": 20, "entity": "EMAIL_ADDRESS", "score": 1.0}]
    assert [s["entity"] for s in lines[3]["spans"]] == ["CREDIT_CARD", "PHONE_NUMBER"]  # type: ignore[index]
    for line in lines:
        assert set(line) == {"line", "spans"}
        for span in line["spans"]:  # type: ignore[attr-defined]
            assert set(span) == {"start", "end", "entity", "score"}


def test_crlf_and_a_byte_order_mark_do_not_shift_offsets() -> None:
    (record,) = scan(b"\xef\xbb\xbfa@example.com\r\n", "text")
    assert record.spans[0].start == 0 and record.spans[0].end == 13


def test_a_private_key_block_marks_every_line_until_its_end() -> None:
    text = (
        "before\n-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nAoIBAQC7\n"
        "-----END PRIVATE KEY-----\nafter"
    )
    records = scan(text.encode(), "text")
    assert [bool(r.spans) for r in records] == [False, True, True, True, True, False]
    assert all(s.entity == "SECRET" for r in records for s in r.spans)


CSV = (
    b"id,name,email,notes\n"
    b"1,Ann,ann@example.com,call 212-736-5000\n"
    b'2,Bob,bob@example.org,"two\nlines, IBAN GB82 WEST 1234 5698 7654 32"\n'
    b"3,Cy,none,nothing here\n"
)


def test_csv_rows_carry_their_starting_line_and_offsets_into_the_field() -> None:
    records = scan(CSV, "csv")
    assert [r.line for r in records] == [2, 3, 5]  # the quoted field spans lines 3 and 4
    lines = jsonl(records)
    assert {(s["field"], s["entity"]) for s in lines[0]["spans"]} == {  # type: ignore[index, attr-defined]
        ("email", "EMAIL_ADDRESS"),
        ("notes", "PHONE_NUMBER"),
    }
    notes = next(f for f in records[1].fields if f.field == "notes")
    (span,) = notes.spans
    assert notes.text[span.start : span.end] == "GB82 WEST 1234 5698 7654 32"
    assert lines[2]["spans"] == []


def test_csv_field_scans_one_column_and_keeps_the_exact_contract() -> None:
    lines = jsonl(scan(CSV, "csv", field="email"), with_field=False)
    assert lines[0] == {"line": 2, "spans": [{"start": 0, "end": 15, "entity": "EMAIL_ADDRESS", "score": 1.0}]}
    assert all(set(s) == {"start", "end", "entity", "score"} for line in lines for s in line["spans"])  # type: ignore[attr-defined]


def test_jsonl_nested_values_and_a_dotted_field() -> None:
    data = (
        b'{"user": {"email": "eve@example.com", "phone": 2127365000}, "tags": ["x", "8.8.8.8"]}\n'
        b"\n"
        b'{"user": {"email": "no"}, "note": "SSN 536-22-1048"}\n'
    )
    records = scan(data, "jsonl")
    assert [r.line for r in records] == [1, 3]
    fields = {(f.field, s.entity) for r in records for f in r.fields for s in f.spans}
    assert fields == {
        ("user.email", "EMAIL_ADDRESS"),
        ("user.phone", "PHONE_NUMBER"),
        ("tags[1]", "IP_ADDRESS"),
        ("note", "US_SSN"),
    }
    only = scan(data, "jsonl", field="user.email")
    assert [[s.entity for s in r.spans] for r in only] == [["EMAIL_ADDRESS"], []]


def test_binary_input_is_refused_with_its_line() -> None:
    with pytest.raises(BinaryFileError, match="line 2 contains a NUL byte") as caught:
        scan(b"fine\n\x89PNG\x00\x00\x1a\n", "text")
    assert caught.value.line == 2


def test_mis_encoded_input_names_line_and_byte_and_an_encoding_can_be_given() -> None:
    data = b"ok\ncaf\xe9 ann@example.com\n"
    with pytest.raises(EncodingError, match=r"line 2 is not valid utf-8 \(byte 0xe9 at byte 4"):
        scan(data, "text")
    assert scan(data, "text", encoding="latin-1")[1].spans[0].entity == "EMAIL_ADDRESS"


def test_an_enormous_line_stops_the_scan_and_says_how_much_was_complete() -> None:
    data = b"a@example.com\nshort\n" + b"x" * 500 + b"\nnever reached\n"
    scanner = Scanner(default_detector(), max_line_bytes=100)
    seen: list[ScanRecord] = []
    with pytest.raises(LineTooLongError, match="line 3 is longer than the limit of 100 bytes") as caught:
        for record in scanner.scan(io.BytesIO(data), fmt="text"):
            seen.append(record)
    assert [r.line for r in seen] == []  # the batch holding line 3 is never yielded half-done
    assert caught.value.records == 0 and caught.value.line == 3


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'a,b\n1,"unterminated\n', "line 2: invalid CSV"),
        (b"a,b\n1,2\n3,4,5\n", "line 3: 3 fields where the header has 2"),
        (b'a,b\n1,"ab"c\n', "line 2: invalid CSV"),
    ],
)
def test_invalid_csv_names_the_line(data: bytes, message: str) -> None:
    with pytest.raises(CsvFormatError, match=message):
        scan(data, "csv")


def test_unknown_fields_and_formats_are_refused_with_what_exists() -> None:
    with pytest.raises(UnknownFieldError, match="no column 'mail'; the columns are: id, name, email, notes"):
        scan(CSV, "csv", field="mail")
    with pytest.raises(UnknownFieldError, match="no record has a field 'mail'; top-level fields seen: a"):
        scan(b'{"a": "x@example.com"}\n', "jsonl", field="mail")
    with pytest.raises(UnknownFieldError, match="not to plain text"):
        scan(b"x", "text", field="a")
    with pytest.raises(UnknownFormatError, match="allowed: text, csv, jsonl"):
        scan(b"x", "xml")


def test_invalid_json_lines_name_line_and_column() -> None:
    with pytest.raises(JsonlFormatError, match="line 2, column 7: invalid JSON"):
        scan(b'{"a": 1}\n{"b": }\n', "jsonl")
    with pytest.raises(JsonlFormatError, match="line 1 is a JSON list, not an object"):
        scan(b'["a@example.com"]\n', "jsonl", field="a")


def test_files_are_scanned_by_path_with_the_format_from_the_extension(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_bytes(CSV)
    assert detect_format(path) == "csv" and detect_format("x.ndjson") == "jsonl" and detect_format("x.log") == "text"
    assert [r.line for r in SCANNER.scan_path(path)] == [2, 3, 5]


class LazyLines(io.RawIOBase):
    """A large input generated as it is read: memory used by the scan cannot come from the input itself."""

    def __init__(self, lines: int) -> None:
        self._lines: Iterator[bytes] = (
            (
                f"row {i} some words and the contact ann{i}@example.com or 212-736-{i % 10000:04d}\n"
                if i % 7 == 0
                else f"row {i} plain words, nothing to see, just text of a moderate length here\n"
            ).encode()
            for i in range(lines)
        )
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        while len(self._pending) < len(buffer):
            chunk = next(self._lines, None)
            if chunk is None:
                break
            self._pending += chunk
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


def peak_memory(lines: int) -> tuple[int, int]:
    tracemalloc.start()
    count = 0
    for _ in SCANNER.scan(io.BufferedReader(LazyLines(lines)), fmt="text"):
        count += 1
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return count, peak


def test_memory_stays_bounded_whatever_the_input_size() -> None:
    small_count, small_peak = peak_memory(8_000)  # ~0.6 MB
    large_count, large_peak = peak_memory(32_000)  # ~2.4 MB
    assert (small_count, large_count) == (8_000, 32_000)
    # batches are bounded, and so are the detector's caches (zone shapes, context windows, phone numbers)
    assert large_peak < small_peak * 1.25 + 1_000_000, (small_peak, large_peak)


def test_the_audit_counts_per_column_and_shows_only_masked_examples() -> None:
    records = scan(CSV, "csv")
    report = audit(records, source="people.csv", fmt="csv", not_looked_for=Analyzer().not_looked_for)
    rows = {(r.column, r.entity): r for r in report.rows}
    assert set(rows) == {("email", "EMAIL_ADDRESS"), ("notes", "PHONE_NUMBER"), ("notes", "IBAN_CODE")}
    assert rows[("email", "EMAIL_ADDRESS")].count == 2 and rows[("email", "EMAIL_ADDRESS")].records == 2
    assert report.records == 3 and report.records_with_pii == 2
    rendered = json.dumps(report.to_dict()) + report.to_markdown()
    for value in ("ann@example.com", "bob@example.org", "212-736-5000", "GB82 WEST 1234 5698 7654 32"):
        assert value not in rendered
    assert "***@*******.com" in rendered  # a short local part is fully masked; the domain keeps its TLD
    assert "| email | EMAIL_ADDRESS | 2 | 2 |" in report.to_markdown()
    assert "not looked for (no NLP backend): PERSON, LOCATION" in report.to_markdown()
    assert report.to_dict()["entities"] == {"EMAIL_ADDRESS": 2, "IBAN_CODE": 1, "PHONE_NUMBER": 1}


def test_an_audit_of_a_broken_file_is_not_produced() -> None:
    with pytest.raises(CsvFormatError):
        audit(SCANNER.scan(io.BytesIO(b"a,b\n1,2\n3\n"), fmt="csv"), source="x.csv", fmt="csv")
