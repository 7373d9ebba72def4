"""Import from and export to the JSON shapes of Langfuse and the MLflow Prompt Registry.

Langfuse — the prompt object of its public API (`GET /api/public/v2/prompts/{name}`) and SDKs: `name`, `version`,
`type` (text|chat), `prompt` (text, or a list of `{role, content}` messages), `config`, `labels`, `tags`,
`commitMessage`. A document is one such object, a list of them, or `{"data": [...]}` / `{"prompts": [...]}`.
Langfuse substitutes `{{variable}}` literally and references prompts as `@@@langfusePrompt:name=N|label=L@@@`
(or `|version=V`); on import those become Jinja variables and `{% include "N@L" %}`, and any other text that Jinja
would read as markup is wrapped in `{% raw %}`, so a rendered prompt reads the same in both. Export reverses this;
templates using Jinja beyond variables and includes (if, for, filters) cannot be expressed in Langfuse and are
refused with their line and column. Langfuse's automatic `latest` label is dropped; message placeholders
(`{"type": "placeholder"}`) are refused.

MLflow — a prompt version as `mlflow.genai` describes it: `name`, `version`, `template` (text, or a list of
`{role, content}`), `commit_message`, `tags` (mapping), `aliases` (labels), `model_config` (`model_name`,
`temperature`, `max_tokens`, `top_p`, `top_k`, `frequency_penalty`, `presence_penalty`, `stop_sequences`,
`extra_params`), `creation_timestamp` (ms), `user_id`. The registry's raw model-version form (the template in the
`mlflow.prompt.text` tag, tags as `[{key, value}]`, the commit message as `description`) is read too. A document is one
version, a list, or `{"prompts" | "prompt_versions" | "model_versions": [...]}`. MLflow templates use `{{ var }}`
(and Jinja for its jinja2 prompts) and are taken as Jinja. Tags `k: v` become Charter tags `k=v` (`k` when v is empty).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from charter.prompts.errors import ExchangeFormatError, PromptError
from charter.prompts.templates import PromptContent, include_sites, normalise, tokenize

_LANGFUSE_PARTS = re.compile(
    r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}"
    r"|@@@langfusePrompt:name=([^|@]+)\|(label|version)=([^|@]+)@@@"
)
_JINJA_MARKUP = re.compile(r"\{[{%#]")
_MLFLOW_RESERVED = re.compile(r"^(mlflow\.|_mlflow)")
_CONFIG_TO_MLFLOW = {"model": "model_name", "stop": "stop_sequences"}
_CONFIG_FROM_MLFLOW = {v: k for k, v in _CONFIG_TO_MLFLOW.items()}


@dataclass(frozen=True)
class ExchangeVersion:
    """One prompt version as exchanged with another registry."""

    name: str
    version: int | None
    content: PromptContent
    labels: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    message: str | None = None
    author: str | None = None
    created_at: datetime | None = None


def load_json(text: str, source: str = "document") -> Any:
    """Parse JSON, reporting a syntax error with line and column."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ExchangeFormatError(f"{source}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from None


def _items(document: Any, keys: tuple[str, ...], source: str) -> list[Mapping[str, Any]]:
    if isinstance(document, Mapping):
        for key in keys:
            if isinstance(document.get(key), list):
                document = document[key]
                break
        else:
            document = [document]
    if not isinstance(document, list) or not all(isinstance(item, Mapping) for item in document):
        raise ExchangeFormatError(f"{source}: expected a prompt object, a list of them, or {{{keys[0]!r}: [...]}}")
    return document


def _where(item: Mapping[str, Any], index: int) -> str:
    return f"item {index + 1} ({item.get('name', '?')}@{item.get('version', '?')})"


def _version(item: Mapping[str, Any], where: str) -> int | None:
    value = item.get("version")
    if value is None:
        return None
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ExchangeFormatError(f"{where}: version must be a whole number from 1, got {value!r}")
    return value


def _text_tuple(value: Any, field: str, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ExchangeFormatError(f"{where}: {field} must be a list of text")
    return tuple(value)


def _name(item: Mapping[str, Any], where: str) -> str:
    name = item.get("name")
    if not isinstance(name, str) or not name:
        raise ExchangeFormatError(f"{where}: every prompt needs a 'name'")
    return name


# ---------------------------------------------------------------- Langfuse


def langfuse_text_to_template(text: str) -> str:
    """Langfuse text (literal except `{{var}}` and prompt references) as an equivalent Jinja template."""
    out: list[str] = []
    pos = 0

    def literal(chunk: str) -> None:
        out.append("{% raw %}" + chunk + "{% endraw %}" if _JINJA_MARKUP.search(chunk) else chunk)

    for match in _LANGFUSE_PARTS.finditer(text):
        literal(text[pos : match.start()])
        if match.group(1):
            out.append(match.group(0))
        else:
            selector = match.group(4).strip()
            out.append('{% include "' + match.group(2).strip() + "@" + selector + '" %}')
        pos = match.end()
    literal(text[pos:])
    return "".join(out)


def template_to_langfuse_text(template: str, where: str = "template") -> str:
    """A Jinja template as Langfuse text; refuse what Langfuse cannot express, naming line and column."""
    template = normalise(template)
    tokens = tokenize(template, where)
    sites = {(site.line, site.column): site for site in include_sites(tokens, where)}
    out: list[str] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if (tok.line, tok.column) in sites and tok.type == "block_begin":
            ref = sites[tok.line, tok.column].ref
            selector = f"version={ref.version}" if ref.version is not None else f"label={ref.label}"
            out.append(f"@@@langfusePrompt:name={ref.name}|{selector}@@@")
            while tokens[i].type != "block_end":
                i += 1
        elif tok.type == "data":
            out.append(tok.value)
        elif tok.type in ("raw_begin", "raw_end"):
            pass
        elif tok.type == "comment_begin":
            while tokens[i].type != "comment_end":
                i += 1
        elif tok.type == "variable_begin":
            inner = []
            i += 1
            while tokens[i].type != "variable_end":
                if tokens[i].type != "whitespace":
                    inner.append(tokens[i])
                i += 1
            if len(inner) != 1 or inner[0].type != "name":
                raise ExchangeFormatError(
                    f"{where}: line {tok.line}, column {tok.column}: Langfuse renders only plain {{{{variable}}}}; "
                    "this expression cannot be exported"
                )
            if tok.value == "{{" and tokens[i].value == "}}":
                out.append(template[tok.offset : tokens[i].end])
            else:
                out.append("{{" + inner[0].value + "}}")
        else:
            raise ExchangeFormatError(
                f"{where}: line {tok.line}, column {tok.column}: {tok.value!r} — Langfuse renders only "
                "{{variable}} and prompt references; Jinja blocks cannot be exported"
            )
        i += 1
    return "".join(out)


def _langfuse_content(item: Mapping[str, Any], where: str) -> PromptContent:
    kind = item.get("type", "text")
    prompt = item.get("prompt")
    config = item.get("config") or {}
    if kind == "text":
        if not isinstance(prompt, str):
            raise ExchangeFormatError(f"{where}: a text prompt's 'prompt' is text")
        return PromptContent.text(langfuse_text_to_template(prompt), config)
    if kind != "chat":
        raise ExchangeFormatError(f"{where}: type {kind!r} is not text or chat")
    if not isinstance(prompt, list):
        raise ExchangeFormatError(f"{where}: a chat prompt's 'prompt' is a list of messages")
    messages = []
    for n, message in enumerate(prompt, start=1):
        if not isinstance(message, Mapping):
            raise ExchangeFormatError(f"{where}: message {n} is not an object")
        if message.get("type") == "placeholder":
            raise ExchangeFormatError(
                f"{where}: message {n} is a message placeholder ({message.get('name')!r}); Charter prompts do not "
                "support placeholders — replace it with messages before importing"
            )
        content = message.get("content")
        if not isinstance(content, str):
            raise ExchangeFormatError(f"{where}: message {n} needs text 'content'")
        messages.append({"role": message.get("role"), "content": langfuse_text_to_template(content)})
    return PromptContent.chat(messages, config)


def from_langfuse(document: Any, source: str = "Langfuse export") -> list[ExchangeVersion]:
    """Versions from a Langfuse export, sorted by name and version (create them in this order)."""
    versions = []
    for index, item in enumerate(_items(document, ("data", "prompts"), source)):
        where = f"{source}: {_where(item, index)}"
        try:
            content = _langfuse_content(item, where)
        except ExchangeFormatError:
            raise
        except PromptError as exc:
            raise ExchangeFormatError(f"{where}: {exc.message}") from None
        message = item.get("commitMessage")
        versions.append(
            ExchangeVersion(
                name=_name(item, where),
                version=_version(item, where),
                content=content,
                labels=tuple(lbl for lbl in _text_tuple(item.get("labels"), "labels", where) if lbl != "latest"),
                tags=_text_tuple(item.get("tags"), "tags", where),
                message=message if isinstance(message, str) else None,
            )
        )
    return sorted(versions, key=lambda v: (v.name, v.version or 0))


def to_langfuse(version: ExchangeVersion) -> dict[str, Any]:
    """One version as a Langfuse prompt object."""
    content = version.content
    where = f"{version.name}@{version.version}"
    prompt: Any
    if content.type == "text":
        prompt = template_to_langfuse_text(content.template or "", where)
    else:
        prompt = [
            {"role": m.role, "content": template_to_langfuse_text(m.content, f"{where} {w}")}
            for m, (w, _) in zip(content.messages or (), content.sources(), strict=True)
        ]
    return {
        "name": version.name,
        "version": version.version,
        "type": content.type,
        "prompt": prompt,
        "config": dict(content.config),
        "labels": list(version.labels),
        "tags": list(version.tags),
        "commitMessage": version.message,
    }


# ---------------------------------------------------------------- MLflow


def _mlflow_tags(raw: Any, where: str) -> dict[str, str]:
    if raw is None:
        return {}
    if isinstance(raw, list):
        if not all(isinstance(t, Mapping) and "key" in t for t in raw):
            raise ExchangeFormatError(f"{where}: tags as a list must be [{{key, value}}]")
        return {str(t["key"]): str(t.get("value", "")) for t in raw}
    if isinstance(raw, Mapping):
        return {str(k): "" if v is None else str(v) for k, v in raw.items()}
    raise ExchangeFormatError(f"{where}: tags must be a mapping or a list of {{key, value}}")


def _mlflow_config(raw: Any, where: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if isinstance(raw, str):
        raw = load_json(raw, where)
    if not isinstance(raw, Mapping):
        raise ExchangeFormatError(f"{where}: model_config must be a mapping")
    config = {_CONFIG_FROM_MLFLOW.get(k, k): v for k, v in raw.items() if k != "extra_params"}
    extra = raw.get("extra_params") or {}
    if not isinstance(extra, Mapping):
        raise ExchangeFormatError(f"{where}: model_config.extra_params must be a mapping")
    return {**extra, **config}


def _mlflow_content(item: Mapping[str, Any], tags: Mapping[str, str], where: str) -> PromptContent:
    template = item.get("template", tags.get("mlflow.prompt.text"))
    if isinstance(template, str) and tags.get("_mlflow_prompt_type") == "chat" and "template" not in item:
        template = load_json(template, where)
    config = _mlflow_config(item.get("model_config", tags.get("_mlflow_prompt_model_config")), where)
    if isinstance(template, str):
        return PromptContent.text(template, config)
    if isinstance(template, list):
        return PromptContent.chat(template, config)
    raise ExchangeFormatError(f"{where}: 'template' must be text or a list of {{role, content}} messages")


def from_mlflow(document: Any, source: str = "MLflow export") -> list[ExchangeVersion]:
    """Versions from an MLflow prompt registry export, sorted by name and version."""
    versions = []
    for index, item in enumerate(_items(document, ("prompts", "prompt_versions", "model_versions"), source)):
        where = f"{source}: {_where(item, index)}"
        tags = _mlflow_tags(item.get("tags"), where)
        try:
            content = _mlflow_content(item, tags, where)
        except ExchangeFormatError:
            raise
        except PromptError as exc:
            raise ExchangeFormatError(f"{where}: {exc.message}") from None
        aliases = item.get("aliases") or []
        if isinstance(aliases, list) and all(isinstance(a, Mapping) for a in aliases):
            aliases = [a.get("alias") for a in aliases]
        timestamp = item.get("creation_timestamp")
        message = item.get("commit_message", item.get("description"))
        author = item.get("user_id")
        versions.append(
            ExchangeVersion(
                name=_name(item, where),
                version=_version(item, where),
                content=content,
                labels=_text_tuple(aliases, "aliases", where),
                tags=tuple(f"{k}={v}" if v else k for k, v in sorted(tags.items()) if not _MLFLOW_RESERVED.match(k)),
                message=message if isinstance(message, str) else None,
                author=author if isinstance(author, str) else None,
                created_at=datetime.fromtimestamp(timestamp / 1000, UTC) if isinstance(timestamp, int) else None,
            )
        )
    return sorted(versions, key=lambda v: (v.name, v.version or 0))


def to_mlflow(version: ExchangeVersion) -> dict[str, Any]:
    """One version in MLflow's prompt-version shape."""
    content = version.content
    template: Any = (
        content.template
        if content.type == "text"
        else [{"role": m.role, "content": m.content} for m in content.messages or ()]
    )
    tags = {}
    for tag in version.tags:
        key, _, value = tag.partition("=")
        tags[key] = value
    body: dict[str, Any] = {
        "name": version.name,
        "version": version.version,
        "template": template,
        "commit_message": version.message,
        "tags": tags,
        "aliases": list(version.labels),
        "model_config": {_CONFIG_TO_MLFLOW.get(k, k): v for k, v in content.config.items()},
    }
    if version.author:
        body["user_id"] = version.author
    if version.created_at:
        body["creation_timestamp"] = int(version.created_at.timestamp() * 1000)
    return body
