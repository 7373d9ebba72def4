"""Prompt templates: `{{name}}` variables rendered by Jinja2's sandbox, with errors that say line and column.

Rules a prompt template follows (checked when a version is created, so production never meets them first):
- variables are `{{name}}`; filters (`{{name | upper}}`), `{% if %}`, `{% for %}` and `{% raw %}` work as in Jinja;
- no calls (`x()`), no attribute names starting with `_`, no `{% extends %}` / `{% import %}`: no code runs;
- other prompts are included with `{% include "name@label" %}` or `{% include "name@3" %}` (see compose.py);
- at render time attribute access on objects is refused (dict keys via `user.name` still work), undefined variables
  are collected and reported all at once, and a strict render also refuses variables the prompt does not use.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Literal

import jinja2
from jinja2 import meta, nodes
from jinja2.exceptions import SecurityError
from jinja2.lexer import TokenStream
from jinja2.parser import Parser
from jinja2.runtime import ChainableUndefined, LoopContext
from jinja2.sandbox import SandboxedEnvironment
from jinja2.utils import missing

from charter.prompts.config import validate_config
from charter.prompts.errors import (
    MissingVariablesError,
    PromptContentError,
    PromptError,
    TemplateSecurityError,
    TemplateSyntaxError,
    UnknownVariablesError,
)
from charter.prompts.lexing import (
    INCLUDE_FORM,
    LABEL_RE,
    NAME_RE,
    IncludeSite,
    PromptRef,
    Tok,
    Tracker,
    include_sites,
    line_column,
    normalise,
    parse_ref,
    syntax_error,
    tokenize,
)

__all__ = [
    "ENV",
    "LABEL_RE",
    "NAME_RE",
    "ChatMessage",
    "CheckedTemplate",
    "IncludeSite",
    "PromptContent",
    "PromptRef",
    "PromptType",
    "Tok",
    "canonical_json",
    "check_template",
    "include_sites",
    "line_column",
    "normalise",
    "parse_ref",
    "render_template",
    "tokenize",
    "variables",
]

PromptType = Literal["text", "chat"]
PROMPT_TYPES: tuple[PromptType, ...] = ("text", "chat")
MAX_TEMPLATE_CHARS = 200_000
MAX_MESSAGES = 200
ROLE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]{0,31}$")

_RECORDER: ContextVar[list[str] | None] = ContextVar("charter_prompt_missing", default=None)


class _RecordingUndefined(ChainableUndefined):
    """Renders as empty but records every use, so one render reports every missing variable at once."""

    __slots__ = ()

    def _record(self) -> None:
        if self._undefined_exception is SecurityError:
            raise TemplateSecurityError(f"refused by the sandbox: {self._undefined_message}")
        found = _RECORDER.get()
        if found is not None:
            if self._undefined_obj is missing and isinstance(self._undefined_name, str):
                found.append(self._undefined_name)
            else:
                found.append("~" + self._undefined_message)

    def __str__(self) -> str:
        self._record()
        return ""

    def __iter__(self) -> Iterator[Any]:
        self._record()
        yield from ()

    def __bool__(self) -> bool:
        self._record()
        return False

    def __len__(self) -> int:
        self._record()
        return 0

    def __eq__(self, other: Any) -> bool:
        self._record()
        return False

    def __ne__(self, other: Any) -> bool:
        self._record()
        return True

    def __hash__(self) -> int:
        return id(type(self))

    def _fail_with_undefined_error(self, *args: Any, **kwargs: Any) -> Any:
        self._record()
        return super()._fail_with_undefined_error(*args, **kwargs)


class _PromptEnvironment(SandboxedEnvironment):
    """Jinja's sandbox, tightened: no globals, no calls, attributes only on the loop helper."""

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        return isinstance(obj, LoopContext) and not attr.startswith("_") and super().is_safe_attribute(obj, attr, value)

    def is_safe_callable(self, obj: Any) -> bool:
        return False


ENV = _PromptEnvironment(undefined=_RecordingUndefined, autoescape=False, keep_trailing_newline=True)
ENV.globals.clear()


# ---------------------------------------------------------------- parsing and checks


def _node_column(raw: Sequence[Tok], line: int, kind: str, value: str | None = None) -> int:
    for tok in raw:
        if tok.line == line and tok.type == kind and (value is None or tok.value == value):
            return tok.column
    return 1


def _static_checks(ast: nodes.Template, raw: Sequence[Tok], where: str) -> None:
    for node in ast.find_all((nodes.Call, nodes.Getattr, nodes.Extends, nodes.Import, nodes.FromImport)):
        line = node.lineno
        if isinstance(node, nodes.Call):
            column = _node_column(raw, line, "operator", "(")
            problem = "calls are not allowed in prompts (no code runs); use filters such as {{ name | upper }}"
        elif isinstance(node, nodes.Getattr):
            if not node.attr.startswith("_"):
                continue
            column = _node_column(raw, line, "name", node.attr)
            problem = f"attribute names starting with '_' are not allowed ({node.attr!r})"
        else:
            keyword = (
                "extends" if isinstance(node, nodes.Extends) else "import" if isinstance(node, nodes.Import) else "from"
            )
            column = _node_column(raw, line, "name", keyword)
            problem = f"'{{% {keyword} %}}' is not allowed in prompts; {INCLUDE_FORM}"
        raise TemplateSyntaxError(problem, line=line, column=column, where=where)


@dataclass(frozen=True)
class CheckedTemplate:
    """A template that passed every check: its AST, variables and includes."""

    source: str
    ast: nodes.Template
    variables: frozenset[str]
    includes: tuple[IncludeSite, ...]


@functools.lru_cache(maxsize=512)
def _check_cached(source: str, where: str) -> CheckedTemplate:
    if len(source) > MAX_TEMPLATE_CHARS:
        raise TemplateSyntaxError(
            f"template has {len(source)} characters; at most {MAX_TEMPLATE_CHARS} are allowed",
            line=1,
            column=1,
            where=where,
        )
    tracker = Tracker(source)
    parser: Parser | None = None
    try:
        parser = Parser(ENV, "")
        parser.stream = TokenStream(tracker.tokens(), None, None)
        ast = parser.parse()
    except jinja2.TemplateSyntaxError as exc:
        raise syntax_error(tracker, exc, where, parser) from None
    sites = include_sites(tracker.raw, where)
    _static_checks(ast, tracker.raw, where)
    try:
        ENV.compile(ast)
    except jinja2.TemplateSyntaxError as exc:
        raise syntax_error(tracker, exc, where, None) from None
    return CheckedTemplate(source, ast, frozenset(meta.find_undeclared_variables(ast)), tuple(sites))


def check_template(source: str, where: str = "template") -> CheckedTemplate:
    """Parse and check a template; raise TemplateSyntaxError with line and column."""
    if not isinstance(source, str):
        raise PromptContentError(f"{where}: a template is text, got {type(source).__name__}")
    return _check_cached(normalise(source), where)


def variables(source: str) -> frozenset[str]:
    """The variables a template reads (Jinja's undeclared variables: loop variables and `set` names excluded)."""
    return check_template(source).variables


@functools.lru_cache(maxsize=512)
def _compiled(source: str) -> jinja2.Template:
    return ENV.from_string(source)


def render_template(source: str, values: Mapping[str, Any], where: str = "template") -> str:
    """Render one checked template; every missing variable is reported in one MissingVariablesError."""
    checked = check_template(source, where)
    if checked.includes:
        refs = ", ".join(str(site.ref) for site in checked.includes)
        raise PromptError(
            f"{where} includes other prompts ({refs}); resolve it first (compose.resolve) and render that"
        )
    found: list[str] = []
    token = _RECORDER.set(found)
    aborted = False
    try:
        text = _compiled(checked.source).render(dict(values))
    except jinja2.UndefinedError:
        aborted, text = True, ""
    except SecurityError as exc:
        raise TemplateSecurityError(f"{where}: refused by the sandbox: {exc}") from None
    except TemplateSecurityError as exc:
        raise TemplateSecurityError(f"{where}: {exc.message}") from None
    except (TypeError, ValueError, ArithmeticError, LookupError, jinja2.TemplateError) as exc:
        if isinstance(exc, PromptError):
            raise
        raise PromptError(f"{where}: rendering failed: {exc}") from None
    finally:
        _RECORDER.reset(token)
    names = {item for item in found if not item.startswith("~")}
    if aborted:
        names |= checked.variables - set(values)
    if names or found:
        other = sorted({item[1:] for item in found if item.startswith("~")})
        raise MissingVariablesError(names, where=where, other=other)
    return text


# ---------------------------------------------------------------- prompt content and its hash


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: str
    content: str


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


@dataclass(frozen=True, eq=True)
class PromptContent:
    """What a version holds: type, template (text) or messages (chat), model configuration. Validated on creation."""

    type: PromptType
    template: str | None = None
    messages: tuple[ChatMessage, ...] | None = None
    config: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.type not in PROMPT_TYPES:
            raise PromptContentError(f"type {self.type!r} is not a prompt type; allowed: text, chat")
        if self.type == "text":
            if self.template is None or self.messages is not None:
                raise PromptContentError("a text prompt has a template and no messages")
            if not self.template.strip():
                raise PromptContentError("template is empty")
            object.__setattr__(self, "template", normalise(self.template))
        else:
            object.__setattr__(self, "messages", self._checked_messages())
        object.__setattr__(self, "config", validate_config(self.config))
        for where, source in self.sources():
            check_template(source, where)

    def _checked_messages(self) -> tuple[ChatMessage, ...]:
        if self.template is not None or not self.messages:
            raise PromptContentError("a chat prompt has a non-empty list of messages and no template")
        if len(self.messages) > MAX_MESSAGES:
            raise PromptContentError(f"a chat prompt has at most {MAX_MESSAGES} messages, got {len(self.messages)}")
        checked = []
        for i, message in enumerate(self.messages, start=1):
            if isinstance(message, Mapping):
                unknown = set(message) - {"role", "content"}
                if unknown:
                    raise PromptContentError(
                        f"message {i}: unknown keys {sorted(unknown)}; a message has role and content"
                    )
                message = ChatMessage(message.get("role"), message.get("content"))  # type: ignore[arg-type]
            if not isinstance(message, ChatMessage):
                raise PromptContentError(f"message {i}: a message is a mapping with role and content")
            if not isinstance(message.role, str) or not ROLE_RE.match(message.role):
                raise PromptContentError(
                    f"message {i}: role {message.role!r} is not valid; use e.g. system, user, assistant "
                    "(a letter, then letters, digits, '_' or '-')"
                )
            if not isinstance(message.content, str):
                raise PromptContentError(f"message {i}: content is text, got {type(message.content).__name__}")
            checked.append(ChatMessage(message.role, normalise(message.content)))
        return tuple(checked)

    @classmethod
    def text(cls, template: str, config: Mapping[str, Any] | None = None) -> PromptContent:
        return cls("text", template=template, config=dict(config or {}))

    @classmethod
    def chat(
        cls, messages: Sequence[ChatMessage | Mapping[str, Any]], config: Mapping[str, Any] | None = None
    ) -> PromptContent:
        return cls("chat", messages=tuple(messages), config=dict(config or {}))  # type: ignore[arg-type]

    @classmethod
    def trusted(
        cls,
        kind: PromptType,
        *,
        template: str | None = None,
        messages: Sequence[ChatMessage] | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> PromptContent:
        """Content valid by construction (a stored version read back, includes spliced into checked templates),
        built without checking again: parsing costs milliseconds, serving should not pay it. Never for outside input."""
        made = object.__new__(cls)
        values = {"type": kind, "template": template, "messages": None if messages is None else tuple(messages)}
        for field_name, value in {**values, "config": dict(config or {})}.items():
            object.__setattr__(made, field_name, value)
        return made

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PromptContent:
        """From `{"type", "template" | "messages", "config"}` (the shape of `to_dict`)."""
        kind = data.get("type", "text")
        if kind == "chat":
            messages = data.get("messages")
            if not isinstance(messages, list | tuple):
                raise PromptContentError("a chat prompt needs 'messages': a list of {role, content}")
            return cls.chat(messages, data.get("config"))
        return cls(kind, template=data.get("template"), config=dict(data.get("config") or {}))

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"type": self.type, "config": dict(self.config)}
        if self.type == "text":
            body["template"] = self.template
        else:
            body["messages"] = [{"role": m.role, "content": m.content} for m in self.messages or ()]
        return body

    def sources(self) -> list[tuple[str, str]]:
        """(where, template source) for each template in the prompt: `template`, or `message N (role)`."""
        if self.type == "text":
            return [("template", self.template or "")]
        return [(f"message {i} ({m.role})", m.content) for i, m in enumerate(self.messages or (), start=1)]

    def __hash__(self) -> int:
        return hash(self.hash)

    @functools.cached_property
    def hash(self) -> str:
        """sha256 of the canonical JSON of type, template/messages and config: same content, same hash."""
        return "sha256:" + hashlib.sha256(canonical_json(self.to_dict())).hexdigest()

    def variables(self) -> frozenset[str]:
        found: set[str] = set()
        for where, source in self.sources():
            found |= check_template(source, where).variables
        return frozenset(found)

    def include_refs(self) -> list[PromptRef]:
        return [site.ref for where, source in self.sources() for site in check_template(source, where).includes]

    def render(self, values: Mapping[str, Any], *, strict: bool = False) -> str | list[dict[str, str]]:
        """Text (text prompt) or `[{role, content}]` (chat). Strict: refuse variables the prompt does not use."""
        if strict:
            unknown = set(values) - self.variables()
            if unknown:
                raise UnknownVariablesError(unknown, self.variables())
        if self.type == "text":
            return render_template(self.template or "", values)
        rendered: list[dict[str, str]] = []
        missing_names: set[str] = set()
        other: list[str] = []
        for message, (where, source) in zip(self.messages or (), self.sources(), strict=True):
            try:
                rendered.append({"role": message.role, "content": render_template(source, values, where)})
            except MissingVariablesError as exc:
                missing_names.update(exc.names)
                other.extend(f"{where}: {item}" for item in exc.other)
        if missing_names or other:
            raise MissingVariablesError(missing_names, where="messages", other=other)
        return rendered
