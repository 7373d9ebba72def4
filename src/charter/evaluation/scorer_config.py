"""Scorer configurations: one validated pydantic model per scorer type, and their parsing with clear errors.

``parse_scorer_config`` takes a mapping with ``type`` and options (or just the type name) and returns the model;
an unknown scorer, an unknown or missing option or a bad value raises ``ScorerConfigError`` naming the scorer,
the option and what is allowed. Regular expressions and JSON schemas are compiled / checked here, so a bad one is
refused when the configuration is saved, not when the first item is scored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

__all__ = [
    "CONFIG_TYPES",
    "ContainsConfig",
    "ExactConfig",
    "JsonSchemaConfig",
    "LlmJudgeConfig",
    "NormalisedConfig",
    "NumericConfig",
    "RefusalConfig",
    "RegexConfig",
    "ScorerConfig",
    "ScorerConfigError",
    "SimilarityConfig",
    "parse_scorer_config",
]


class ScorerConfigError(ValueError):
    """A scorer configuration that cannot be used (unknown scorer, unknown option, bad value)."""


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


Against = Literal["expected", "reference"]


class ExactConfig(_Config):
    type: Literal["exact"] = "exact"
    against: Against = "expected"
    strip: bool = Field(default=False, description="ignore leading and trailing whitespace")


class NormalisedConfig(_Config):
    type: Literal["normalised"] = "normalised"
    against: Against = "expected"
    unicode: bool = True
    case: bool = True
    punctuation: bool = True
    whitespace: bool = True


class ContainsConfig(_Config):
    type: Literal["contains"] = "contains"
    values: list[str] | None = Field(default=None, description="strings to look for; default: the sample's field")
    against: Against = "expected"
    mode: Literal["any", "all"] = "any"
    case_sensitive: bool = False


class RegexConfig(_Config):
    type: Literal["regex"] = "regex"
    pattern: str
    match: Literal["search", "fullmatch"] = "search"
    ignore_case: bool = False
    multiline: bool = False
    dotall: bool = False

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"pattern {pattern!r} does not compile: {exc.msg} at position {exc.pos}") from None
        return pattern


class NumericConfig(_Config):
    type: Literal["numeric"] = "numeric"
    expected: float | None = Field(default=None, description="the target number; default: parsed from the sample")
    against: Against = "expected"
    abs_tol: float = Field(default=0.0, ge=0.0)
    rel_tol: float = Field(default=0.0, ge=0.0)
    pick: Literal["last", "first", "only"] = Field(default="last", description="which number of the output counts")


class JsonSchemaConfig(_Config):
    type: Literal["json_schema"] = "json_schema"
    json_schema: dict[str, Any] = Field(alias="schema")
    extract: bool = Field(default=True, description="read a fenced ```json block when the output is not bare JSON")
    check_formats: bool = False

    @field_validator("json_schema")
    @classmethod
    def _valid_schema(cls, schema: dict[str, Any]) -> dict[str, Any]:
        import jsonschema  # start-up time: see pyproject's PLC0415 exceptions

        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as exc:
            where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
            raise ValueError(f"the schema is not a valid Draft 2020-12 schema at {where}: {exc.message}") from None
        return schema


class SimilarityConfig(_Config):
    type: Literal["similarity"] = "similarity"
    method: Literal["ratio", "token_set_ratio", "token_sort_ratio", "partial_ratio"] = "ratio"
    threshold: float = Field(default=0.8, ge=0.0, le=1.0, description="pass at or above this similarity (0-1)")
    against: Against = "expected"
    preprocess: bool = Field(default=True, description="lower-case and strip non-alphanumerics (rapidfuzz)")


class RefusalConfig(_Config):
    type: Literal["refusal"] = "refusal"
    expect_refusal: bool | None = Field(default=None, description="pass when the output does (True) / does not refuse")
    window: int = Field(default=400, gt=0, description="how many leading characters are read")
    extra_patterns: list[str] = Field(default_factory=list)

    @field_validator("extra_patterns")
    @classmethod
    def _compile_all(cls, patterns: list[str]) -> list[str]:
        for p in patterns:
            try:
                re.compile(p)
            except re.error as exc:
                raise ValueError(f"extra pattern {p!r} does not compile: {exc.msg} at position {exc.pos}") from None
        return patterns


class LlmJudgeConfig(_Config):
    type: Literal["llm_judge"] = "llm_judge"
    judge: str = Field(min_length=1, description="the target that acts as judge")
    rubric: str = Field(default="accuracy_tone_hallucination", min_length=1)
    pass_threshold: float | None = Field(default=None, ge=0.0, le=1.0, description="on the rubric's 0-1 mean")


ScorerConfig = Annotated[
    ExactConfig
    | NormalisedConfig
    | ContainsConfig
    | RegexConfig
    | NumericConfig
    | JsonSchemaConfig
    | SimilarityConfig
    | RefusalConfig
    | LlmJudgeConfig,
    Field(discriminator="type"),
]
_ADAPTER: TypeAdapter[ScorerConfig] = TypeAdapter(ScorerConfig)
CONFIG_TYPES: dict[str, type[_Config]] = {
    c.model_fields["type"].default: c
    for c in (
        ExactConfig,
        NormalisedConfig,
        ContainsConfig,
        RegexConfig,
        NumericConfig,
        JsonSchemaConfig,
        SimilarityConfig,
        RefusalConfig,
        LlmJudgeConfig,
    )
}


def _describe(name: str, exc: ValidationError) -> str:
    cls = CONFIG_TYPES.get(name)
    options = ", ".join(f for f in cls.model_fields if f != "type") if cls else ""
    parts = []
    # unknown options first: a misspelt option also shows up as the required one missing
    for err in sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden"):
        loc = [str(p) for p in err["loc"] if str(p) != name]
        field = ".".join(loc) or "(config)"
        if err["type"] == "extra_forbidden":
            parts.append(f"option {field!r} is not known; options: {options}")
        elif err["type"] == "missing":
            parts.append(f"option {field!r} is required")
        else:
            msg = err["msg"].removeprefix("Value error, ")
            parts.append(f"option {field!r}: {msg}")
    return f"scorer {name!r}: " + "; ".join(parts)


def parse_scorer_config(config: Mapping[str, Any] | str | BaseModel) -> ScorerConfig:
    """A validated scorer configuration from a mapping (``{"type": "regex", "pattern": ...}``) or a type name."""
    if isinstance(config, BaseModel):
        config = config.model_dump(by_alias=True)
    if isinstance(config, str):
        config = {"type": config}
    if not isinstance(config, Mapping):
        raise ScorerConfigError(f"a scorer configuration is a mapping with a 'type', got {config!r}")
    name = config.get("type")
    if name not in CONFIG_TYPES:
        raise ScorerConfigError(f"unknown scorer {name!r}; scorers: {', '.join(sorted(CONFIG_TYPES))}")
    try:
        return _ADAPTER.validate_python(dict(config))
    except ValidationError as exc:
        raise ScorerConfigError(_describe(str(name), exc)) from None
