"""The wire side of targets: the HTTP request for a sample and the output read from the answer (pure functions).

Chat targets speak OpenAI chat completions (`choices[0].message.content`, `usage.prompt_tokens` /
`completion_tokens`; a refusal counts as the output). HTTP JSON targets render their body template in the sandbox
and read the output (and optional token counts) at dotted paths. What cannot be read raises ReplyError; the runner
records the item as errored with that reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from jinja2 import TemplateError

from charter.evaluation.datasets import Sample
from charter.evaluation.targets import PATH_PART, TEMPLATES, ChatTarget, HttpTarget


class ReplyError(ValueError):
    """An answer from the target that cannot be read as an output (the item is marked errored)."""


@dataclass(frozen=True, slots=True)
class Reply:
    output: str
    tokens_in: int | None = None
    tokens_out: int | None = None
    finish_reason: str | None = None


def messages_of(sample: Sample, system_prompt: str | None = None) -> list[dict[str, str]]:
    if isinstance(sample.input, str):
        messages = [{"role": "user", "content": sample.input}]
    else:
        messages = [{"role": m.role, "content": m.content} for m in sample.input]
    if system_prompt is not None and not any(m["role"] in ("system", "developer") for m in messages):
        messages.insert(0, {"role": "system", "content": system_prompt})
    return messages


def chat_headers(target: ChatTarget, secret: str | None) -> dict[str, str]:
    headers = {"content-type": "application/json", **target.headers}
    if secret is not None:
        headers["authorization"] = f"Bearer {secret}"
    return headers


def http_headers(target: HttpTarget, secret: str | None) -> dict[str, str]:
    headers = {"content-type": "application/json", **target.headers}
    if secret is not None:
        headers[target.auth_header] = f"{target.auth_scheme} {secret}" if target.auth_scheme else secret
    return headers


def chat_body(target: ChatTarget, sample: Sample) -> bytes:
    body = {"model": target.model, "messages": messages_of(sample, target.system_prompt), **target.parameters.body()}
    return json.dumps(body, ensure_ascii=False).encode()


def http_body(target: HttpTarget, sample: Sample) -> bytes:
    messages = messages_of(sample)
    users = [m["content"] for m in messages if m["role"] == "user"]
    context = {
        "prompt": sample.input if isinstance(sample.input, str) else (users[-1] if users else ""),
        "messages": messages,
        "input": sample.input if isinstance(sample.input, str) else messages,
        "id": sample.id,
        "metadata": sample.metadata,
        "tags": list(sample.tags),
        "choices": list(sample.choices),
        "parameters": target.parameters,
    }
    try:
        text = TEMPLATES.from_string(target.body_template).render(context)
    except (TemplateError, TypeError) as exc:
        raise ReplyError(f"body template failed for sample {sample.id}: {exc}") from None
    try:
        json.loads(text)
    except ValueError as exc:
        raise ReplyError(f"body template rendered invalid JSON for sample {sample.id}: {exc}") from None
    return text.encode()


def _dig(data: Any, path: str) -> Any:
    here = data
    walked: list[str] = []
    for raw in PATH_PART.findall(path):
        part = raw.strip("[]")
        if isinstance(here, list) and part.isdigit() and int(part) < len(here):
            here = here[int(part)]
        elif isinstance(here, dict) and part in here:
            here = here[part]
        else:
            at = ".".join(walked) or "the top level"
            found = f"keys {', '.join(sorted(map(str, here)))[:120]}" if isinstance(here, dict) else type_name(here)
            raise ReplyError(f"the response has no {part!r} at {at} (found {found})")
        walked.append(part)
    return here


def type_name(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "text", type(None): "null", bool: "a boolean"}.get(
        type(value), "a number"
    )


def _count(data: Any, path: str | None) -> int | None:
    if path is None:
        return None
    value = _dig(data, path)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ReplyError(f"the response's {path} is {type_name(value)}, not a token count")
    return value


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError as exc:
        raise ReplyError(f"the response is not JSON ({exc}): {body[:120].decode('utf-8', 'replace')!r}") from None


def parse_chat(body: bytes) -> Reply:
    data = _json(body)
    choices = data.get("choices") if isinstance(data, dict) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise ReplyError("the response has no choices[0]: not a chat completion")
    message = choices[0].get("message")
    if not isinstance(message, dict):
        raise ReplyError("the response has no choices[0].message")
    content = message.get("content")
    if content is None and isinstance(message.get("refusal"), str):
        content = message["refusal"]
    if not isinstance(content, str):
        raise ReplyError(f"choices[0].message.content is {type_name(content)}, not text")
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    tokens_in, tokens_out = usage.get("prompt_tokens"), usage.get("completion_tokens")
    finish = choices[0].get("finish_reason")
    return Reply(
        content,
        tokens_in if isinstance(tokens_in, int) else None,
        tokens_out if isinstance(tokens_out, int) else None,
        finish if isinstance(finish, str) else None,
    )


def parse_http(target: HttpTarget, body: bytes) -> Reply:
    data = _json(body)
    value = _dig(data, target.output_path)
    if value is None:
        raise ReplyError(f"the response's {target.output_path} is null")
    output = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    return Reply(output, _count(data, target.input_tokens_path), _count(data, target.output_tokens_path))


def target_url(target: ChatTarget | HttpTarget) -> str:
    return f"{target.base_url}/chat/completions" if isinstance(target, ChatTarget) else target.url


def request_method(target: ChatTarget | HttpTarget) -> str:
    return "POST" if isinstance(target, ChatTarget) else target.method


def request_headers(target: ChatTarget | HttpTarget, secret: str | None) -> dict[str, str]:
    """The same for every request of a run; they hold the resolved secret: never log them."""
    return chat_headers(target, secret) if isinstance(target, ChatTarget) else http_headers(target, secret)


def request_body(target: ChatTarget | HttpTarget, sample: Sample) -> bytes:
    return chat_body(target, sample) if isinstance(target, ChatTarget) else http_body(target, sample)


def parse_reply(target: ChatTarget | HttpTarget, body: bytes) -> Reply:
    return parse_chat(body) if isinstance(target, ChatTarget) else parse_http(target, body)


def error_excerpt(body: bytes) -> str:
    """A short, readable reason from an error response (OpenAI's error.message when there is one)."""
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, dict):
        error = data.get("error")
        message = error.get("message") if isinstance(error, dict) else error if isinstance(error, str) else None
        if isinstance(message, str) and message:
            return message[:300]
    return body[:300].decode("utf-8", "replace").strip()
