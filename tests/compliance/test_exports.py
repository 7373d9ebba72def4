"""Exports from the demo's data validate against the official CycloneDX 1.6 and OSCAL schemas; model cards and the
Annex IV outline are filled from the system's data; coverage on the demo is computed and explained."""

from __future__ import annotations

import json

import pytest

from charter.compliance import cards, exports, queries
from charter.compliance.validate import validate_cyclonedx, validate_oscal_assessment_results
from charter.context import Ctx
from charter.demo.seed import seed_demo
from charter.releases.queries import list_releases, read_release
from tests.conftest import Actors, ClientFor


@pytest.fixture
def demo(actors: Actors) -> Ctx:
    seed_demo(actors.ctx("admin"))
    return actors.ctx("auditor")


def test_coverage_on_the_demo_is_computed_and_explained(demo: Ctx) -> None:
    cov = queries.coverage(demo, "support-chatbot", "nist-ai-rmf-1.0")
    assert len(cov.requirements) == 72 and sum(cov.counts.values()) == 72
    met = [r for r in cov.requirements if r.status == "met"]
    assert met, cov.counts
    for row in met:
        assert row.why and (row.via or any(c.status == "met" for c in row.controls))
    with_evidence = [r for r in met if r.evidence()]
    assert with_evidence and all(e.ref and e.title for r in with_evidence for e in r.evidence())
    gates = [c for r in cov.requirements for c in r.controls if c.control.startswith("gate:") and c.status == "met"]
    assert gates and all(c.why.startswith("passed at the ") for c in gates)  # the demo's real gate evaluations
    assert all(c.evidence[0].ref.startswith("gate-evaluation:") for c in gates)
    eu = queries.coverage(demo, "support-chatbot", "eu-ai-act")
    assert all(r.why for r in eu.requirements)
    assert eu.counts["not_applicable"] > 0


def test_the_ml_bom_lists_every_release_artifact_with_its_hash_and_validates(demo: Ctx) -> None:
    doc = exports.cyclonedx(demo, "support-chatbot")
    validate_cyclonedx(doc)
    releases = [read_release(demo, "support-chatbot", r.version) for r in list_releases(demo, "support-chatbot")]
    artifacts = {(str(r.version), a.name, a.sha256) for r in releases for a in r.artifacts}
    assert artifacts and artifacts <= {
        (c["version"], c["name"], c["hashes"][0]["content"]) for c in doc["components"] if "hashes" in c
    }
    models = [c for c in doc["components"] if c["type"] == "machine-learning-model"]
    assert sorted(m["version"] for m in models) == sorted(str(r.version) for r in releases)  # a model card each
    assert all("modelCard" in m for m in models)
    assert doc == exports.cyclonedx(demo, "support-chatbot")


def test_oscal_assessment_results_carry_each_requirement_status_and_validate(demo: Ctx) -> None:
    doc = exports.oscal(demo, "support-chatbot", "owasp-llm-2025")
    validate_oscal_assessment_results(doc)
    cov = queries.coverage(demo, "support-chatbot", "owasp-llm-2025")
    findings = doc["assessment-results"]["results"][0].get("findings", [])
    applicable = [r for r in cov.requirements if r.status != "not_applicable"]
    assert [f["props"][0]["value"] for f in findings] == [r.status for r in applicable]
    satisfied = [f for f in findings if f["target"]["status"]["state"] == "satisfied"]
    assert len(satisfied) == cov.counts["met"]


def test_the_model_card_and_annex_iv_are_filled_from_the_system(demo: Ctx) -> None:
    card = cards.model_card(demo, "support-chatbot")
    md, html = card.markdown(), card.html()
    assert md.startswith("# Model card: ") and "## Releases and artifacts" in md
    release = read_release(demo, "support-chatbot", list_releases(demo, "support-chatbot")[0].version)
    assert release.artifacts[0].sha256[:16] in md and release.artifacts[0].sha256[:16] in html
    assert "<script" not in html and html.startswith("<!doctype html>")
    annex = cards.annex_iv(demo, "support-chatbot").markdown()
    assert "## 5. Risk management system (Art. 9)" in annex and "## 8. EU declaration of conformity" in annex


def test_exports_over_http(client_for: ClientFor, demo: Ctx) -> None:
    c = client_for("auditor")
    r = c.get("/api/v1/compliance/systems/support-chatbot/export", params={"format": "cyclonedx"})
    assert r.status_code == 200
    validate_cyclonedx(json.loads(r.content))
    r = c.get("/api/v1/compliance/systems/support-chatbot/export", params={"format": "oscal"})
    assert r.status_code == 422 and "needs ?framework=" in r.json()["detail"]
    r = c.get("/api/v1/compliance/systems/support-chatbot/export", params={"format": "pdf"})
    assert r.status_code == 422
    r = c.get("/api/v1/compliance/systems/support-chatbot/export", params={"format": "model-card-html"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
