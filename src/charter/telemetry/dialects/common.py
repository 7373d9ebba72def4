"""Value coercion and message parsing shared by the dialects.

Each dialect's `extract(span, found, warn)` fills `found` (field name of GenAISpan -> value) only where a field is
still missing, so the order the mapper calls the dialects in is their precedence on conflicts.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from typing import Any, Final

from charter.telemetry.model import Message

Found = dict[str, Any]
Warn = Callable[[str], None]

# Provider spellings of older conventions and other dialects -> the OTel gen_ai.provider.name well-known values.
PROVIDER_ALIASES: Final[dict[str, str]] = {
    "az.ai.openai": "azure.ai.openai",  # deprecated gen_ai.system value (semconv <= 1.36), OpenLLMetry
    "az.ai.inference": "azure.ai.inference",
    "azure": "azure.ai.openai",  # OpenInference llm.provider
    "azure_openai": "azure.ai.openai",
    "vertex_ai": "gcp.vertex_ai",  # deprecated gen_ai.system value
    "vertexai": "gcp.vertex_ai",  # OpenInference llm.system
    "gemini": "gcp.gemini",  # deprecated gen_ai.system value
    "google": "gcp.gen_ai",  # OpenInference llm.provider
    "aws": "aws.bedrock",  # OpenInference llm.provider
    "bedrock": "aws.bedrock",
    "xai": "x_ai",  # deprecated gen_ai.system value, OpenInference llm.provider
    "mistralai": "mistral_ai",  # OpenInference
    "watsonx": "ibm.watsonx.ai",
}

# Older / dialect operation spellings -> OTel gen_ai.operation.name values.
OPERATION_ALIASES: Final[dict[str, str]] = {
    "chat.completions": "chat",  # semconv 1.26 example value
    "chat_completions": "chat",
    "completion": "text_completion",  # Traceloop llm.request.type
    "completions": "text_completion",
    "embedding": "embeddings",  # Traceloop llm.request.type
}


def put(found: Found, key: str, value: Any) -> None:
    if value is not None and key not in found:
        found[key] = value


def text(value: Any) -> str | None:
    """A non-empty string attribute, stripped; anything else is absent."""
    if type(value) is str:
        value = value.strip()
        return value or None
    return None


def provider(value: Any) -> str | None:
    name = text(value)
    if name is None:
        return None
    name = name.lower()
    return PROVIDER_ALIASES.get(name, name)


def operation(value: Any) -> str | None:
    name = text(value)
    if name is None:
        return None
    name = name.lower()
    return OPERATION_ALIASES.get(name, name)


def count(value: Any, key: str, warn: Warn) -> int | None:
    """A token count: a non-negative integer (ints, integral floats and digit strings are accepted)."""
    if value is None:
        return None
    t = type(value)
    if t is int:
        number: int = value
    elif t is float and value.is_integer():
        number = int(value)
    elif t is str and value.strip().isdigit() and value.strip().isascii():
        number = int(value.strip())
    else:
        warn(f"{key} {value!r:.40} is not a token count; ignored")
        return None
    if number < 0:
        warn(f"{key} {number} is negative; ignored")
        return None
    return number


def number(value: Any, key: str, warn: Warn) -> float | None:
    if value is None:
        return None
    t = type(value)
    if t is float or t is int:
        result = float(value)
    elif t is str:
        try:
            result = float(value)
        except ValueError:
            warn(f"{key} {value!r:.40} is not a number; ignored")
            return None
    else:
        warn(f"{key} {value!r:.40} is not a number; ignored")
        return None
    if not math.isfinite(result):
        warn(f"{key} {value!r:.40} is not a finite number; ignored")
        return None
    return result


def strings(value: Any) -> tuple[str, ...] | None:
    """A string[] attribute; a single string (or a JSON array sent as text) is accepted too."""
    if value is None:
        return None
    if type(value) is str:
        s = value.strip()
        if s.startswith("["):
            try:
                parsed = json.loads(s)
            except (ValueError, RecursionError):
                parsed = None
            if isinstance(parsed, list):
                value = parsed
            else:
                return (s,) if s else None
        else:
            return (s,) if s else None
    if isinstance(value, list):
        out = tuple(str(v) for v in value if v is not None and str(v) != "")
        return out or None
    return None


def indexed(attrs: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    """Flattened lists: `prefix` + 'N.rest' keys grouped by N (ascending) into {'rest': value} dicts."""
    size = len(prefix)
    groups: dict[int, dict[str, Any]] = {}
    for key, value in attrs.items():
        if key.startswith(prefix):
            idx, dot, sub = key[size:].partition(".")
            if dot and idx.isdigit():
                groups.setdefault(int(idx), {})[sub] = value
    return [groups[i] for i in sorted(groups)]


def as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return f"[{len(value)} bytes]"
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    except RecursionError:
        return "[value nested too deeply]"


def load_json(value: Any) -> Any:
    """A structured attribute value, or the JSON text instrumentations put in a string attribute instead."""
    if isinstance(value, str):
        s = value.strip()
        if s[:1] in ("[", "{"):
            try:
                return json.loads(s)
            except (ValueError, RecursionError):
                return value
    return value


def render_part(part: Any) -> str:
    """One part of an OTel GenAI message (input/output messages JSON schema) as text."""
    if not isinstance(part, dict):
        return as_text(part)
    kind = part.get("type")
    if kind in ("text", "reasoning", "thinking") or (kind is None and "content" in part):
        return as_text(part.get("content"))
    if kind == "tool_call":
        return f"tool_call {as_text(part.get('name'))}({as_text(part.get('arguments'))})"
    if kind == "tool_call_response":
        return as_text(part.get("response", part.get("result")))
    if kind in ("blob", "uri", "file"):
        return f"[{kind} {as_text(part.get('mime_type') or part.get('modality') or '')}]".replace(" ]", "]")
    return as_text(part.get("content", part))


def otel_messages(value: Any, warn: Warn, key: str) -> tuple[list[Message] | None, list[str]]:
    """gen_ai.input.messages / gen_ai.output.messages (JSON text or structured): messages and their
    finish_reason values."""
    data = load_json(value)
    if data is None:
        return None, []
    if not isinstance(data, list):
        warn(f"{key} is not a list of messages; ignored")
        return None, []
    out: list[Message] = []
    reasons: list[str] = []
    for msg in data:
        if not isinstance(msg, dict):
            continue
        parts = msg.get("parts")
        if isinstance(parts, list):
            content = "\n".join(t for t in (render_part(p) for p in parts) if t)
        else:
            content = as_text(msg.get("content"))
        out.append({"role": as_text(msg.get("role")) or "user", "content": content})
        reason = text(msg.get("finish_reason"))
        if reason is not None:
            reasons.append(reason)
    return out or None, reasons


def system_instructions(value: Any) -> Message | None:
    """gen_ai.system_instructions: a list of parts (or plain text) -> one system message."""
    data = load_json(value)
    if data is None:
        return None
    parts = data if isinstance(data, list) else [data]
    content = "\n".join(t for t in (render_part(p) for p in parts) if t)
    return {"role": "system", "content": content} if content else None


def openai_content(content: Any) -> str:
    """OpenAI-format message content: a string, or a list of {type: text, text} parts."""
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, dict):
                texts.append(as_text(part.get("text", part.get("content", part))))
            else:
                texts.append(as_text(part))
        return "\n".join(t for t in texts if t)
    return as_text(content)


def openai_messages(value: Any, default_role: str) -> list[Message] | None:
    """The deprecated gen_ai.prompt / gen_ai.completion text: JSON in the OpenAI messages format, else plain text."""
    if value is None:
        return None
    data = load_json(value)
    if isinstance(data, dict):
        data = [data]
    if isinstance(data, list):
        out: list[Message] = []
        for msg in data:
            if isinstance(msg, dict):
                out.append(
                    {"role": as_text(msg.get("role")) or default_role, "content": openai_content(msg.get("content"))}
                )
            else:
                out.append({"role": default_role, "content": as_text(msg)})
        return out or None
    content = as_text(data)
    return [{"role": default_role, "content": content}] if content else None


def indexed_messages(
    groups: Iterable[dict[str, Any]], default_role: str, role_key: str = "role", content_key: str = "content"
) -> list[Message] | None:
    out: list[Message] = []
    for g in groups:
        content = g.get(content_key)
        role = text(g.get(role_key)) or default_role
        if content is None and role_key not in g:
            continue
        out.append({"role": role, "content": openai_content(load_json(content)) if content is not None else ""})
    return out or None


def first_event_ms(span_start_ns: int, events: Iterable[Any], names: frozenset[str]) -> float | None:
    """Milliseconds from the span start to the first event with one of `names` (time to first token)."""
    first: int | None = None
    for ev in events:
        if ev.name in names and ev.time_ns and (first is None or ev.time_ns < first):
            first = ev.time_ns
    if first is None or first < span_start_ns:
        return None
    return (first - span_start_ns) / 1e6
