"""Model configuration of a prompt version: the well-known keys are validated, other keys kept as plain JSON.

The result of `validate_config` is canonical (numbers of float fields are floats, `stop` is a list, unset keys are
dropped), so two configurations that mean the same thing hash the same.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, ValidationError

from charter.prompts.errors import ConfigError

JSON_MAX_DEPTH = 20


def _number(value: Any) -> Any:
    """Accept int and float (not bool, not text) for a float field."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"must be a number, got {type(value).__name__} {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"must be a finite number, got {value!r}")
    return float(value)


def _stop(value: Any) -> Any:
    """`stop` may be one string or a list of strings; it is stored as a list."""
    return [value] if isinstance(value, str) else value


Float = Annotated[float, BeforeValidator(_number)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class ModelConfig(BaseModel):
    """The configuration keys Charter knows. Unknown keys are allowed (provider-specific settings) if they are JSON."""

    model_config = ConfigDict(extra="allow", strict=True, frozen=True)

    model: Text | None = None
    provider: Text | None = None
    temperature: Annotated[Float, Field(ge=0, le=2)] | None = None
    max_tokens: Annotated[int, Field(ge=1, le=10_000_000)] | None = None
    top_p: Annotated[Float, Field(ge=0, le=1)] | None = None
    top_k: Annotated[int, Field(ge=1)] | None = None
    frequency_penalty: Annotated[Float, Field(ge=-2, le=2)] | None = None
    presence_penalty: Annotated[Float, Field(ge=-2, le=2)] | None = None
    stop: (
        Annotated[list[Annotated[str, StringConstraints(min_length=1)]], BeforeValidator(_stop), Field(max_length=16)]
        | None
    ) = None
    seed: int | None = None
    response_format: dict[str, Any] | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None


KNOWN_KEYS = frozenset(ModelConfig.model_fields)


def _check_json(value: Any, path: str, problems: list[tuple[str, str]], depth: int = 0) -> None:
    if depth > JSON_MAX_DEPTH:
        problems.append((path, f"nested deeper than {JSON_MAX_DEPTH} levels"))
    elif value is None or isinstance(value, str | bool | int):
        return
    elif isinstance(value, float):
        if not math.isfinite(value):
            problems.append((path, f"must be a finite number, got {value!r}"))
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _check_json(item, f"{path}[{i}]", problems, depth + 1)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                problems.append((path, f"keys must be text, got {type(key).__name__} {key!r}"))
            else:
                _check_json(item, f"{path}.{key}", problems, depth + 1)
    else:
        problems.append(
            (path, f"must be a JSON value (text, number, true/false, null, list, mapping), got {type(value).__name__}")
        )


def _problem(err: Any) -> tuple[str, str]:
    field = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in err["loc"]).lstrip(".")
    if err["type"] == "value_error":
        return field, str(err["msg"]).removeprefix("Value error, ")
    return field, f"{err['msg']} (got {err['input']!r})"


def validate_config(config: Mapping[str, Any] | None) -> dict[str, Any]:
    """Validate and canonicalise a model configuration; raise ConfigError naming every bad field."""
    if config is None:
        return {}
    if not isinstance(config, Mapping):
        raise ConfigError([("", f"must be a mapping of settings, got {type(config).__name__}")])
    problems: list[tuple[str, str]] = []
    for key in config:
        if not isinstance(key, str) or not key:
            problems.append((str(key), "keys must be non-empty text"))
    _check_json(dict(config), "", problems)
    problems = [(path.lstrip("."), problem) for path, problem in problems]
    if problems:
        raise ConfigError(problems)
    try:
        model = ModelConfig.model_validate(dict(config))
    except ValidationError as exc:
        raise ConfigError([_problem(err) for err in exc.errors(include_url=False)]) from None
    canonical = model.model_dump(exclude_none=True)
    for key, value in config.items():
        if key not in KNOWN_KEYS:
            canonical[key] = value
    return {key: canonical[key] for key in sorted(canonical)}
