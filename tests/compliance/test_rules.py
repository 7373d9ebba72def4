"""The coverage rules, pure: contributions, crosswalk (one hop), applicability, explanations."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from charter.compliance.catalog import Catalogs, load_catalogs
from charter.compliance.rules import Choice, CoverageEngine, Link, framework_coverage, missing_state, role_for
from charter.kit.coverage import ControlState, EvidenceItem

FRAMEWORKS = Path(__file__).resolve().parents[2] / "src" / "charter" / "content" / "frameworks"


@lru_cache(maxsize=1)
def shipped() -> Catalogs:
    return load_catalogs([FRAMEWORKS])


@pytest.fixture
def catalogs() -> Catalogs:
    return shipped()


def engine(catalogs: Catalogs, links: list[Link], states: dict[str, str]) -> CoverageEngine:
    found = {c: ControlState(c, s, f"{c} is {s}", (EvidenceItem(f"x:{c}", c),)) for c, s in states.items()}  # type: ignore[arg-type]
    return CoverageEngine(catalogs, links, found, frozenset({"sop", "gate"}))


@pytest.mark.parametrize(
    ("relation", "control", "expected"),
    [("satisfies", "met", "met"), ("satisfies", "partial", "partial"), ("partially", "met", "partial"),
     ("partially", "partial", "partial"), ("satisfies", "missing", "missing"), ("partially", "missing", "missing")],
)  # fmt: skip
def test_a_control_contributes_by_its_relation_and_status(
    catalogs: Catalogs, relation: str, control: str, expected: str
) -> None:
    e = engine(catalogs, [Link("sop:a/b", "owasp-llm-2025:LLM01:2025", relation, "r")], {"sop:a/b": control})
    assert e.direct("owasp-llm-2025:LLM01:2025")[0] == expected


def test_one_met_satisfying_control_is_enough_and_the_why_names_it(catalogs: Catalogs) -> None:
    links = [Link("sop:a/b", "owasp-llm-2025:LLM01:2025", "partially", "r"),
             Link("gate:p/r", "owasp-llm-2025:LLM01:2025", "satisfies", "r")]  # fmt: skip
    e = engine(catalogs, links, {"sop:a/b": "missing", "gate:p/r": "met"})
    cov = framework_coverage(e, "owasp-llm-2025", system="s", tier="high", role="provider", framework_choice=None,
                             choices={})  # fmt: skip
    row = next(r for r in cov.requirements if r.id == "LLM01:2025")
    assert row.status == "met" and row.why == "gate:p/r satisfies it and is met (1 met, 1 missing)"
    assert [ev.ref for ev in row.evidence()] == ["x:gate:p/r"]  # evidence of controls in place only


def test_a_narrower_requirement_is_met_through_the_crosswalk_when_the_wider_one_is(catalogs: Catalogs) -> None:
    subset = next(x for x in catalogs.crosswalk if x.relation == "subset")  # from ⊂ to
    fid = subset.from_.partition(":")[0]
    e = engine(catalogs, [Link("sop:a/b", subset.to, "satisfies", "r")], {"sop:a/b": "met"})
    cov = framework_coverage(e, fid, system="s", tier="high", role="provider", framework_choice=None, choices={})
    row = next(r for r in cov.requirements if r.ref == subset.from_)
    assert row.status == "met" and row.via == (subset.to,) and "through the crosswalk" in row.why
    # the other way round implies nothing: the wider one is not met by the narrower one
    e = engine(catalogs, [Link("sop:a/b", subset.from_, "satisfies", "r")], {"sop:a/b": "met"})
    wider_fid = subset.to.partition(":")[0]
    cov = framework_coverage(e, wider_fid, system="s", tier="high", role="provider", framework_choice=None, choices={})
    row = next(r for r in cov.requirements if r.ref == subset.to)
    assert row.status != "met" or not row.via


def test_eu_ai_act_obligations_follow_the_tier_and_role_and_a_choice_overrides(catalogs: Catalogs) -> None:
    e = engine(catalogs, [], {})
    minimal = framework_coverage(e, "eu-ai-act", system="s", tier="minimal", role="deployer", framework_choice=None,
                                 choices={})  # fmt: skip
    high = framework_coverage(e, "eu-ai-act", system="s", tier="high", role="provider", framework_choice=None,
                              choices={})  # fmt: skip
    assert minimal.counts["not_applicable"] > high.counts["not_applicable"]
    art9 = next(r for r in minimal.requirements if r.id == "Art. 9")
    assert art9.status == "not_applicable" and "this system is minimal tier, deployer" in art9.why
    whole = framework_coverage(e, "eu-ai-act", system="s", tier="high", role="provider",
                               framework_choice=Choice(False, "not placed on the EU market"), choices={})  # fmt: skip
    assert whole.counts["not_applicable"] == len(whole.requirements)


def test_unreported_kinds_and_custom_controls_say_why_they_are_missing() -> None:
    assert "no module reports 'evaluation' controls yet" in missing_state("evaluation:judge-calibration",
                                                                           frozenset({"sop"})).why  # fmt: skip
    assert missing_state("sop:a/b", frozenset({"sop"})).why == "not in place for this system"
    assert "no evidence attached" in missing_state("custom:x", frozenset()).why
    assert role_for("in_house_model") == "provider" and role_for("vendor_api") == "deployer"


@settings(deadline=None, max_examples=60)
@given(st.lists(st.sampled_from(["met", "partial", "missing"]), min_size=1, max_size=6),
       st.lists(st.sampled_from(["satisfies", "partially"]), min_size=6, max_size=6))  # fmt: skip
def test_the_status_is_the_best_contribution(statuses: list[str], relations: list[str]) -> None:
    cats = shipped()
    ref = "owasp-llm-2025:LLM05:2025"
    links = [Link(f"sop:t/c{i}", ref, relations[i], "r") for i in range(len(statuses))]
    e = engine(cats, links, {f"sop:t/c{i}": s for i, s in enumerate(statuses)})
    got = e.direct(ref)[0]
    pairs = list(zip(relations, statuses, strict=False))
    if ("satisfies", "met") in pairs:
        assert got == "met"
    elif any(s != "missing" for _, s in pairs):
        assert got == "partial"
    else:
        assert got == "missing"
