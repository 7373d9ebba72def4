"""Exports are checked against the official CycloneDX 1.6 and OSCAL schemas, offline, with the failing JSON path."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import pytest

from charter.compliance.validate import (
    SCHEMA_DIR,
    ExportInvalid,
    SchemaUnavailable,
    cyclonedx_violations,
    validate_cyclonedx,
    validate_oscal_assessment_results,
)

SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


def ml_bom() -> dict[str, Any]:
    """A minimal CycloneDX 1.6 ML-BOM: a system, a model with a model card, a dataset and a prompt."""
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79",
        "version": 1,
        "metadata": {
            "timestamp": "2026-12-04T10:00:00Z",
            "component": {"type": "application", "name": "support-bot", "version": "1.2.0", "bom-ref": "system"},
        },
        "components": [
            {
                "type": "machine-learning-model",
                "bom-ref": "model",
                "name": "support-model",
                "version": "2026-11",
                "hashes": [{"alg": "SHA-256", "content": SHA}],
                "licenses": [{"license": {"id": "Apache-2.0"}}],
                "modelCard": {
                    "modelParameters": {"task": "text-generation", "approach": {"type": "supervised"}},
                    "quantitativeAnalysis": {"performanceMetrics": [{"type": "accuracy", "value": "0.91"}]},
                    "considerations": {"useCases": ["customer support"], "technicalLimitations": ["English only"]},
                },
            },
            {
                "type": "data",
                "bom-ref": "dataset",
                "name": "eval-set",
                "data": [{"type": "dataset", "name": "eval-set"}],
            },
            {
                "type": "data",
                "bom-ref": "prompt",
                "name": "system-prompt",
                "hashes": [{"alg": "SHA-256", "content": SHA}],
                "data": [{"type": "configuration", "name": "system-prompt"}],
            },
        ],
        "dependencies": [{"ref": "system", "dependsOn": ["model", "dataset", "prompt"]}],
    }


def assessment_results() -> dict[str, Any]:
    return {
        "assessment-results": {
            "uuid": "5f2b3c39-8a1f-4d0e-9b6a-0e7f3c2d1a40",
            "metadata": {
                "title": "Charter compliance coverage: support-bot, EU AI Act",
                "last-modified": "2026-12-04T10:00:00Z",
                "version": "1",
                "oscal-version": "1.2.3",
                "props": [{"name": "framework", "value": "eu-ai-act"}],
            },
            "import-ap": {"href": "#assessment-plan"},
            "results": [
                {
                    "uuid": "6a2b3c39-8a1f-4d0e-9b6a-0e7f3c2d1a41",
                    "title": "Coverage on 2026-12-04",
                    "description": "Requirement statuses computed from Charter's data.",
                    "start": "2026-12-04T10:00:00Z",
                    "reviewed-controls": {"control-selections": [{"include-all": {}}]},
                    "findings": [
                        {
                            "uuid": "7a2b3c39-8a1f-4d0e-9b6a-0e7f3c2d1a42",
                            "title": "Art. 9 risk management system",
                            "description": "partial: the ethical review is approved, the risk review is overdue.",
                            "target": {
                                "type": "objective-id",
                                "target-id": "art-9",
                                "status": {"state": "not-satisfied"},
                            },
                        }
                    ],
                }
            ],
        }
    }


# --- CycloneDX ------------------------------------------------------------------------------------------------------


def test_a_minimal_ml_bom_is_valid() -> None:
    validate_cyclonedx(ml_bom())


@pytest.mark.parametrize(
    ("path", "value", "where", "what"),
    [
        (("bomFormat",), "SPDX", "$.bomFormat", "is not one of ['CycloneDX']"),
        (("serialNumber",), "12345", "$.serialNumber", "does not match"),
        (("metadata", "timestamp"), "yesterday", "$.metadata.timestamp", "is not a 'date-time'"),
        (("components", 0, "hashes", 0, "alg"), "SHA-999", "$.components[0].hashes[0].alg", "is not one of"),
        (("components", 0, "type"), "robot", "$.components[0].type", "is not one of"),
        (("components", 0, "modelCard", "modelParameters", "approach", "type"), "guessing",
         "$.components[0].modelCard.modelParameters.approach.type", "is not one of"),
    ],
)  # fmt: skip
def test_a_broken_bom_names_the_failing_path(path: tuple[Any, ...], value: Any, where: str, what: str) -> None:
    doc = ml_bom()
    target: Any = doc
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    with pytest.raises(ExportInvalid) as info:
        validate_cyclonedx(doc)
    assert [v.path for v in info.value.violations] == [where]
    assert what in info.value.violations[0].message
    assert str(info.value).startswith(f"not a valid CycloneDX 1.6 document: {where}: ")


def test_licence_ids_are_checked_against_the_local_spdx_schema() -> None:
    doc = ml_bom()
    doc["components"][0]["licenses"] = [{"license": {"id": "Not-A-Licence-1.0"}}]
    (violation,) = cyclonedx_violations(doc)
    assert violation.path == "$.components[0].licenses[0].license.id"
    assert "spdx" not in violation.path and "is not one of ['0BSD'" in violation.message


def test_signatures_are_checked_against_the_local_jsf_schema() -> None:
    doc = ml_bom()
    doc["signature"] = {"algorithm": "ROT13", "value": "abc"}
    violations = cyclonedx_violations(doc)
    assert violations and all(v.path.startswith("$.signature") for v in violations)
    doc["signature"] = {"algorithm": "ES256", "value": "c2lnbmF0dXJl"}
    assert cyclonedx_violations(doc) == []


def test_unknown_top_level_fields_and_several_faults_are_all_listed() -> None:
    doc = ml_bom()
    doc["extra"] = True
    del doc["specVersion"]
    paths = {v.path for v in cyclonedx_violations(doc)}
    assert paths == {"$"}
    assert len(cyclonedx_violations(doc)) == 2


def test_references_are_resolved_from_the_shipped_copies_only(tmp_path: Path) -> None:
    schemas = tmp_path / "schemas"
    shutil.copytree(SCHEMA_DIR, schemas)
    (schemas / "cyclonedx-1.6" / "spdx.schema.json").unlink()
    with pytest.raises(SchemaUnavailable, match="cannot load the shipped schemas"):
        validate_cyclonedx(ml_bom(), schema_dir=schemas)


# --- OSCAL assessment results -----------------------------------------------------------------------------------------


def test_minimal_assessment_results_are_valid() -> None:
    validate_oscal_assessment_results(assessment_results())


def test_a_bad_uuid_and_a_missing_field_are_named() -> None:
    doc = assessment_results()
    doc["assessment-results"]["uuid"] = "not-a-uuid"
    del doc["assessment-results"]["results"][0]["start"]
    with pytest.raises(ExportInvalid) as info:
        validate_oscal_assessment_results(doc)
    found = {(v.path, v.message.split(" ")[-1]) for v in info.value.violations}
    assert ("$['assessment-results'].results[0]", "property") in found
    assert any(v.path == "$['assessment-results'].uuid" for v in info.value.violations)


def test_unicode_token_patterns_are_enforced() -> None:
    doc = assessment_results()
    props = doc["assessment-results"]["metadata"]["props"]
    props[0]["name"] = "rôle_éval"  # letters outside ASCII are valid OSCAL tokens (\\p{L})
    validate_oscal_assessment_results(doc)
    props[0]["name"] = "1 bad name"
    with pytest.raises(ExportInvalid) as info:
        validate_oscal_assessment_results(doc)
    assert info.value.violations[0].path == "$['assessment-results'].metadata.props[0].name"


def test_other_oscal_models_and_extra_keys_are_refused() -> None:
    doc = {"catalog": copy.deepcopy(assessment_results()["assessment-results"])}
    with pytest.raises(ExportInvalid, match=r"\$: 'assessment-results' is a required property"):
        validate_oscal_assessment_results(doc)
    doc = assessment_results()
    doc["assessment-results"]["results"][0]["findings"][0]["target"]["status"]["state"] = "great"
    with pytest.raises(ExportInvalid) as info:
        validate_oscal_assessment_results(doc)
    assert info.value.violations[0].path.endswith(".findings[0].target.status.state")


def test_uri_formats_are_checked_in_both_schemas() -> None:
    bom = ml_bom()
    bom["externalReferences"] = [{"type": "website", "url": "https://example.com/support-bot"}]
    validate_cyclonedx(bom)
    bom["externalReferences"][0]["url"] = "http://exa mple.com/<bad>"
    assert [v.path for v in cyclonedx_violations(bom)] == ["$.externalReferences[0].url"]
    ar = assessment_results()
    ar["assessment-results"]["import-ap"]["href"] = "http://exa mple.com/<bad>"
    with pytest.raises(ExportInvalid, match=r"import-ap'\]\.href: .* is not a 'uri-reference'"):
        validate_oscal_assessment_results(ar)
