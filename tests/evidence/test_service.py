"""Evidence use cases on a real database: hashing, one copy per content, refusals that store nothing."""

from __future__ import annotations

import hashlib
import io
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from charter.evidence import service
from charter.evidence.models import Evidence
from charter.evidence.schemas import LinkCreate
from charter.kit.errors import PayloadTooLarge, PermissionDenied, ValidationFailed
from charter.ledger.models import LedgerEntry

PDF = b"%PDF-1.7\n" + b"bias testing across 10 demographic groups\n" * 20


def stored_files(settings: Any) -> list[Path]:
    root: Path = settings.evidence_dir
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def count(session: Any) -> int:
    return int(session.execute(select(func.count()).select_from(Evidence)).scalar_one())


def test_an_uploaded_file_is_stored_by_its_sha256_and_recorded(actors: Any) -> None:
    ctx = actors.ctx("engineer")
    ev = service.add_file(ctx, io.BytesIO(PDF), "Bias_Testing_Report_v2.pdf", title="Bias testing report")
    assert ev.sha256 == hashlib.sha256(PDF).hexdigest()
    assert (ev.kind, ev.media_type, ev.size_bytes, ev.added_by) == ("file", "application/pdf", len(PDF), "engineer")
    [path] = stored_files(actors.settings)
    assert path.name == ev.sha256 and path.read_bytes() == PDF
    entry = actors.session.execute(select(LedgerEntry).order_by(LedgerEntry.seq.desc()).limit(1)).scalar_one()
    assert (entry.action, entry.entity_id) == ("evidence.added", str(ev.id))


def test_the_same_content_twice_is_two_evidence_records_but_one_stored_file(actors: Any) -> None:
    ctx = actors.ctx("engineer")
    a = service.add_file(ctx, io.BytesIO(PDF), "report.pdf", title="first")
    b = service.add_file(actors.ctx("approver"), io.BytesIO(PDF), "copy.pdf", title="second")
    assert a.id != b.id and a.sha256 == b.sha256
    assert len(stored_files(actors.settings)) == 1
    found, _ = service.list_evidence(ctx, sha256=a.sha256)
    assert {e.title for e in found} == {"first", "second"}


def test_a_file_over_the_size_limit_is_refused_saying_the_limit_and_nothing_is_stored(actors: Any) -> None:
    actors.settings.evidence_max_bytes = 100
    with pytest.raises(PayloadTooLarge) as exc:
        service.add_file(actors.ctx("engineer"), io.BytesIO(PDF), "big.pdf")
    assert "100 bytes" in exc.value.detail and "CHARTER_EVIDENCE_MAX_BYTES" in exc.value.detail
    assert stored_files(actors.settings) == [] and count(actors.session) == 0


def test_a_disallowed_type_is_refused_before_anything_is_stored(actors: Any) -> None:
    with pytest.raises(ValidationFailed) as exc:
        service.add_file(actors.ctx("engineer"), io.BytesIO(b"\x7fELF\x02\x01\x01" + b"\0" * 50), "tool")
    assert "application/x-executable" in exc.value.detail and "not an allowed evidence type" in exc.value.detail
    assert stored_files(actors.settings) == [] and count(actors.session) == 0


def test_the_client_cannot_pass_an_executable_off_as_a_pdf(actors: Any) -> None:
    with pytest.raises(ValidationFailed) as exc:
        service.add_file(actors.ctx("engineer"), io.BytesIO(b"MZ\x90\x00" + b"\0" * 50), "Red_Team_Report.pdf")
    assert "named like application/pdf" in exc.value.detail
    assert stored_files(actors.settings) == []


def test_an_allowed_type_list_is_configurable(actors: Any) -> None:
    actors.settings.evidence_allowed_types = ["text/plain"]
    with pytest.raises(ValidationFailed):
        service.add_file(actors.ctx("engineer"), io.BytesIO(PDF), "report.pdf")
    assert service.add_file(actors.ctx("engineer"), io.BytesIO(b"notes"), "n.txt").media_type == "text/plain"


def test_an_empty_file_and_a_past_expiry_are_refused(actors: Any) -> None:
    ctx = actors.ctx("engineer")
    with pytest.raises(ValidationFailed, match="empty"):
        service.add_file(ctx, io.BytesIO(b""), "empty.txt")
    with pytest.raises(ValidationFailed, match="not in the future"):
        service.add_file(ctx, io.BytesIO(PDF), "r.pdf", expires_at=actors.clock.now() - timedelta(days=1))
    assert count(actors.session) == 0


def test_viewers_cannot_add_evidence(actors: Any) -> None:
    with pytest.raises(PermissionDenied, match="evidence:write"):
        service.add_file(actors.ctx("viewer"), io.BytesIO(PDF), "r.pdf")


def test_a_link_is_evidence_with_a_url_and_no_content(actors: Any) -> None:
    ctx = actors.ctx("engineer")
    ev = service.add_link(ctx, LinkCreate(url="https://wiki.example.com/appeals", title="Appeal process"))
    read = service.read_evidence(ctx, ev.id)
    assert (read.kind, read.url, read.sha256, read.download_path) == (
        "link",
        "https://wiki.example.com/appeals",
        None,
        None,
    )
    with pytest.raises(ValidationFailed, match="is a link"):
        service.open_content(ctx, ev.id)


def test_evidence_reads_as_expired_once_its_expiry_passes(actors: Any) -> None:
    ctx = actors.ctx("engineer")
    ev = service.add_file(ctx, io.BytesIO(PDF), "soc2.pdf", expires_at=actors.clock.now() + timedelta(days=30))
    assert service.read_evidence(ctx, ev.id).expired is False
    actors.clock.advance(days=31)
    assert service.read_evidence(ctx, ev.id).expired is True
    assert [e.id for e in service.list_evidence(ctx, expired=True)[0]] == [ev.id]
    assert service.list_evidence(ctx, expired=False)[0] == []
