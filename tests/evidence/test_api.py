"""The evidence HTTP API: multipart upload, refusals that say why, download, links."""

from __future__ import annotations

import hashlib
from typing import Any

PDF = b"%PDF-1.7\nRed team findings\n"


def upload(client: Any, name: str, content: bytes, **data: str) -> Any:
    return client.post("/api/v1/evidence", files={"file": (name, content, "application/pdf")}, data=data)


def test_an_upload_is_typed_from_its_content_and_downloads_byte_for_byte(client_for: Any) -> None:
    eng = client_for("engineer")
    r = upload(eng, "Red_Team_Report_Draft.pdf", PDF, title="Red team report (draft)")
    assert r.status_code == 201, r.text
    ev = r.json()
    assert ev["sha256"] == hashlib.sha256(PDF).hexdigest() and ev["added_by"] == "engineer"
    d = client_for("auditor").get(ev["download_path"])
    assert d.status_code == 200 and d.content == PDF
    assert d.headers["content-type"] == "application/pdf" and d.headers["x-content-type-options"] == "nosniff"
    assert 'filename="Red_Team_Report_Draft.pdf"' in d.headers["content-disposition"]


def test_a_non_ascii_file_name_survives_the_download_header(client_for: Any) -> None:
    ev = upload(client_for("engineer"), "Prüfbericht.pdf", PDF).json()
    d = client_for("viewer").get(ev["download_path"])
    assert d.status_code == 200 and "filename*=UTF-8''Pr%C3%BCfbericht.pdf" in d.headers["content-disposition"]


def test_a_too_large_upload_is_refused_with_the_limit(client_for: Any, settings: Any) -> None:
    settings.evidence_max_bytes = 10
    r = upload(client_for("engineer"), "big.pdf", PDF)
    assert r.status_code == 413 and r.json()["limit"] == 10
    assert "nothing was stored" in r.json()["detail"]
    assert client_for("viewer").get("/api/v1/evidence").json()["items"] == []


def test_a_disguised_or_disallowed_file_is_refused_saying_why(client_for: Any) -> None:
    eng = client_for("engineer")
    r = upload(eng, "report.pdf", b"MZ\x90\x00 windows executable")
    assert r.status_code == 422 and "its content is application/x-msdownload" in r.json()["detail"]
    r = upload(eng, "page.html", b"<html><script>alert(1)</script></html>")
    assert r.status_code == 422 and "text/html, which is not an allowed evidence type" in r.json()["detail"]


def test_viewers_and_anonymous_callers_cannot_upload(client_for: Any) -> None:
    r = upload(client_for("viewer"), "r.pdf", PDF)
    assert r.status_code == 403 and "evidence:write" in r.json()["detail"]
    assert upload(client_for(None), "r.pdf", PDF).status_code == 401


def test_attaching_needs_both_run_and_item(client_for: Any) -> None:
    r = upload(client_for("engineer"), "r.pdf", PDF, run_id="1")
    assert r.status_code == 422 and "both run_id and item_id" in r.json()["detail"]


def test_a_link_is_evidence_without_content(client_for: Any) -> None:
    eng = client_for("engineer")
    r = eng.post("/api/v1/evidence/links", json={"url": "https://wiki.example.com/appeals", "title": "Appeals"})
    assert r.status_code == 201 and r.json()["download_path"] is None
    d = eng.get(f"/api/v1/evidence/{r.json()['id']}/content")
    assert d.status_code == 422 and "is a link" in d.json()["detail"]
    bad = eng.post("/api/v1/evidence/links", json={"url": "javascript:alert(1)", "title": "x"})
    assert bad.status_code == 422


def test_unknown_evidence_is_a_404(client_for: Any) -> None:
    r = client_for("viewer").get("/api/v1/evidence/999")
    assert r.status_code == 404 and r.json()["detail"] == "no evidence with id 999"
