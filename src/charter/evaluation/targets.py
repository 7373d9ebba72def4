"""How Charter calls the system under test: target configurations, credentials by reference, prices.

Three kinds of target, told apart by `kind`:
- `openai_chat`: an OpenAI-compatible chat-completions endpoint (`{base_url}/chat/completions`, bearer key);
- `http_json`: any HTTP endpoint taking JSON: the body is a Jinja2 template rendered in a sandbox with
  StrictUndefined, the answer is read from the response JSON at a dotted path (`result.text`, `choices.0.text`);
- `offline`: outputs uploaded for tools without an API, a mapping sample id -> output.

Credentials are stored only as a reference, `env:NAME` or `file:/absolute/path`, and resolved at call time by
`resolve_secret`; no configuration, error message or result ever holds the secret itself.

This module holds the configurations; `target_wire.py` builds requests and reads answers; `runner.py` does the I/O.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from jinja2 import StrictUndefined, TemplateSyntaxError, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator


class TargetError(ValueError):
    """A target that cannot be used as configured (bad field, missing credential, bad template)."""


# ----------------------------------------------------------------------------- credentials by reference

_ENV_REF = re.compile(r"env:[A-Za-z_][A-Za-z0-9_]*")
_REF_HELP = "credentials are stored by reference only: 'env:NAME' or 'file:/absolute/path' (never the key itself)"


def _check_secret_ref(value: str) -> str:
    if _ENV_REF.fullmatch(value) or (value.startswith("file:/") and len(value) > len("file:/")):
        return value
    # never echo the value: it may be the key itself, pasted by mistake
    raise ValueError(_REF_HELP)


SecretRef = Annotated[str, AfterValidator(_check_secret_ref)]


def resolve_secret(ref: str, environ: Mapping[str, str] | None = None) -> str:
    """The secret a reference points at, read now. Errors name the reference, never a value."""
    _check_secret_ref(ref)
    kind, _, name = ref.partition(":")
    if kind == "env":
        value = (os.environ if environ is None else environ).get(name, "")
        if not value.strip():
            raise TargetError(f"credential {ref}: environment variable {name} is not set or empty")
        return value.strip()
    try:
        value = Path(name).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise TargetError(f"credential {ref}: cannot read {name} ({exc.strerror or type(exc).__name__})") from None
    except UnicodeDecodeError:
        raise TargetError(f"credential {ref}: {name} is not UTF-8 text") from None
    if not value:
        raise TargetError(f"credential {ref}: {name} is empty")
    return value


# ----------------------------------------------------------------------------- configurations

_CONFIG = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)
_URL = re.compile(r"https?://[^\s/?#]+(/[^\s?#]*)?")
_RESERVED_BODY = frozenset({"model", "messages", "stream", "n"})
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "api-key", "x-api-key", "cookie"})


def _check_url(value: str) -> str:
    if not _URL.fullmatch(value):
        raise ValueError("must be an http:// or https:// URL without query string or fragment")
    return value.rstrip("/")


def _check_headers(value: dict[str, str]) -> dict[str, str]:
    secret = sorted(k for k in value if k.lower() in _SECRET_HEADERS)
    if secret:
        raise ValueError(f"header {secret[0]!r} carries a credential: configure it by reference instead")
    return value


Url = Annotated[str, AfterValidator(_check_url)]
Headers = Annotated[dict[str, str], AfterValidator(_check_headers)]


class ChatParameters(BaseModel):
    """Generation parameters sent with every chat request; `extra_body` for provider-specific ones."""

    model_config = _CONFIG

    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    seed: int | None = None
    stop: str | list[str] | None = None
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    extra_body: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _no_reserved(self) -> ChatParameters:
        clash = sorted(_RESERVED_BODY & self.extra_body.keys())
        if clash:
            raise ValueError(f"extra_body may not set {', '.join(clash)}: the runner sets those")
        return self

    def body(self) -> dict[str, Any]:
        fields = self.model_dump(exclude_none=True, exclude={"extra_body"})
        return {**fields, **self.extra_body}


class ChatTarget(BaseModel):
    """An OpenAI-compatible chat-completions endpoint; base_url as the OpenAI SDK takes it (…/v1)."""

    model_config = _CONFIG

    kind: Literal["openai_chat"] = "openai_chat"
    base_url: Url
    model: str = Field(min_length=1)
    parameters: ChatParameters = Field(default_factory=ChatParameters)
    api_key: SecretRef | None = None
    headers: Headers = Field(default_factory=dict)
    system_prompt: str | None = None

    @property
    def secret_ref(self) -> str | None:
        return self.api_key


def _json_default(value: object) -> object:
    if isinstance(value, Undefined):
        str(value)  # StrictUndefined raises UndefinedError naming what is missing
    raise TypeError(f"{type(value).__name__} is not JSON")


def _tojson(value: object) -> str:
    """Plain JSON (Jinja's own tojson escapes <, >, & and ' for HTML, which a JSON body does not need)."""
    return json.dumps(value, ensure_ascii=False, default=_json_default)


TEMPLATES = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
TEMPLATES.filters["tojson"] = _tojson
PATH_PART = re.compile(r"[^.\[\]]+|\[\d+\]")


def _check_template(value: str) -> str:
    try:
        TEMPLATES.parse(value)
    except TemplateSyntaxError as exc:
        raise ValueError(f"template syntax error on line {exc.lineno}: {exc.message}") from None
    return value


_PATH = re.compile(r"(?:[^.\[\]]+|\[\d+\])(?:\.[^.\[\]]+|\[\d+\])*")


def _check_path(value: str) -> str:
    if not _PATH.fullmatch(value):
        raise ValueError("must be a dotted path into the response JSON, e.g. 'result.text' or 'choices[0].text'")
    return value


Template = Annotated[str, AfterValidator(_check_template)]
JsonPath = Annotated[str, AfterValidator(_check_path)]


class HttpTarget(BaseModel):
    """A generic HTTP JSON endpoint: a sandboxed Jinja2 body template and a path to the answer.

    Template variables: `prompt` (the text, or the last user message), `messages` (list of {role, content}),
    `input` (the sample input as given), `id`, `metadata`, `tags`, `choices`, `parameters`; `tojson` to quote.
    """

    model_config = _CONFIG

    kind: Literal["http_json"] = "http_json"
    url: Url
    method: Literal["POST", "PUT"] = "POST"
    headers: Headers = Field(default_factory=dict)
    auth: SecretRef | None = None
    auth_header: str = "Authorization"
    auth_scheme: str = "Bearer"
    body_template: Template
    output_path: JsonPath
    input_tokens_path: JsonPath | None = None
    output_tokens_path: JsonPath | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    model: str | None = None  # for pricing only

    @property
    def secret_ref(self) -> str | None:
        return self.auth


class OfflineTarget(BaseModel):
    """Outputs uploaded for a tool without an API: sample id -> output."""

    model_config = _CONFIG

    kind: Literal["offline"] = "offline"
    outputs: dict[str, str]
    model: str | None = None

    @property
    def secret_ref(self) -> str | None:
        return None


Target = Annotated[ChatTarget | HttpTarget | OfflineTarget, Field(discriminator="kind")]
_TARGET = TypeAdapter[ChatTarget | HttpTarget | OfflineTarget](Target)


def _explain(exc: ValidationError, what: str) -> str:
    problems = []
    for error in exc.errors(include_input=False, include_url=False):
        where = ".".join(str(p) for p in error["loc"]) or what
        problems.append(f"{where}: {error['msg'].removeprefix('Value error, ')}")
    return f"invalid {what}: " + "; ".join(problems)


def parse_target(data: Mapping[str, Any]) -> ChatTarget | HttpTarget | OfflineTarget:
    """A target from its stored or submitted configuration; TargetError says which field is wrong and why."""
    try:
        return _TARGET.validate_python(dict(data))
    except ValidationError as exc:
        raise TargetError(_explain(exc, "target")) from None


# ----------------------------------------------------------------------------- prices


class Price(BaseModel):
    model_config = _CONFIG

    input_per_million: Decimal = Field(ge=0)
    output_per_million: Decimal = Field(ge=0)


class PriceTable(BaseModel):
    """Per model: price of one million input and output tokens (any currency, one per table)."""

    model_config = _CONFIG

    prices: dict[str, Price] = Field(default_factory=dict)

    def cost(self, model: str | None, tokens_in: int | None, tokens_out: int | None) -> Decimal | None:
        """The cost of one call, or None when the model has no price or the tokens are unknown."""
        price = self.prices.get(model) if model else None
        if price is None or tokens_in is None or tokens_out is None:
            return None
        return (tokens_in * price.input_per_million + tokens_out * price.output_per_million) / 1_000_000
