"""Rubrics: criteria types, validation of a rating, the default rubric of seed 003."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from charter.evaluation.rubrics import (
    DEFAULT_RUBRIC,
    BooleanCriterion,
    CategoricalCriterion,
    NumericCriterion,
    RatingError,
    Rubric,
    TextCriterion,
)

RUBRIC = Rubric(
    name="support_reply",
    criteria=[
        NumericCriterion(name="accuracy", description="correct?", min=1, max=5),
        NumericCriterion(name="latency_ok", description="share", min=0, max=1, integer=False),
        CategoricalCriterion(
            name="tone",
            description="tone",
            choices=["formal", "casual", "rude"],
            scores={"formal": 1, "casual": 0.7, "rude": 0},
        ),
        BooleanCriterion(name="hallucination", description="invented facts?", pass_value=False),
        TextCriterion(name="comment", description="remarks", max_length=20),
    ],
)


def test_default_rubric_is_seed_003_accuracy_tone_hallucination() -> None:
    names = [c.name for c in DEFAULT_RUBRIC.criteria]
    assert names[:3] == ["accuracy", "tone", "hallucination"]
    assert "accuracy, tone, and hallucination frequency" in DEFAULT_RUBRIC.description
    hallucination = DEFAULT_RUBRIC.criterion("hallucination")
    assert isinstance(hallucination, BooleanCriterion) and hallucination.pass_value is False
    rating = DEFAULT_RUBRIC.validate_rating({"accuracy": 5, "tone": "4", "hallucination": "no"})
    assert rating == {"accuracy": 5.0, "tone": 4.0, "hallucination": False}
    assert DEFAULT_RUBRIC.normalised(rating) == {"accuracy": 1.0, "tone": 0.75, "hallucination": 1.0}


def test_a_valid_rating_is_normalised() -> None:
    rating = RUBRIC.validate_rating(
        {"accuracy": 4, "latency_ok": 0.5, "tone": "formal", "hallucination": True, "comment": "ok"}
    )
    assert rating["hallucination"] is True
    assert RUBRIC.normalised(rating) == {"accuracy": 0.75, "latency_ok": 0.5, "tone": 1.0, "hallucination": 0.0}


def test_every_problem_of_a_rating_is_listed_with_its_criterion() -> None:
    with pytest.raises(RatingError) as info:
        RUBRIC.validate_rating(
            {
                "accuracy": 7,
                "latency_ok": 0.5,
                "tone": "sarcastic",
                "hallucination": "perhaps",
                "comment": "x" * 30,
                "x": 1,
            }
        )
    problems = dict(info.value.problems)
    assert problems["accuracy"] == "7 is outside the range; allowed: whole numbers from 1 to 5"
    assert problems["tone"] == "'sarcastic' is not a choice; allowed: formal, casual, rude"
    assert "not a yes/no answer" in problems["hallucination"]
    assert "at most 20" in problems["comment"]
    assert "not a criterion of this rubric" in problems["x"]


def test_missing_required_criteria_and_wrong_types_are_refused() -> None:
    with pytest.raises(RatingError) as info:
        RUBRIC.validate_rating({"accuracy": 3.5, "latency_ok": True})
    problems = dict(info.value.problems)
    assert problems["accuracy"] == "3.5 is not a whole number; allowed: whole numbers from 1 to 5"
    assert "is not a number" in problems["latency_ok"]
    assert problems["tone"] == "missing; this criterion is required"
    assert "comment" not in problems  # text is optional by default


def test_rubric_definitions_are_validated() -> None:
    with pytest.raises(ValidationError, match=r"min .* must be below max"):
        NumericCriterion(name="a", description="d", min=5, max=1)
    with pytest.raises(ValidationError, match="criterion names must be unique"):
        Rubric(name="r", criteria=[TextCriterion(name="a", description="d"), TextCriterion(name="a", description="d")])
    with pytest.raises(ValidationError, match="scores must give a value for every choice"):
        CategoricalCriterion(name="c", description="d", choices=["x", "y"], scores={"x": 1})
    with pytest.raises(ValidationError):
        Rubric(name="Bad Name", criteria=[TextCriterion(name="a", description="d")])
    loaded = Rubric.model_validate(
        {"name": "yaml_rubric", "criteria": [{"type": "boolean", "name": "safe", "description": "is it safe?"}]}
    )
    assert isinstance(loaded.criteria[0], BooleanCriterion)
    with pytest.raises(ValidationError, match=r"'stars'"):
        Rubric.model_validate({"name": "r", "criteria": [{"type": "stars", "name": "a", "description": "d"}]})
