"""The audit API: read, checkpoint, verify, export; and who may do which."""

from __future__ import annotations

import json
from pathlib import Path

from charter.ledger.export import verify_export
from tests.conftest import Actors, ClientFor
from tests.ledger.conftest import build_chain, edit

SYSTEM = {"key": "fraud-detector", "name": "Fraud detector", "deployment_type": "in_house_model"}


def test_a_viewer_cannot_read_the_audit_trail(client_for: ClientFor) -> None:
    r = client_for("viewer").get("/api/v1/audit/entries")
    assert r.status_code == 403
    assert r.headers["content-type"] == "application/problem+json"
    assert "audit:read" in r.json()["detail"]
    assert client_for("viewer").post("/api/v1/audit/verify").status_code == 403
    assert client_for("viewer").get("/api/v1/audit/export").status_code == 403


def test_an_auditor_sees_a_change_in_the_trail_and_can_fetch_it(client_for: ClientFor) -> None:
    assert client_for("engineer").post("/api/v1/systems", json=SYSTEM).status_code == 201
    auditor = client_for("auditor")
    page = auditor.get("/api/v1/audit/entries", params={"entity_type": "system", "entity_id": "fraud-detector"})
    assert page.status_code == 200
    [entry] = page.json()["items"]
    assert (entry["action"], entry["actor"], entry["after"]["name"]) == (
        "system.registered",
        "user:engineer",
        "Fraud detector",
    )
    one = auditor.get(f"/api/v1/audit/entries/{entry['seq']}")
    assert one.json()["hash"] == entry["hash"]
    missing = auditor.get("/api/v1/audit/entries/999999")
    assert missing.status_code == 404 and "999999" in missing.json()["detail"]


def test_checkpoints_are_created_by_governance_and_read_by_auditors(client_for: ClientFor, actors: Actors) -> None:
    auditor = client_for("auditor")
    none_yet = auditor.get("/api/v1/audit/checkpoints/latest")
    assert none_yet.status_code == 404 and "POST /api/v1/audit/checkpoints" in none_yet.json()["detail"]
    denied = client_for("engineer").post("/api/v1/audit/checkpoints")
    assert denied.status_code == 403 and "audit:checkpoint" in denied.json()["detail"]
    assert auditor.post("/api/v1/audit/checkpoints").status_code == 403
    build_chain(actors.ctx("engineer"), 3)
    made = client_for("governance").post("/api/v1/audit/checkpoints")
    assert made.status_code == 201
    assert made.json()["size"] >= 3
    assert auditor.get("/api/v1/audit/checkpoints/latest").json() == made.json()


def test_an_auditor_verifies_the_ledger_and_sees_the_first_broken_entry(client_for: ClientFor, actors: Actors) -> None:
    build_chain(actors.ctx("engineer"), 6)
    auditor = client_for("auditor")
    ok = auditor.post("/api/v1/audit/verify")
    assert ok.status_code == 200, ok.text
    body = ok.json()
    assert body["ok"] is True and body["problem"] is None
    size = body["size"]
    assert body["entries_checked"] == size >= 6
    edit(actors.session, size - 2, reason="edited later")
    actors.session.commit()
    broken = auditor.post("/api/v1/audit/verify").json()
    assert broken["ok"] is False
    assert broken["problem"]["seq"] == size - 2 and broken["problem"]["kind"] == "hash_mismatch"


def test_verify_takes_an_external_checkpoint_and_refuses_a_malformed_one(client_for: ClientFor, actors: Actors) -> None:
    build_chain(actors.ctx("engineer"), 2)
    kept = client_for("governance").post("/api/v1/audit/checkpoints").json()
    auditor = client_for("auditor")
    ok = auditor.post("/api/v1/audit/verify", json={"checkpoint": kept}).json()
    assert ok["ok"] is True and ok["external_checkpoint"]["size"] == kept["size"]
    forged = dict(kept, size=kept["size"] - 1)
    bad = auditor.post("/api/v1/audit/verify", json={"checkpoint": forged}).json()
    assert bad["ok"] is False and bad["problem"]["kind"] == "external_checkpoint_signature"
    malformed = auditor.post("/api/v1/audit/verify", json={"checkpoint": dict(kept, head_hash="nope")})
    assert malformed.status_code == 422
    assert malformed.headers["content-type"] == "application/problem+json"


def test_an_auditor_exports_the_ledger_as_json_lines_that_verify_offline(
    client_for: ClientFor, actors: Actors, tmp_path: Path
) -> None:
    build_chain(actors.ctx("engineer"), 5)
    r = client_for("auditor").get("/api/v1/audit/export")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/x-ndjson")
    assert "attachment" in r.headers["content-disposition"]
    lines = r.text.splitlines()
    assert json.loads(lines[0])["format"] == "charter-ledger-export"
    path = tmp_path / "download.jsonl"
    path.write_text(r.text, encoding="utf-8")
    result = verify_export(path)
    assert result.ok, result.problem
    assert result.entries_checked >= 5
    assert client_for("engineer").get("/api/v1/audit/export").status_code == 403
