"""The compliance API over HTTP: catalogs, coverage, mappings, organisation catalogs, bad input."""

from __future__ import annotations

from charter.context import install_shipped
from charter.ledger.pack import verify_pack
from charter.ledger.signing import load_or_create_signer
from tests.compliance.helpers import ACME, setup_acme
from tests.conftest import Actors, ClientFor


def test_frameworks_list_counts_assessable_requirements(client_for: ClientFor, actors: Actors) -> None:
    install_shipped(actors.ctx("admin"))
    rows = {r["id"]: r for r in client_for("viewer").get("/api/v1/compliance/frameworks").json()}
    assert rows["nist-ai-rmf-1.0"]["requirements"] == 72
    assert rows["owasp-llm-2025"]["requirements"] == 10
    assert rows["iso-iec-42001"]["requirements"] == 38
    assert rows["nist-ai-600-1"]["requirements"] == 12


def test_coverage_and_gaps_over_http(client_for: ClientFor, actors: Actors) -> None:
    setup_acme(actors.ctx("admin"))
    c = client_for("auditor")
    body = c.get("/api/v1/compliance/systems/chatbot/coverage", params={"framework": "acme-ai-policy"}).json()
    assert body["counts"] == {"met": 0, "partial": 1, "missing": 2, "not_applicable": 0}
    assert [r["id"] for r in body["requirements"]] == ["P1.1", "P1.2", "P1.3"]
    gaps = c.get("/api/v1/compliance/systems/chatbot/gaps", params={"framework": "acme-ai-policy"}).json()
    assert len(gaps["requirements"]) == 3
    detail = c.get("/api/v1/compliance/requirement", params={"ref": "acme-ai-policy:P1.1"}).json()
    assert detail["mappings"][0]["control"] == "sop:ethical-review/roles-clear" and detail["mappings"][0]["edited"]


def test_unknown_framework_is_a_404_naming_the_known_ones(client_for: ClientFor, actors: Actors) -> None:
    setup_acme(actors.ctx("admin"))
    r = client_for("auditor").get("/api/v1/compliance/systems/chatbot/coverage", params={"framework": "eu-act"})
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    assert "unknown framework 'eu-act'; known: acme-ai-policy, eu-ai-act" in r.json()["detail"]


def test_mapping_to_a_missing_requirement_is_refused_and_nothing_is_stored(
    client_for: ClientFor, actors: Actors
) -> None:
    install_shipped(actors.ctx("admin"))
    c = client_for("governance")
    body = {"control": "alert:accuracy-low", "requirement": "eu-ai-act:Art. 1000", "relation": "satisfies",
            "reason": "typo"}  # fmt: skip
    r = c.put("/api/v1/compliance/mappings", json=body)
    assert r.status_code == 422
    assert "no requirement 'Art. 1000' in framework 'eu-ai-act'; did you mean" in r.json()["detail"]
    assert c.get("/api/v1/compliance/mappings", params={"control": "alert:accuracy-low"}).json() == [
        m
        for m in c.get("/api/v1/compliance/mappings", params={"control": "alert:accuracy-low"}).json()
        if not m["edited"]
    ]
    assert client_for("viewer").put("/api/v1/compliance/mappings", json=body).status_code == 403


def test_a_malformed_custom_catalog_is_refused_with_line_numbers(client_for: ClientFor, actors: Actors) -> None:
    install_shipped(actors.ctx("admin"))
    c = client_for("governance")
    bad = ACME.replace("kind: requirement, assessable: true}", "kind: paragraph, assessable: true}", 1)
    bad = bad.replace("parent: P1, kind: requirement", "parent: P9, kind: requirement", 1)
    r = c.post("/api/v1/compliance/frameworks", json={"filename": "acme.yaml", "content": bad})
    assert r.status_code == 422
    errors = r.json()["errors"]
    assert {k: errors[0][k] for k in ("file", "line", "field")} == {
        "file": "acme.yaml",
        "line": 10,
        "field": "requirements[1].kind",
    }
    assert "Input should be 'function'" in errors[0]["msg"]
    r = c.post("/api/v1/compliance/frameworks", json={"filename": "acme.yaml", "content": "id: [x\n"})
    assert r.status_code == 422 and r.json()["errors"][0]["line"] == 1 and "not valid YAML" in r.json()["detail"]
    ids = [f["id"] for f in c.get("/api/v1/compliance/frameworks").json()]
    assert "acme-ai-policy" not in ids
    ok = c.post("/api/v1/compliance/frameworks", json={"filename": "acme.yaml", "content": ACME})
    assert ok.status_code == 201 and ok.json()["requirements"] == 3
    again = c.post("/api/v1/compliance/frameworks", json={"filename": "acme.yaml", "content": ACME})
    assert again.status_code == 409 and "send its version" in again.json()["detail"]


def test_a_pack_is_downloaded_as_a_zip_that_verifies(client_for: ClientFor, actors: Actors) -> None:
    setup_acme(actors.ctx("admin"))
    r = client_for("auditor").get("/api/v1/compliance/systems/chatbot/pack", params={"framework": "acme-ai-policy"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    key = load_or_create_signer(actors.settings.ledger_key_path).public_key
    assert verify_pack(r.content, key).ok
    assert client_for("viewer").get("/api/v1/compliance/systems/chatbot/pack",
                                    params={"framework": "acme-ai-policy"}).status_code == 403  # fmt: skip
