"""Charter's controls → requirements: every shipped control is mapped, every reference resolves, bad input refused."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from charter.compliance.catalog import CatalogError, Catalogs, load_catalogs
from charter.compliance.controls import (
    MODULE_CONTROLS,
    ControlIndex,
    ControlMappings,
    load_control_mappings,
    missing_controls,
    parse_control_mappings,
    parse_control_ref,
)

ROOT = Path(__file__).resolve().parents[2]
CONTENT = ROOT / "src" / "charter" / "content"
SHIPPED = CONTENT / "frameworks" / "mappings" / "charter-controls.yaml"


@pytest.fixture(scope="module")
def catalogs() -> Catalogs:
    return load_catalogs([CONTENT / "frameworks"])


@pytest.fixture(scope="module")
def index() -> ControlIndex:
    return ControlIndex.from_content(CONTENT)


@pytest.fixture(scope="module")
def shipped(catalogs: Catalogs, index: ControlIndex) -> ControlMappings:
    return load_control_mappings([SHIPPED], catalogs, index)


def test_every_referenced_shipped_control_exists_and_every_requirement_resolves(
    shipped: ControlMappings, catalogs: Catalogs, index: ControlIndex
) -> None:
    assert missing_controls(shipped, index, str(SHIPPED)) == []
    for control in shipped.controls:
        kind, _ = parse_control_ref(control.control)
        if kind in ("sop", "gate", "alert", "incident", "risk-matrix", "redteam-suite"):
            assert index.exists(control.control), control.control
        for link in control.requirements:
            assert catalogs.problem_with_ref(link.requirement) is None, link.requirement


@pytest.mark.parametrize("kind", ["sop", "gate", "alert", "redteam-suite"])
def test_every_shipped_control_of_a_kind_is_mapped(shipped: ControlMappings, index: ControlIndex, kind: str) -> None:
    mapped = {c.control for c in shipped.controls}
    present = index.content_refs(kind)
    assert present, f"no {kind} controls found in {CONTENT}"
    assert [ref for ref in present if ref not in mapped] == []


def test_every_module_control_the_brief_names_is_mapped(shipped: ControlMappings) -> None:
    mapped = {c.control for c in shipped.controls}
    expected = {f"{module}:{name}" for module, names in MODULE_CONTROLS.items() for name in names}
    assert expected <= mapped


def test_reasons_are_one_line_and_relations_are_known(shipped: ControlMappings) -> None:
    for control in shipped.controls:
        for link in control.requirements:
            assert link.relation in ("satisfies", "partially")
            assert "\n" not in link.reason and 10 < len(link.reason) <= 120, (control.control, link.reason)


def test_a_control_reaches_its_requirements_and_back(shipped: ControlMappings) -> None:
    gate = "gate:to-production/two-distinct-approvers"
    assert {link.requirement for link in shipped.for_control(gate)} == {
        "nist-ai-rmf-1.0:GOVERN 1.4",
        "iso-iec-42001:A.6.2.5",
    }
    controls = {control for control, _ in shipped.for_requirement("eu-ai-act:Art. 73")}
    assert {"incident:regulatory/serious_incident", "sop:deployment-approval/incident-response-plan"} <= controls


def test_the_mapping_covers_the_eu_obligations_charter_can_evidence(
    shipped: ControlMappings, catalogs: Catalogs
) -> None:
    covered = shipped.requirements()
    for art in ("Art. 4", "Art. 5", "Art. 6", "Art. 9", "Art. 10", "Art. 11", "Art. 12", "Art. 13", "Art. 14",
                "Art. 15", "Art. 26", "Art. 27", "Art. 72", "Art. 73"):  # fmt: skip
        assert f"eu-ai-act:{art}" in covered, art
    assert all(catalogs.requirement(ref).assessable or ref.startswith("mitre-atlas:AML.T") for ref in covered)


# --- control reference syntax -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "kind"),
    [
        ("sop:ethical-review/bias-tested", "sop"),
        ("gate:to-production/two-distinct-approvers", "gate"),
        ("alert:accuracy-low", "alert"),
        ("incident:regulatory/serious_incident", "incident"),
        ("incident:lifecycle", "incident"),
        ("redteam-suite:prompt-injection", "redteam-suite"),
        ("evaluation:judge-calibration", "evaluation"),
        ("custom:quarterly-board-review", "custom"),
    ],
)
def test_valid_control_references_parse(ref: str, kind: str) -> None:
    assert parse_control_ref(ref)[0] == kind


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("ethical-review", "write '<kind>:<name>'"),
        ("policy:to-pilot/x", "unknown control kind 'policy'"),
        ("sop:ethical-review", "does not match sop:<template>/<item>"),
        ("gate:To-Pilot/x", "does not match gate:<policy>/<rule>"),
        ("evaluation:vibes", "unknown evaluation control 'vibes'; known: continuous-validation, expert-benchmark"),
    ],
)
def test_bad_control_references_say_what_is_allowed(ref: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("<", "<").replace("(", r"\(")):
        parse_control_ref(ref)


@given(st.text(min_size=0, max_size=40))
def test_parsing_a_control_reference_never_fails_otherwise(text: str) -> None:
    try:
        kind, rest = parse_control_ref(text)
    except ValueError as exc:
        assert str(exc)
    else:
        assert text == f"{kind}:{rest}"


# --- bad mapping files ----------------------------------------------------------------------------------------------


def test_missing_requirements_unknown_controls_and_duplicates_are_reported_with_lines(
    tmp_path: Path, catalogs: Catalogs, index: ControlIndex
) -> None:
    path = tmp_path / "org-controls.yaml"
    path.write_text(
        textwrap.dedent("""\
        title: ACME mappings
        controls:
          - control: sop:ethical-review/bias-tested
            requirements:
              - {requirement: "eu-ai-act:Art. 10", relation: satisfies, reason: We trust our bias tests.}
              - {requirement: "eu-ai-act:Art. 1000", relation: partially, reason: typo}
          - control: sop:ethical-review/no-such-item
            requirements:
              - {requirement: "nist-ai-rmf-1.0:MEASURE 2.11", relation: partially, reason: fine}
          - control: sop:ethical-review/bias-tested
            requirements:
              - {requirement: "eu-ai-act:Art. 10", relation: partially, reason: again}
        """)
    )
    with pytest.raises(CatalogError) as info:
        load_control_mappings([path], catalogs, index)
    found = [str(p) for p in info.value.problems]
    assert found[0] == (
        f"{path}:6: controls[0].requirements[1].requirement: no requirement 'Art. 1000' in framework 'eu-ai-act'; "
        "did you mean 'Art. 100', 'Art. 10', 'Art. 110'?"
    )
    assert found[1].startswith(f"{path}:7: controls[1].control: no such control in the content: 'sop:ethical-review/")
    assert (
        found[2] == f"{path}:10: controls[2].control: 'sop:ethical-review/bias-tested' is already mapped at controls[0]"
    )
    assert len(found) == 3


def test_a_bad_relation_and_an_unknown_field_are_refused(tmp_path: Path, catalogs: Catalogs) -> None:
    text = textwrap.dedent("""\
        title: x
        controls:
          - control: alert:accuracy-low
            owner: me
            requirements:
              - {requirement: "eu-ai-act:Art. 15", relation: covers, reason: bad relation}
        """)
    with pytest.raises(CatalogError) as info:
        parse_control_mappings(text, "m.yaml", catalogs)
    assert [str(p) for p in info.value.problems] == [
        "m.yaml:4: controls[0].owner: unknown field (allowed: control, requirements, title)",
        "m.yaml:6: controls[0].requirements[0].relation: Input should be 'satisfies' or 'partially'",
    ]


def test_an_organisation_file_overrides_a_shipped_mapping(
    tmp_path: Path, catalogs: Catalogs, index: ControlIndex
) -> None:
    org = tmp_path / "org.yaml"
    latency = {"requirement": "eu-ai-act:Art. 15", "relation": "partially", "reason": "Latency is our robustness SLO."}
    board = {"requirement": "iso-iec-42001:A.2.4", "relation": "satisfies", "reason": "The board reviews the policy."}
    controls = [
        {"control": "alert:latency-high", "requirements": [latency]},
        {"control": "custom:quarterly-board-review", "requirements": [board]},
    ]
    org.write_text(yaml.safe_dump({"title": "ACME", "controls": controls}))
    merged = load_control_mappings([SHIPPED, org], catalogs, index)
    assert [link.requirement for link in merged.for_control("alert:latency-high")] == ["eu-ai-act:Art. 15"]
    assert merged.for_requirement("iso-iec-42001:A.2.4")[0][0] == "custom:quarterly-board-review"
    assert len(merged.for_control("alert:accuracy-low")) == 4  # untouched shipped mapping
