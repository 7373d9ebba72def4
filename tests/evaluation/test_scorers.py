"""Deterministic scorers, their configuration errors and the registry."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rapidfuzz import fuzz, utils

from charter.evaluation.matching import find_numbers, normalise_text
from charter.evaluation.scorers import (
    SCORERS,
    Score,
    ScorerConfigError,
    ScorerInputError,
    build_scorer,
    parse_scorer_config,
)


@dataclass
class Item:
    input: str
    expected: str | list[str] | tuple[str, ...] | None = None
    reference: str | None = None


def score(config: dict[str, object] | str, output: str, sample: object) -> Score:
    return build_scorer(config).score(output, sample)


def test_exact_match_is_exact_unless_asked_to_strip() -> None:
    assert score("exact", "Paris", {"expected": "Paris"}) == Score(1.0, True, "output equals the expected answer")
    assert score("exact", "Paris ", {"expected": "Paris"}).passed is False
    assert score({"type": "exact", "strip": True}, " Paris\n", {"expected": "Paris"}).passed is True
    assert score("exact", "paris", {"expected": "Paris"}).passed is False


def test_exact_match_accepts_any_of_several_answers_and_the_reference() -> None:
    assert score("exact", "4", Item("2+2", expected=["four", "4"])).passed is True
    assert score({"type": "exact", "against": "reference"}, "ok", Item("x", reference="ok")).passed is True


def test_normalised_match_ignores_case_whitespace_punctuation_and_width() -> None:
    sample = {"expected": "The answer is: Paris."}
    assert score("normalised", "the  answer is paris", sample).passed is True
    assert (
        score(
            "normalised",
            "\uff34\uff28\uff25 \uff21\uff2e\uff33\uff37\uff25\uff32 \uff29\uff33 \uff30\uff21\uff32\uff29\uff33",
            sample,
        ).passed
        is True
    )  # full-width (NFKC)
    assert score("normalised", "Straße", {"expected": "STRASSE"}).passed is True  # case folding
    assert score("normalised", "the answer is london", sample).passed is False
    keep_case = {"type": "normalised", "case": False}
    assert score(keep_case, "the answer is paris", sample).passed is False


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=40))
def test_normalising_twice_changes_nothing(text: str) -> None:
    once = normalise_text(text)
    assert normalise_text(once) == once


def test_contains_any_and_all() -> None:
    out = "Refunds are processed within 14 days via the original payment method."
    any_cfg = {"type": "contains", "values": ["14 days", "30 days"]}
    all_cfg = {"type": "contains", "values": ["14 days", "30 days"], "mode": "all"}
    assert score(any_cfg, out, {}).passed is True
    result = score(all_cfg, out, {})
    assert (result.value, result.passed) == (0.5, False)
    assert "missing ['30 days']" in result.explanation
    assert score({"type": "contains", "values": ["REFUNDS"]}, out, {}).passed is True
    assert score({"type": "contains", "values": ["REFUNDS"], "case_sensitive": True}, out, {}).passed is False
    assert score("contains", out, {"expected": ["payment method", "cheque"]}).passed is True


def test_regex_search_and_fullmatch() -> None:
    assert score({"type": "regex", "pattern": r"\bINV-\d{4}\b"}, "see INV-2024 attached", {}).passed is True
    assert score({"type": "regex", "pattern": r"INV-\d{4}", "match": "fullmatch"}, "see INV-2024", {}).passed is False
    assert score({"type": "regex", "pattern": "yes", "ignore_case": True}, "YES", {}).passed is True


def test_regex_that_does_not_compile_is_named() -> None:
    with pytest.raises(ScorerConfigError, match=r"scorer 'regex': option 'pattern': pattern '\(unclosed' does not"):
        parse_scorer_config({"type": "regex", "pattern": "(unclosed"})


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("The total is 1,234.50 EUR", [1234.5]),
        ("from -3 to +4.5, then 2e3", [-3.0, 4.5, 2000.0]),
        ("growth of 45% in Q3", [45.0]),  # Q3 is a name, not a number
        ("version v2 and abc123 are not numbers; .5 is", [0.5]),
        ("temperature \u22125 degrees", [-5.0]),
        ("full-width \uff14\uff12", [42.0]),
        ("no numbers here", []),
    ],
)
def test_numbers_are_found_in_text(text: str, numbers: list[float]) -> None:
    assert find_numbers(text) == numbers


def test_numeric_tolerance_absolute_and_relative() -> None:
    sample = {"expected": "The answer is 100"}
    assert score({"type": "numeric"}, "I think it's 100.", sample).passed is True
    assert score({"type": "numeric"}, "100.4", sample).passed is False
    assert score({"type": "numeric", "abs_tol": 0.5}, "100.4", sample).passed is True
    assert score({"type": "numeric", "rel_tol": 0.01}, "about 101", sample).passed is True
    assert score({"type": "numeric", "rel_tol": 0.01}, "about 102", sample).passed is False
    # the last number counts by default; first / only on request
    assert score({"type": "numeric"}, "Step 1: 50 + 50 = 100", sample).passed is True
    assert score({"type": "numeric", "pick": "first"}, "Step 1: 50 + 50 = 100", sample).passed is False
    only = score({"type": "numeric", "pick": "only"}, "50 + 50 = 100", sample)
    assert only.passed is False and "3" in only.explanation
    assert score({"type": "numeric", "expected": 3.14, "abs_tol": 0.01}, "pi is 3.1416", {}).passed is True
    missing = score({"type": "numeric"}, "no idea", sample)
    assert missing.passed is False and "no number" in missing.explanation


def test_numeric_refuses_an_ambiguous_expected_value() -> None:
    with pytest.raises(ScorerInputError, match="exactly one number"):
        score({"type": "numeric"}, "5", {"expected": "between 4 and 6"})


SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
    "required": ["name", "age"],
    "additionalProperties": False,
}


def test_json_schema_validity() -> None:
    cfg = {"type": "json_schema", "schema": SCHEMA}
    assert score(cfg, '{"name": "Ada", "age": 36}', {}).passed is True
    assert score(cfg, 'Here you go:\n```json\n{"name": "Ada", "age": 36}\n```', {}).passed is True
    bad = score(cfg, '{"name": "Ada", "age": -1}', {})
    assert bad.passed is False and "$.age" in bad.explanation
    broken = score(cfg, '{"name": "Ada", ', {})
    assert broken.passed is False and "not JSON" in broken.explanation and "line 1" in broken.explanation


def test_json_schema_uses_draft_2020_12() -> None:
    # prefixItems is a 2020-12 keyword: under draft 7 the second item would not be checked
    cfg = {"type": "json_schema", "schema": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "number"}]}}
    assert score(cfg, '["a", 1]', {}).passed is True
    assert score(cfg, '["a", "b"]', {}).passed is False


def test_an_invalid_schema_is_refused_with_its_location() -> None:
    with pytest.raises(ScorerConfigError, match=r"not a valid Draft 2020-12 schema at properties/age"):
        parse_scorer_config({"type": "json_schema", "schema": {"properties": {"age": {"type": "integr"}}}})


def test_similarity_uses_rapidfuzz_scores() -> None:
    sample = {"expected": "The quick brown fox jumps over the lazy dog"}
    out = "the lazy dog, jumped over by the quick brown fox"
    ratio = score({"type": "similarity"}, out, sample)
    token_set = score({"type": "similarity", "method": "token_set_ratio", "threshold": 0.7}, out, sample)
    assert ratio.value == pytest.approx(fuzz.ratio(out, sample["expected"], processor=utils.default_process) / 100)
    assert token_set.value > ratio.value
    assert token_set.passed is True
    assert score({"type": "similarity", "threshold": 1.0}, "abc", {"expected": "abd"}).passed is False


def test_unknown_scorer_and_unknown_option_are_named() -> None:
    with pytest.raises(ScorerConfigError, match=r"unknown scorer 'fuzzy'; scorers: contains, exact"):
        parse_scorer_config({"type": "fuzzy"})
    with pytest.raises(ScorerConfigError, match=r"scorer 'regex': option 'patern' is not known; options: pattern"):
        parse_scorer_config({"type": "regex", "patern": "x"})
    with pytest.raises(ScorerConfigError, match=r"option 'pattern' is required"):
        parse_scorer_config({"type": "regex"})
    with pytest.raises(ScorerConfigError, match=r"option 'threshold'"):
        parse_scorer_config({"type": "similarity", "threshold": 80})


def test_registry_builds_every_deterministic_scorer_by_name() -> None:
    assert set(SCORERS) == {
        "exact",
        "normalised",
        "contains",
        "regex",
        "numeric",
        "json_schema",
        "similarity",
        "refusal",
    }
    assert parse_scorer_config({"type": "llm_judge", "judge": "gpt-judge"}).type == "llm_judge"
    with pytest.raises(ScorerConfigError, match="judge_messages"):
        build_scorer({"type": "llm_judge", "judge": "gpt-judge"})


def test_samples_may_be_objects_with_a_tuple_of_expected_answers() -> None:
    assert score("normalised", "Four.", Item("2+2", expected=("4", "four"))).passed is True
    assert score({"type": "numeric"}, "It is 4", Item("2+2", expected=("4",))).passed is True


def test_a_sample_without_the_compared_field_is_an_error_not_a_fail() -> None:
    with pytest.raises(ScorerInputError, match="sample's 'expected' field, which is missing"):
        score("exact", "x", {"input": "q"})
    with pytest.raises(ScorerInputError, match="which is missing"):
        score("exact", "x", Item("q", expected=()))
    with pytest.raises(ScorerInputError, match="scores text output"):
        build_scorer("exact").score(None, {"expected": "x"})  # type: ignore[arg-type]
