"""Risk matrices as data: scales with labels, level bands, review cadence. Pure: no database, no web.

A matrix scores a (likelihood, impact) pair as score = likelihood x impact and maps the score to the
first level band whose max_score is at least the score. Level keys come from one ordered vocabulary
(LOW < MEDIUM < HIGH < CRITICAL) so deployment gates mean the same thing under every matrix.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, model_validator

from charter.kit.errors import ValidationFailed

LEVEL_ORDER: Final = ("LOW", "MEDIUM", "HIGH", "CRITICAL")
NAME_PATTERN: Final = r"^[a-z0-9][a-z0-9._-]{1,62}[a-z0-9]$"
KEY_PATTERN: Final = r"^[A-Z][A-Z0-9_]{0,39}$"


class ScalePoint(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    value: int = Field(ge=1, le=10)
    key: str = Field(pattern=KEY_PATTERN, description="upper-case identifier, e.g. ALMOST_CERTAIN")
    label: str = Field(min_length=1, max_length=60)
    description: str = Field(default="", max_length=2_000)


class LevelBand(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    key: str = Field(description="one of LOW, MEDIUM, HIGH, CRITICAL, in that order")
    label: str = Field(min_length=1, max_length=60)
    max_score: int = Field(ge=1, description="the highest score in this band")
    review_days: int = Field(ge=1, le=3_650, description="days until the next review of a risk at this level")
    requires_acceptance: bool = Field(
        default=False,
        description="a residual risk at this level cannot be closed as mitigated; governance must accept it",
    )
    description: str = Field(default="", max_length=2_000)


class MatrixShape(BaseModel):
    """The structure of a matrix file; MatrixSpec adds the cross-field rules."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    name: str = Field(pattern=NAME_PATTERN, description="slug, e.g. seed-5x5")
    version: int = Field(ge=1)
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5_000)
    likelihood: list[ScalePoint] = Field(min_length=2, max_length=10)
    impact: list[ScalePoint] = Field(min_length=2, max_length=10)
    levels: list[LevelBand] = Field(min_length=1, max_length=len(LEVEL_ORDER))
    acceptance_max_days: int = Field(default=365, ge=1, le=1_095)


def matrix_problems(m: MatrixShape) -> list[tuple[tuple[str | int, ...], str]]:
    """Cross-field rules, each with the exact location of the offending field."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    for axis in ("likelihood", "impact"):
        points: list[ScalePoint] = getattr(m, axis)
        for i, point in enumerate(points):
            if point.value != i + 1:
                problems.append(((axis, i, "value"), f"must be {i + 1}: values run 1, 2, 3… in order"))
        for field in ("key", "label"):
            seen: dict[str, int] = {}
            for i, point in enumerate(points):
                norm = getattr(point, field).casefold()
                if norm in seen:
                    problems.append(((axis, i, field), f"duplicate {field} (also at {axis}[{seen[norm]}])"))
                seen.setdefault(norm, i)
    top = len(m.likelihood) * len(m.impact)
    reachable = sorted({li * im for li in range(1, len(m.likelihood) + 1) for im in range(1, len(m.impact) + 1)})
    last_rank, last_max = -1, 0
    for i, band in enumerate(m.levels):
        if band.key not in LEVEL_ORDER:
            problems.append((("levels", i, "key"), f"must be one of {', '.join(LEVEL_ORDER)}"))
            continue
        rank = LEVEL_ORDER.index(band.key)
        if rank <= last_rank:
            problems.append((("levels", i, "key"), f"levels must go up in the order {' < '.join(LEVEL_ORDER)}"))
        if band.max_score <= last_max:
            problems.append((("levels", i, "max_score"), f"must be greater than the previous band's ({last_max})"))
        elif not any(last_max < s <= band.max_score for s in reachable):
            problems.append(
                (("levels", i, "max_score"), f"no score between {last_max + 1} and {band.max_score} is possible")
            )
        last_rank, last_max = rank, band.max_score
    if m.levels and m.levels[-1].max_score != top:
        problems.append(
            (("levels", len(m.levels) - 1, "max_score"), f"the last band must end at the highest score, {top}")
        )
    return problems


class MatrixSpec(MatrixShape):
    """A validated risk matrix."""

    @model_validator(mode="after")
    def _rules(self) -> MatrixSpec:
        problems = matrix_problems(self)
        if problems:
            raise ValueError("; ".join(f"{'.'.join(map(str, loc))}: {msg}" for loc, msg in problems))
        return self

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def max_score(self) -> int:
        return len(self.likelihood) * len(self.impact)

    def content_hash(self) -> str:
        body = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(body.encode()).hexdigest()

    def resolve(self, axis: str, value: int | str) -> ScalePoint:
        """A scale point by value (3, "3"), key ("POSSIBLE") or label ("Possible", "almost certain")."""
        points: list[ScalePoint] = getattr(self, axis)
        text = str(value).strip()
        for point in points:
            if text == str(point.value) or _norm(text) in (_norm(point.key), _norm(point.label)):
                return point
        allowed = ", ".join(f"{p.value} {p.key}" for p in points)
        raise ValidationFailed(
            f"{axis} {text or repr(text)} is not on the {self.ref} scale; use one of: {allowed}",
            errors=[{"loc": [axis], "msg": f"allowed: {allowed}"}],
        )

    def level_for(self, score: int) -> LevelBand:
        if not 1 <= score <= self.max_score:
            raise ValueError(f"score {score} is outside 1..{self.max_score} of {self.ref}")
        for band in self.levels:
            if score <= band.max_score:
                return band
        raise AssertionError("the last band ends at max_score")  # pragma: no cover (validated)

    def band(self, key: str) -> LevelBand | None:
        return next((b for b in self.levels if b.key == key), None)

    def score(self, likelihood: int | str, impact: int | str) -> Scored:
        li = self.resolve("likelihood", likelihood)
        im = self.resolve("impact", impact)
        value = li.value * im.value
        band = self.level_for(value)
        return Scored(li.value, im.value, value, band.key, li.label, im.label)


@dataclass(frozen=True)
class Scored:
    likelihood: int
    impact: int
    score: int
    level: str
    likelihood_label: str
    impact_label: str


def level_rank(level: str | None) -> int:
    """LOW 0 … CRITICAL 3; unassessed -1."""
    return LEVEL_ORDER.index(level) if level in LEVEL_ORDER else -1


def _norm(text: str) -> str:
    return text.casefold().replace("_", " ").replace("-", " ").strip()


def spec_from_json(content: dict[str, Any]) -> MatrixSpec:
    return MatrixSpec.model_validate(content)
