"""Deterministic scorers and the scorer registry.

A scorer is built from a validated configuration (``parse_scorer_config``: a mapping with ``type`` and options, or
just the type name) and scores one output against one sample: ``score(output, sample) -> Score``. The sample is a
mapping or an object with the dataset item's fields; the comparison scorers read ``expected`` (the expected output)
or, with ``against="reference"``, ``reference`` (the expert's answer). A field may hold one string or a list of
acceptable strings.

An LLM judge is configured here too (``type: llm_judge``) but is not built into a ``score`` function: the runner
calls the judge target between ``judge.judge_messages`` and ``judge.parse_judge_reply`` (no network call in here).

Bad configuration raises ``ScorerConfigError`` naming the scorer, the option and what is allowed; a sample that
lacks what the scorer needs raises ``ScorerInputError`` (the item is then marked errored, never silently scored).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel
from rapidfuzz import fuzz, utils

from charter.evaluation.matching import detect_refusal, extract_json_text, find_numbers, normalise_text
from charter.evaluation.scorer_config import (
    ContainsConfig,
    ExactConfig,
    JsonSchemaConfig,
    LlmJudgeConfig,
    NormalisedConfig,
    NumericConfig,
    RefusalConfig,
    RegexConfig,
    ScorerConfig,
    ScorerConfigError,
    SimilarityConfig,
    parse_scorer_config,
)

__all__ = [
    "SCORERS",
    "ContainsConfig",
    "ExactConfig",
    "JsonSchemaConfig",
    "LlmJudgeConfig",
    "NormalisedConfig",
    "NumericConfig",
    "RefusalConfig",
    "RegexConfig",
    "Score",
    "Scorer",
    "ScorerConfig",
    "ScorerConfigError",
    "ScorerInputError",
    "SimilarityConfig",
    "build_scorer",
    "parse_scorer_config",
]


class ScorerInputError(ValueError):
    """A sample or output the scorer cannot score (the item is marked errored)."""


@dataclass(frozen=True)
class Score:
    value: float
    passed: bool | None
    explanation: str


# --- scorers --------------------------------------------------------------------------------------------------------


class Scorer(Protocol):
    def score(self, output: str, sample: Any) -> Score: ...


def _field(sample: Any, name: str) -> Any:
    if isinstance(sample, Mapping):
        return sample.get(name)
    return getattr(sample, name, None)


def _targets(sample: Any, against: str, scorer: str) -> list[str]:
    value = _field(sample, against)
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple) and value and all(isinstance(v, str) for v in value):
        return list(value)
    shown = "missing" if value is None or (isinstance(value, list | tuple) and not value) else repr(value)
    raise ScorerInputError(
        f"scorer {scorer!r} compares with the sample's {against!r} field, which is {shown}; "
        "it must be a string or a list of strings"
    )


def _text(output: Any, scorer: str) -> str:
    if not isinstance(output, str):
        raise ScorerInputError(f"scorer {scorer!r} scores text output, got {type(output).__name__}")
    return output


def _clip(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def _bool_score(passed: bool, explanation: str) -> Score:
    return Score(1.0 if passed else 0.0, passed, explanation)


class ExactScorer:
    def __init__(self, config: ExactConfig) -> None:
        self.config = config

    def score(self, output: str, sample: Any) -> Score:
        text = _text(output, "exact")
        targets = _targets(sample, self.config.against, "exact")
        if self.config.strip:
            text, targets = text.strip(), [t.strip() for t in targets]
        hit = next((t for t in targets if t == text), None)
        if hit is not None:
            return _bool_score(True, f"output equals the {self.config.against} answer")
        return _bool_score(False, f"output {_clip(text)} differs from {_clip(targets[0])}")


class NormalisedScorer:
    def __init__(self, config: NormalisedConfig) -> None:
        self.config = config

    def _norm(self, text: str) -> str:
        c = self.config
        return normalise_text(text, unicode=c.unicode, case=c.case, punctuation=c.punctuation, whitespace=c.whitespace)

    def score(self, output: str, sample: Any) -> Score:
        text = self._norm(_text(output, "normalised"))
        targets = [self._norm(t) for t in _targets(sample, self.config.against, "normalised")]
        if text in targets:
            return _bool_score(True, f"normalised output equals the {self.config.against} answer")
        return _bool_score(False, f"normalised output {_clip(text)} differs from {_clip(targets[0])}")


class ContainsScorer:
    def __init__(self, config: ContainsConfig) -> None:
        self.config = config

    def score(self, output: str, sample: Any) -> Score:
        text = _text(output, "contains")
        needles = (
            self.config.values if self.config.values is not None else _targets(sample, self.config.against, "contains")
        )
        if not needles:
            raise ScorerInputError("scorer 'contains' has no values to look for")
        fold: Callable[[str], str] = (lambda s: s) if self.config.case_sensitive else str.casefold
        haystack = fold(text)
        found = [n for n in needles if fold(n) in haystack]
        missing = [n for n in needles if n not in found]
        passed = bool(found) if self.config.mode == "any" else not missing
        value = (1.0 if found else 0.0) if self.config.mode == "any" else len(found) / len(needles)
        detail = f"found {len(found)} of {len(needles)}" + (f"; missing {missing[:5]!r}" if missing else "")
        return Score(value, passed, f"{self.config.mode}: {detail}")


class RegexScorer:
    def __init__(self, config: RegexConfig) -> None:
        self.config = config
        flags = (
            (re.IGNORECASE if config.ignore_case else 0)
            | (re.MULTILINE if config.multiline else 0)
            | (re.DOTALL if config.dotall else 0)
        )
        self.pattern = re.compile(config.pattern, flags)

    def score(self, output: str, sample: Any) -> Score:
        text = _text(output, "regex")
        found = self.pattern.fullmatch(text) if self.config.match == "fullmatch" else self.pattern.search(text)
        if found:
            return _bool_score(True, f"pattern {self.config.pattern!r} matched {_clip(found.group())}")
        return _bool_score(False, f"pattern {self.config.pattern!r} did not {self.config.match} the output")


class NumericScorer:
    def __init__(self, config: NumericConfig) -> None:
        self.config = config

    def _expected(self, sample: Any) -> float:
        if self.config.expected is not None:
            return self.config.expected
        raw = _field(sample, self.config.against)
        if isinstance(raw, list | tuple) and len(raw) == 1:
            raw = raw[0]
        if isinstance(raw, int | float) and not isinstance(raw, bool) and math.isfinite(raw):
            return float(raw)
        numbers = find_numbers(raw) if isinstance(raw, str) else []
        if len(numbers) != 1:
            raise ScorerInputError(
                f"scorer 'numeric' needs exactly one number in the sample's {self.config.against!r} field, "
                f"found {len(numbers)} in {raw!r}; or set the option 'expected'"
            )
        return numbers[0]

    def score(self, output: str, sample: Any) -> Score:
        expected = self._expected(sample)
        numbers = find_numbers(_text(output, "numeric"))
        if not numbers:
            return _bool_score(False, "no number found in the output")
        if self.config.pick == "only" and len(numbers) > 1:
            return _bool_score(False, f"expected one number, the output has {len(numbers)}")
        got = numbers[0] if self.config.pick == "first" else numbers[-1]
        tolerance = max(self.config.abs_tol, self.config.rel_tol * abs(expected))
        diff = abs(got - expected)
        passed = diff <= tolerance
        return _bool_score(passed, f"{got:g} vs expected {expected:g}: difference {diff:g}, tolerance {tolerance:g}")


class JsonSchemaScorer:
    def __init__(self, config: JsonSchemaConfig) -> None:
        self.config = config
        import jsonschema  # start-up time: see pyproject's PLC0415 exceptions

        checker = jsonschema.Draft202012Validator.FORMAT_CHECKER if config.check_formats else None
        self.validator = jsonschema.Draft202012Validator(config.json_schema, format_checker=checker)

    def score(self, output: str, sample: Any) -> Score:
        text = _text(output, "json_schema")
        if self.config.extract:
            text = extract_json_text(text)
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            return _bool_score(False, f"output is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")
        errors = list(self.validator.iter_errors(document))
        if not errors:
            return _bool_score(True, "output is valid against the schema")
        from jsonschema.exceptions import best_match  # start-up time (imported already by __init__)

        best = best_match(errors)
        where = best.json_path if best is not None else "$"
        message = best.message if best is not None else "invalid"
        return _bool_score(False, f"{len(errors)} schema error(s); at {where}: {message}")


_FUZZ: dict[str, Callable[..., float]] = {
    "ratio": fuzz.ratio,
    "token_set_ratio": fuzz.token_set_ratio,
    "token_sort_ratio": fuzz.token_sort_ratio,
    "partial_ratio": fuzz.partial_ratio,
}


class SimilarityScorer:
    def __init__(self, config: SimilarityConfig) -> None:
        self.config = config
        self.function = _FUZZ[config.method]

    def score(self, output: str, sample: Any) -> Score:
        text = _text(output, "similarity")
        processor = utils.default_process if self.config.preprocess else None
        targets = _targets(sample, self.config.against, "similarity")
        best = max(self.function(text, t, processor=processor) / 100.0 for t in targets)
        passed = best >= self.config.threshold
        return Score(best, passed, f"{self.config.method} similarity {best:.3f} (threshold {self.config.threshold:g})")


class RefusalScorer:
    def __init__(self, config: RefusalConfig) -> None:
        self.config = config
        self.extra = tuple((f"extra_{i}", re.compile(p, re.IGNORECASE)) for i, p in enumerate(config.extra_patterns))

    def score(self, output: str, sample: Any) -> Score:
        found = detect_refusal(_text(output, "refusal"), window=self.config.window, extra=self.extra)
        refused = found is not None
        expect = self.config.expect_refusal
        passed = None if expect is None else refused == expect
        why = f"refusal ({found.pattern}: {_clip(found.text)})" if found else "no refusal found"
        return Score(1.0 if refused else 0.0, passed, why)


SCORERS: dict[str, Callable[[Any], Scorer]] = {
    "exact": ExactScorer,
    "normalised": NormalisedScorer,
    "contains": ContainsScorer,
    "regex": RegexScorer,
    "numeric": NumericScorer,
    "json_schema": JsonSchemaScorer,
    "similarity": SimilarityScorer,
    "refusal": RefusalScorer,
}


def build_scorer(config: Mapping[str, Any] | str | BaseModel) -> Scorer:
    """A deterministic scorer from its configuration (see ``parse_scorer_config``)."""
    parsed = parse_scorer_config(config)
    if isinstance(parsed, LlmJudgeConfig):
        raise ScorerConfigError(
            "scorer 'llm_judge' calls a judge target: build its messages with judge.judge_messages and read the "
            "reply with judge.parse_judge_reply"
        )
    return SCORERS[parsed.type](parsed)
