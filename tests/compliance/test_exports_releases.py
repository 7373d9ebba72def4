"""Exports of a system with two releases (a model and a prompt each) and a risk, independent of the demo:
CycloneDX and OSCAL validate against the official schemas; every artifact is there with its hash."""

from __future__ import annotations

from typing import Any

from charter.compliance import cards, exports, queries
from charter.compliance.validate import validate_cyclonedx, validate_oscal_assessment_results
from charter.context import install_shipped
from charter.releases.queries import read_release
from charter.risk.schemas import RiskCreate
from charter.risk.service import create_risk
from tests.releases.conftest import CHATBOT, make_system, submit


def setup(actors: Any) -> list[Any]:
    install_shipped(actors.ctx("admin"))
    make_system(actors)
    create_risk(actors.ctx("engineer"), RiskCreate(system=CHATBOT, title="Prompt injection", category="security",
                                                   likelihood="POSSIBLE", impact="MAJOR"))  # fmt: skip
    return [submit(actors, CHATBOT, "v1"), submit(actors, CHATBOT, "v2")]


def test_the_ml_bom_has_each_release_model_with_its_card_and_validates(actors: Any) -> None:
    releases = setup(actors)
    doc = exports.cyclonedx(actors.ctx("auditor"), CHATBOT)
    validate_cyclonedx(doc)
    models = [c for c in doc["components"] if c["type"] == "machine-learning-model"]
    assert [m["version"] for m in models] == ["1", "2"] and all(m["name"] == "classifier" for m in models)
    assert all(m["modelCard"]["considerations"]["ethicalConsiderations"] for m in models)  # the open risk
    hashes = {c["hashes"][0]["content"] for c in doc["components"] if "hashes" in c}
    assert {r.content_hash for r in releases} <= hashes
    prompts = [c for c in doc["components"] if c["name"] == "system-prompt"]
    assert [p["data"][0]["type"] for p in prompts] == ["configuration", "configuration"]
    root = doc["dependencies"][0]
    assert root["ref"] == f"system:{CHATBOT}" and len(root["dependsOn"]) == 2


def test_oscal_results_validate_and_follow_the_coverage(actors: Any) -> None:
    setup(actors)
    ctx = actors.ctx("auditor")
    for framework in ("eu-ai-act", "nist-ai-rmf-1.0", "iso-iec-42001", "mitre-atlas"):
        doc = exports.oscal(ctx, CHATBOT, framework)
        validate_oscal_assessment_results(doc)
        cov = queries.coverage(ctx, CHATBOT, framework)
        findings = doc["assessment-results"]["results"][0].get("findings", [])
        assert len(findings) == len(cov.requirements) - cov.counts["not_applicable"]


def test_the_model_card_names_the_model_artifacts(actors: Any) -> None:
    releases = setup(actors)
    md = cards.model_card(actors.ctx("auditor"), CHATBOT).markdown()
    for release in releases:
        model = read_release(actors.ctx("auditor"), CHATBOT, release.version).artifacts[0]
        assert model.kind == "model" and model.sha256[:16] in md
    assert "Prompt injection" in md
