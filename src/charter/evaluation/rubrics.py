"""Rubrics: the criteria a human rater or an LLM judge scores an answer on, and validation of a rating.

A criterion is numeric (a range, optionally whole numbers only), categorical (a list of choices), boolean or
free text. A rating is a mapping criterion name -> value; ``Rubric.validate_rating`` normalises it or raises
``RatingError`` listing every problem with the criterion it concerns and what is allowed.

``DEFAULT_RUBRIC`` is seed 003's benchmark comparison: "Compare the results for accuracy, tone, and hallucination
frequency" - accuracy and tone on a 1-5 scale, hallucination as a yes/no per answer (its rate over a benchmark is
the hallucination frequency).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "DEFAULT_RUBRIC",
    "BooleanCriterion",
    "CategoricalCriterion",
    "Criterion",
    "NumericCriterion",
    "RatingError",
    "RatingValue",
    "Rubric",
    "TextCriterion",
]

RatingValue = float | str | bool
_NAME = r"^[a-z][a-z0-9_]{0,63}$"
_TRUE = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


class RatingError(ValueError):
    """A rating that does not fit its rubric; ``problems`` is a list of (criterion, message)."""

    def __init__(self, rubric: str, problems: list[tuple[str, str]]) -> None:
        self.rubric = rubric
        self.problems = problems
        detail = "; ".join(f"{name}: {message}" for name, message in problems)
        super().__init__(f"rating does not fit rubric {rubric!r}: {detail}")


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=_NAME, description="identifier: lower-case letters, digits, underscores")
    description: str = Field(min_length=1, description="what the rater judges, shown to raters and to the judge")
    required: bool = True


class NumericCriterion(_Base):
    type: Literal["numeric"] = "numeric"
    min: float
    max: float
    integer: bool = True
    higher_is_better: bool = True

    @model_validator(mode="after")
    def _range(self) -> NumericCriterion:
        if not self.min < self.max:
            raise ValueError(f"criterion {self.name!r}: min ({self.min}) must be below max ({self.max})")
        return self

    def check(self, value: Any) -> float:
        if isinstance(value, str):
            try:
                value = float(value.strip())
            except ValueError:
                raise ValueError(f"{value!r} is not a number; allowed: {self._allowed()}") from None
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ValueError(f"{value!r} is not a number; allowed: {self._allowed()}")
        number = float(value)
        if not self.min <= number <= self.max:
            raise ValueError(f"{number:g} is outside the range; allowed: {self._allowed()}")
        if self.integer and number != int(number):
            raise ValueError(f"{number:g} is not a whole number; allowed: {self._allowed()}")
        return number

    def normalised(self, value: float) -> float:
        share = (value - self.min) / (self.max - self.min)
        return share if self.higher_is_better else 1.0 - share

    def _allowed(self) -> str:
        kind = "whole numbers" if self.integer else "numbers"
        return f"{kind} from {self.min:g} to {self.max:g}"


class CategoricalCriterion(_Base):
    type: Literal["categorical"] = "categorical"
    choices: list[str] = Field(min_length=2)
    scores: dict[str, float] | None = Field(default=None, description="optional value in [0, 1] of each choice")

    @model_validator(mode="after")
    def _choices(self) -> CategoricalCriterion:
        if len(set(self.choices)) != len(self.choices):
            raise ValueError(f"criterion {self.name!r}: choices must be distinct")
        if self.scores is not None:
            if set(self.scores) != set(self.choices):
                raise ValueError(f"criterion {self.name!r}: scores must give a value for every choice and no other")
            if any(not 0.0 <= s <= 1.0 for s in self.scores.values()):
                raise ValueError(f"criterion {self.name!r}: scores must lie in [0, 1]")
        return self

    def check(self, value: Any) -> str:
        if not isinstance(value, str) or value.strip() not in self.choices:
            raise ValueError(f"{value!r} is not a choice; allowed: {', '.join(self.choices)}")
        return value.strip()

    def normalised(self, value: str) -> float | None:
        return None if self.scores is None else self.scores[value]


class BooleanCriterion(_Base):
    type: Literal["boolean"] = "boolean"
    pass_value: bool = Field(default=True, description="the answer that is good news (False for 'hallucinated?')")

    def check(self, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in _TRUE:
            return _TRUE[value.strip().lower()]
        raise ValueError(f"{value!r} is not a yes/no answer; allowed: true/false, yes/no, 1/0")

    def normalised(self, value: bool) -> float:
        return 1.0 if value == self.pass_value else 0.0


class TextCriterion(_Base):
    type: Literal["text"] = "text"
    required: bool = False
    max_length: int = Field(default=4000, gt=0)

    def check(self, value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError(f"{value!r} is not text")
        if len(value) > self.max_length:
            raise ValueError(f"text is {len(value)} characters long; allowed: at most {self.max_length}")
        return value

    def normalised(self, value: str) -> None:
        return None


Criterion = Annotated[
    NumericCriterion | CategoricalCriterion | BooleanCriterion | TextCriterion, Field(discriminator="type")
]


class Rubric(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=_NAME)
    description: str = ""
    criteria: list[Criterion] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> Rubric:
        names = [c.name for c in self.criteria]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"rubric {self.name!r}: criterion names must be unique, repeated: {duplicates}")
        return self

    def criterion(self, name: str) -> NumericCriterion | CategoricalCriterion | BooleanCriterion | TextCriterion:
        for c in self.criteria:
            if c.name == name:
                return c
        raise KeyError(f"rubric {self.name!r} has no criterion {name!r}; criteria: {[c.name for c in self.criteria]}")

    def validate_rating(self, rating: Mapping[str, Any]) -> dict[str, RatingValue]:
        """The rating with every value normalised; ``RatingError`` lists unknown, missing and invalid criteria."""
        if not isinstance(rating, Mapping):
            raise RatingError(self.name, [("(rating)", f"expected a mapping of criterion -> value, got {rating!r}")])
        problems: list[tuple[str, str]] = []
        known = {c.name for c in self.criteria}
        for key in rating:
            if key not in known:
                problems.append((str(key), f"not a criterion of this rubric; criteria: {', '.join(sorted(known))}"))
        out: dict[str, RatingValue] = {}
        for c in self.criteria:
            if c.name not in rating or rating[c.name] is None:
                if c.required:
                    problems.append((c.name, "missing; this criterion is required"))
                continue
            try:
                out[c.name] = c.check(rating[c.name])
            except ValueError as exc:
                problems.append((c.name, str(exc)))
        if problems:
            raise RatingError(self.name, problems)
        return out

    def normalised(self, rating: Mapping[str, RatingValue]) -> dict[str, float]:
        """Each scored criterion of a validated rating on [0, 1], 1 best (text and unscored choices left out)."""
        out: dict[str, float] = {}
        for c in self.criteria:
            if c.name in rating:
                value = c.normalised(rating[c.name])  # type: ignore[arg-type]
                if value is not None:
                    out[c.name] = value
        return out


DEFAULT_RUBRIC = Rubric(
    name="accuracy_tone_hallucination",
    description=(
        "Seed 003 benchmark test: compare the results of the AI tool and the human subject-matter expert for "
        "accuracy, tone, and hallucination frequency."
    ),
    criteria=[
        NumericCriterion(
            name="accuracy",
            description=(
                "Accuracy: is the answer correct and complete for the task, judged against the expert's reference "
                "answer? 1 = wrong or unusable, 3 = partly correct, 5 = fully correct and complete."
            ),
            min=1,
            max=5,
        ),
        NumericCriterion(
            name="tone",
            description=(
                "Tone: is the answer's tone appropriate for its audience and purpose (professional, clear, "
                "consistent with how the organisation communicates)? "
                "1 = inappropriate, 3 = acceptable, 5 = exactly right."
            ),
            min=1,
            max=5,
        ),
        BooleanCriterion(
            name="hallucination",
            description=(
                "Hallucination: does the answer state anything as fact that is not supported by the task, its "
                "sources or the reference answer (invented facts, figures, citations or steps)? true = yes."
            ),
            pass_value=False,
        ),
        TextCriterion(name="comment", description="Optional remarks: what was wrong or missing."),
    ],
)
