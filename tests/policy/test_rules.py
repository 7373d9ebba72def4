"""Pure gate-rule machinery: type-checked CEL compilation with positions, evaluation, reason templates."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from charter.policy.rules import (
    CelEnvironment,
    RuleDoesNotCompile,
    check_type_signature,
    evaluate,
    parse_problems,
    render,
)

SCHEMA = {
    "now": "timestamp",
    "risk": {"open_critical": "int", "open_critical_keys": "list(string)"},
    "history": {"days_in_pilot": "int"},
    "procedures": "map(string, map(string, dyn))",
    "approvals": {"roles": "list(string)", "items": "list(map(string, dyn))"},
}
FACTS = {
    "now": datetime(2026, 1, 15, tzinfo=UTC),
    "risk": {"open_critical": 2, "open_critical_keys": ["RISK-0001", "RISK-0007"]},
    "history": {"days_in_pilot": 3},
    "procedures": {"ethical_review": {"approved": True, "status": "approved"}},
    "approvals": {"roles": ["approver"], "items": [{"user": "alan", "role": "approver"}]},
}


@pytest.fixture(scope="module")
def env() -> CelEnvironment:
    return CelEnvironment(SCHEMA)


def problems(env: CelEnvironment, expression: str) -> list[tuple[int, int, str]]:
    with pytest.raises(RuleDoesNotCompile) as err:
        env.compile(expression)
    return [(p.line, p.column, p.message) for p in err.value.problems]


def run(env: CelEnvironment, expression: str, facts: dict | None = None):  # type: ignore[no-untyped-def]
    return evaluate(env.compile(expression), env.activation(FACTS if facts is None else facts))


def test_a_misspelt_fact_is_refused_at_compile_time_with_its_line_and_column(env: CelEnvironment) -> None:
    found = problems(env, "risk.open_critical == 0 &&\n  risk.open_critcal == 0")
    assert found[0][:2] == (2, 7)
    assert "undeclared reference to 'risk.open_critcal'" in found[0][2]


def test_comparing_an_int_fact_with_a_string_is_a_type_error_at_its_operator(env: CelEnvironment) -> None:
    [(line, column, message)] = problems(env, "risk.open_critical == 'none'")
    assert (line, column) == (1, 20)
    assert "no matching overload" in message and "(int, string)" in message


def test_a_syntax_error_names_its_position(env: CelEnvironment) -> None:
    found = problems(env, "history.days_in_pilot >= = 14")
    assert found[0][0] == 1 and found[0][1] > 20
    assert "Syntax error" in found[0][2]


def test_a_rule_must_be_a_condition_not_a_number(env: CelEnvironment) -> None:
    [(line, column, message)] = problems(env, "risk.open_critical + 1")
    assert (line, column) == (1, 1)
    assert "boolean" in message and "int" in message.lower()


def test_an_empty_or_huge_expression_is_refused(env: CelEnvironment) -> None:
    assert "empty" in problems(env, "  ")[0][2]
    assert "longer than" in problems(env, "true && " * 600 + "true")[0][2]


def test_rules_evaluate_over_the_facts(env: CelEnvironment) -> None:
    assert run(env, "risk.open_critical == 0").passed is False
    assert run(env, "history.days_in_pilot < 14").passed is True
    assert run(env, "'ethical_review' in procedures && procedures.ethical_review.approved == true").passed
    assert run(env, "approvals.items.exists(a, a.role == 'approver')").passed
    assert run(env, "now > timestamp('2026-01-01T00:00:00Z')").passed
    assert run(env, "'RISK-0001' in risk.open_critical_keys").passed


def test_string_extension_functions_are_available(env: CelEnvironment) -> None:
    assert run(env, "risk.open_critical_keys.all(k, k.startsWith('RISK-'))").passed


def test_a_missing_procedure_fails_the_rule_with_a_reason_instead_of_raising(env: CelEnvironment) -> None:
    outcome = run(env, "procedures.deployment_approval.approved == true")
    assert outcome.passed is False
    assert outcome.error is not None and "deployment_approval" in outcome.error


def test_a_fact_absent_from_the_document_fails_the_rule_naming_the_fact(env: CelEnvironment) -> None:
    facts = {**FACTS, "history": {}}
    outcome = run(env, "history.days_in_pilot >= 14", facts)
    assert outcome.passed is False
    assert outcome.error == "the fact 'history.days_in_pilot' is missing from the facts document"


def test_a_dyn_rule_that_yields_a_non_boolean_fails_at_evaluation(env: CelEnvironment) -> None:
    facts = {**FACTS, "procedures": {"ethical_review": {"approved": "yes"}}}
    outcome = run(env, "procedures.ethical_review.approved", facts)
    assert outcome.passed is False and "not true or false" in (outcome.error or "")


def test_reason_templates_fill_facts_join_lists_and_say_none_for_absent_values() -> None:
    text = render("open: {risk.open_critical_keys} ({risk.open_critical}); review {procedures.x.status}", FACTS)
    assert text == "open: RISK-0001, RISK-0007 (2); review none"
    assert render("no braces here", FACTS) == "no braces here"
    assert render("{approvals.roles}", {"approvals": {"roles": []}}) == "none"


def test_cel_errors_without_a_position_still_produce_one_problem() -> None:
    assert [(p.line, p.column) for p in parse_problems("something odd")] == [(1, 1)]


@pytest.mark.parametrize("sig", ["int", "list(string)", "map(string, dyn)", "list(map(string,  dyn))"])
def test_known_fact_types_are_accepted(sig: str) -> None:
    assert check_type_signature(sig)


@pytest.mark.parametrize("sig", ["integer", "map(int, string)", "list(", "set(string)"])
def test_unknown_fact_types_are_refused(sig: str) -> None:
    with pytest.raises(ValueError):
        check_type_signature(sig)


@given(n=st.integers(min_value=-(2**40), max_value=2**40), threshold=st.integers(min_value=0, max_value=1000))
def test_an_integer_threshold_rule_agrees_with_python(n: int, threshold: int) -> None:
    env = CelEnvironment({"history": {"days_in_pilot": "int"}})
    program = env.compile(f"history.days_in_pilot >= {threshold}")
    assert evaluate(program, env.activation({"history": {"days_in_pilot": n}})).passed is (n >= threshold)
