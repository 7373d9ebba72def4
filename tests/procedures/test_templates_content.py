"""The shipped templates carry the seeds' content, and a broken template names file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from charter.procedures.loader import TemplateInvalid, parse_file, parse_template, shipped_templates

SEEDS = Path(__file__).resolve().parents[2].parent / "shared" / "seeds"  # shared/ lies beside the checkout


def shipped(key: str):  # type: ignore[no-untyped-def]
    return next(t for t in shipped_templates() if t.key == key)


ETHICAL_REVIEW = {
    "Fairness & Bias": [
        "Has the system been tested for bias across protected groups?",
        "Are fairness metrics documented and acceptable?",
        "Have mitigation strategies been implemented?",
    ],
    "Privacy & Security": [
        "Is PII properly protected?",
        "Are data retention policies defined?",
        "Has security testing been conducted?",
    ],
    "Transparency & Explainability": [
        "Can the system explain its decisions?",
        "Is documentation comprehensive?",
        "Are limitations clearly communicated?",
    ],
    "Safety & Robustness": [
        "Has adversarial testing been performed?",
        "Are safety guardrails in place?",
        "Is there a fallback mechanism?",
    ],
    "Accountability": [
        "Are roles and responsibilities clear?",
        "Is there human oversight?",
        "Are appeal mechanisms available?",
    ],
    "Societal Impact": [
        "Have stakeholders been consulted?",
        "Are potential harms identified?",
        "Is there a plan for monitoring impact?",
    ],
}


def test_the_ethical_review_has_the_seeds_six_sections_and_eighteen_questions_verbatim() -> None:
    spec = shipped("ethical-review")
    assert {s.title: [i.question for i in s.items] for s in spec.sections} == ETHICAL_REVIEW
    assert spec.kind == "review" and len(spec.items()) == 18


@pytest.mark.skipif(not SEEDS.exists(), reason="seeds not available")
def test_every_ethical_review_question_appears_in_seed_002() -> None:
    seed = next(SEEDS.glob("002_*.txt")).read_text()
    for _, item in shipped("ethical-review").items():
        assert f"- [ ] {item.question}" in seed


def test_the_deployment_approval_checklist_has_the_seeds_six_sections_and_all_items() -> None:
    spec = shipped("deployment-approval")
    assert [s.title for s in spec.sections] == [
        "Risk Assessment",
        "Ethical Review",
        "Technical Validation",
        "Documentation",
        "Operational Readiness",
        "Compliance",
    ]
    assert [len(s.items) for s in spec.sections] == [3, 3, 4, 4, 4, 4]
    questions = [i.question for _, i in spec.items()]
    assert "All criteria met or exceptions approved" in questions
    assert "Rollback plan prepared" in questions and "Terms of service updated" in questions


@pytest.mark.skipif(not SEEDS.exists(), reason="seeds not available")
def test_every_deployment_checklist_item_appears_in_seed_002() -> None:
    seed = next(SEEDS.glob("002_*.txt")).read_text()
    for _, item in shipped("deployment-approval").items():
        assert f"  - [ ] {item.question}" in seed


def test_the_ai_integration_sop_has_the_four_phases_of_seed_003() -> None:
    spec = shipped("ai-integration")
    assert [s.title.split(":")[0] for s in spec.sections] == ["Phase 1", "Phase 2", "Phase 3", "Phase 4"]
    text = " ".join(i.question + " " + i.guidance for _, i in spec.items())
    for needle in (
        "Define the Problem",
        "Data Privacy Audit",
        "SOC 2 Type II, ISO 27001",
        "Compliance Review",
        "sandbox",
        "20\u201350 routine tasks",  # the seed's en dash
        "human subject-matter expert",
        "System Integration",
        "Least Privilege",
        "14-day observation period",
        "Human-in-the-Loop",
        "Performance Tracking",
        "reporting channel",
        "monthly reviews",
        "model drift",
        "Update Management",
        "API keys be revoked and wiped",
    ):
        assert needle in text, needle


def test_incident_runbooks_carry_the_seeds_actions_per_severity_with_due_times() -> None:
    critical = shipped("incident-response-critical")
    assert [i.question for _, i in critical.items()] == [
        "Immediately notify leadership",
        "Activate incident response team",
        "Consider system shutdown",
        "Prepare public communication",
    ]
    assert critical.severities == ["critical"] and critical.kind == "runbook"
    assert [i.question for _, i in shipped("incident-response-high").items()] == [
        "Notify relevant stakeholders",
        "Investigate root cause",
        "Implement temporary mitigation",
        "Monitor closely",
    ]
    standard = shipped("incident-response-standard")
    assert [i.question for _, i in standard.items()] == ["Log for investigation", "Assess impact", "Plan remediation"]
    assert standard.severities == ["low", "medium"]
    for key in ("incident-response-critical", "incident-response-high", "incident-response-standard", "rollback"):
        assert all(i.due_within_minutes for _, i in shipped(key).items()), key


GOOD = """\
key: my-review
version: 1
title: My review
kind: review
applies_to: [system]
sections:
  - id: one
    title: One
    items:
      - id: first
        question: Is the first thing done?
      - id: second
        question: Is the second thing done?
"""


def problems(text: str) -> list[tuple[int | None, str, str]]:
    with pytest.raises(TemplateInvalid) as exc:
        parse_template(text, "my-review.yaml")
    assert str(exc.value.detail).startswith("invalid procedure template my-review.yaml")
    return [(p.line, p.field, p.message) for p in exc.value.problems]


def test_a_good_template_parses() -> None:
    spec = parse_template(GOOD, "my-review.yaml")
    assert spec.key == "my-review" and [i.id for _, i in spec.items()] == ["first", "second"]


def test_a_missing_field_names_the_line_of_its_parent_and_the_field() -> None:
    text = GOOD.replace("        question: Is the second thing done?\n", "        guidance: forgot the question\n")
    assert problems(text) == [(12, "sections[0].items[1].question", "Field required")]


def test_a_wrong_value_names_its_own_line_and_field() -> None:
    text = GOOD.replace("kind: review", "kind: essay")
    [(line, loc, msg)] = problems(text)
    assert (line, loc) == (4, "kind") and "'essay'" in msg


def test_a_wrong_type_deep_in_the_tree_names_its_line() -> None:
    text = GOOD.replace(
        "question: Is the first thing done?", "question: Is the first thing done?\n        required: perhaps"
    )
    [(line, loc, _)] = problems(text)
    assert (line, loc) == (12, "sections[0].items[0].required")


def test_an_unknown_field_is_named_with_its_line() -> None:
    text = GOOD.replace("title: My review", "title: My review\ntitel: typo")
    [(line, loc, msg)] = problems(text)
    assert (line, loc) == (4, "titel") and "unknown field" in msg


def test_broken_yaml_syntax_names_the_line() -> None:
    text = GOOD.replace("applies_to: [system]", "applies_to: [system")
    [(line, loc, msg)] = problems(text)
    assert line is not None and 5 <= line <= 7 and loc == "" and msg.startswith("not valid YAML")


def test_a_duplicate_item_id_names_the_second_one() -> None:
    text = GOOD.replace("id: second", "id: first")
    [(line, loc, msg)] = problems(text)
    assert (line, loc) == (12, "sections[0].items[1].id") and "duplicate item id 'first'" in msg


def test_a_duplicate_yaml_key_is_refused_not_silently_overwritten() -> None:
    text = GOOD.replace("version: 1", "version: 1\nversion: 2")
    [(line, loc, msg)] = problems(text)
    assert (line, loc) == (3, "version") and "twice" in msg


def test_an_unknown_role_is_refused() -> None:
    text = GOOD.replace(
        "        question: Is the first thing done?",
        "        question: Is the first thing done?\n        answer_roles: [intern]",
    )
    [(line, loc, msg)] = problems(text)
    assert (line, loc) == (12, "sections[0].items[0].answer_roles[0]") and "'intern'" in msg


def test_item_signoff_roles_that_leave_nobody_to_sign_are_refused() -> None:
    text = GOOD.replace(
        "        question: Is the first thing done?",
        "        question: Is the first thing done?\n        signoff_roles: [auditor]",
    )
    [(_, loc, msg)] = problems(text)
    assert loc == "signoff_roles" and "no role may sign off" in msg


def test_a_template_must_be_a_mapping() -> None:
    assert problems("- just\n- a list\n") == [(1, "", "the file must be a YAML mapping (key: value)")]


def test_several_problems_are_all_reported() -> None:
    text = GOOD.replace("version: 1", "version: zero").replace("kind: review", "kind: essay")
    assert [loc for _, loc, _ in problems(text)] == ["version", "kind"]


def test_parse_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(GOOD.replace("title: My review\n", ""))
    with pytest.raises(TemplateInvalid) as exc:
        parse_file(path)
    assert str(exc.value.problems[0]) == "broken.yaml:1: title: Field required"
