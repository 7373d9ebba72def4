"""Evidence type detection trusts content and extension together, never the client's header."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from charter.evidence.rules import check_allowed, detect_type, is_expired, safe_filename
from charter.kit.errors import ValidationFailed

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
ZIP = b"PK\x03\x04\x14\x00\x06\x00"


@pytest.mark.parametrize(
    ("head", "name", "expected"),
    [
        (PDF, "Bias_Testing_Report_v2.pdf", "application/pdf"),
        (PNG, "chart.png", "image/png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "photo.JPG", "image/jpeg"),
        (b"# Appeal process\n\nUsers can appeal.", "Appeal_Process_Documentation.md", "text/markdown"),
        (b"group,rate\na,0.91\n", "metrics.csv", "text/csv"),
        (b'{"accuracy": 0.92}', "eval.json", "application/json"),
        (b"plain words", "notes", "text/plain"),
        ("\u00dcberpr\u00fcfung \u2013 ok".encode(), "notes.txt", "text/plain"),
        (ZIP, "model-card.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        (ZIP, "results.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (b"\x7fELF\x02\x01\x01", "tool", "application/x-executable"),
        (b"\x00\x01\x02\x03binary", "blob", "application/octet-stream"),
    ],
)
def test_type_is_detected_from_content_and_extension(head: bytes, name: str, expected: str) -> None:
    assert detect_type(head, name) == expected


def test_a_multibyte_character_cut_at_the_end_of_the_head_is_still_text() -> None:
    head = ("a" * 10).encode() + "€".encode()[:2]
    assert detect_type(head, "x.txt") == "text/plain"


@pytest.mark.parametrize(
    ("head", "name", "says"),
    [
        (b"MZ\x90\x00\x03", "report.pdf", "its content is application/x-msdownload"),
        (PNG, "report.pdf", "its content is image/png"),
        (b"just text", "report.pdf", "its content is plain text"),
        (b"\x00\x01garbage", "report.pdf", "not recognisable"),
        (b"just text", "model-card.docx", "its content is plain text"),
    ],
)
def test_an_extension_that_contradicts_the_content_is_refused(head: bytes, name: str, says: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        detect_type(head, name)
    assert says in exc.value.detail and name in exc.value.detail


def test_a_type_not_in_the_allowed_list_is_refused_naming_the_allowed_ones() -> None:
    check_allowed("application/pdf", "a.pdf", ["application/pdf"])
    with pytest.raises(ValidationFailed) as exc:
        check_allowed("text/html", "page.html", ["application/pdf", "text/plain"])
    assert "text/html" in exc.value.detail and "application/pdf, text/plain" in exc.value.detail


def test_expiry_is_inclusive_of_the_instant() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert not is_expired(None, now)
    assert not is_expired(now + timedelta(seconds=1), now)
    assert is_expired(now, now)


def test_a_file_name_loses_its_path_and_header_breaking_characters() -> None:
    assert safe_filename("../../etc/passwd") == "passwd"
    assert safe_filename('C:\\Users\\x\\re"port;.pdf') == "report.pdf"
    assert safe_filename("") == "evidence"
