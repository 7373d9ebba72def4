"""Prompts as code: a folder of prompt files, one per prompt, pushed idempotently (`charter prompt push DIR`).

File format — `NAME.prompt.md` (or `NAME.prompt`); the prompt's name is the path below the folder without the
suffix (`support/greeting.prompt.md` → `support/greeting`). YAML front matter between `---` lines, then the body:

    ---
    type: text                 # text (default) or chat
    config:                    # model configuration (optional)
      model: gpt-4o
      temperature: 0.2
    tags: [support, en]        # optional
    message: Shorter greeting  # commit message of the version this file creates (optional)
    ---
    Hello {{ name }}, how can I help?

The body is the template; one final line break (the one editors add) is not part of it. A file without front matter
is a text prompt whose whole content is the template. A chat prompt lists its messages in the front matter, each a
template, and leaves the body empty (YAML block scalars keep multi-line content readable):

    ---
    type: chat
    messages:
      - role: system
        content: |
          You are a support agent for {{ product }}.
      - role: user
        content: "{{ question }}"
    ---

Every problem is reported as `file:line[:column]: what is wrong`; a folder is checked whole before anything is pushed.
Unchanged prompts (same content hash as the latest version) create no version.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from charter.kit.content import ContentInvalid, Loc, compose_yaml
from charter.prompts.errors import (
    ConfigError,
    PromptDirError,
    PromptError,
    PromptFileError,
    TemplateSyntaxError,
)
from charter.prompts.templates import NAME_RE, PromptContent

SUFFIXES = (".prompt.md", ".prompt")
FRONT_MATTER_KEYS = ("type", "config", "tags", "message", "messages")
_DELIMITER = "---"


@dataclass(frozen=True)
class PromptFile:
    path: str
    name: str
    content: PromptContent
    tags: tuple[str, ...] = ()
    message: str | None = None

    @property
    def hash(self) -> str:
        return self.content.hash


def prompt_name(relative: str) -> str | None:
    """The prompt name a file path gives, or None if the file is not a prompt file."""
    for suffix in SUFFIXES:
        if relative.endswith(suffix) and len(relative) > len(suffix):
            return relative[: -len(suffix)]
    return None


def _value_nodes(node: yaml.Node | None) -> dict[str, yaml.Node]:
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {str(key.value): value for key, value in node.value}


class _Parsed:
    """Front matter (values and YAML nodes) and body of one file, with the file line where each starts. The front
    matter goes through the one YAML loader (charter.kit.content), which refuses duplicate keys."""

    def __init__(self, text: str, path: str) -> None:
        self.path = path
        lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        self.lines = lines
        self.meta: dict[str, Any] = {}
        self.node: yaml.Node | None = None
        self.key_nodes: dict[Loc, yaml.Node] = {}
        self.first_line = 2
        if lines[0].rstrip() != _DELIMITER:
            self.body, self.body_line = "\n".join(lines), 1
        else:
            close = next((i for i in range(1, len(lines)) if lines[i].rstrip() == _DELIMITER), None)
            if close is None:
                raise PromptFileError(
                    path, 1, "front matter opened with '---' is never closed; add a '---' line after it"
                )
            self._load_yaml("\n".join(lines[1:close]) + "\n")
            self.body, self.body_line = "\n".join(lines[close + 1 :]), close + 2
        if self.body.endswith("\n"):
            self.body = self.body[:-1]

    def _load_yaml(self, front: str) -> None:
        try:
            document = compose_yaml(front, self.path, first_line=self.first_line, columns=True, allow_empty=True)
        except ContentInvalid as exc:
            first = exc.problems[0]
            problem = f"{first.field}: {first.message}" if first.field else first.message
            raise PromptFileError(self.path, first.line or self.first_line, problem, column=first.column) from None
        if document.value is None:
            return
        if not isinstance(document.value, dict):
            raise PromptFileError(
                self.path, self.first_line, "front matter must be a mapping of keys (type, config, …)"
            )
        self.node = document.nodes[()]
        self.key_nodes = document.key_nodes
        self.meta = document.value

    def key_line(self, *keys: str) -> int:
        """File line of a front-matter key (nested keys: the deepest found)."""
        line = self.first_line
        for end in range(1, len(keys) + 1):
            key_node = self.key_nodes.get(tuple(keys[:end]))
            if key_node is None:
                break
            line = self.first_line + key_node.start_mark.line
        return line

    def error(self, line: int, problem: str, column: int | None = None) -> PromptFileError:
        return PromptFileError(self.path, line, problem, column=column)

    def template_position(self, exc: TemplateSyntaxError, message_index: int | None) -> tuple[int, int]:
        if message_index is None:
            return self.body_line + exc.line - 1, exc.column
        messages = _value_nodes(self.node).get("messages")
        item = messages.value[message_index] if isinstance(messages, yaml.SequenceNode) else None
        content = _value_nodes(item).get("content")
        if content is None:
            return self.key_line("messages"), exc.column
        start = self.first_line + content.start_mark.line
        if isinstance(content, yaml.ScalarNode) and content.style in ("|", ">"):
            line = start + exc.line
            text = self.lines[line - 1] if line - 1 < len(self.lines) else ""
            return line, len(text) - len(text.lstrip(" ")) + exc.column
        quote = 1 if isinstance(content, yaml.ScalarNode) and content.style in ("'", '"') else 0
        if exc.line == 1:
            return start, content.start_mark.column + quote + exc.column
        return start + exc.line - 1, exc.column


def _text_list(parsed: _Parsed, key: str, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise parsed.error(parsed.key_line(key), f"{key} must be a list of non-empty text, e.g. [support, en]")
    return tuple(value)


def parse_prompt_file(text: str, path: str, name: str | None = None) -> PromptFile:
    """Parse one prompt file's text (`path` is what errors show; the name defaults to the path without suffix)."""
    name = name if name is not None else prompt_name(path) or path
    if not NAME_RE.match(name):
        raise PromptFileError(
            path,
            1,
            f"the file gives the prompt name {name!r}, which is not valid; rename the file "
            "(letters, digits, '_', '-', '.', '/'; at most 128 characters)",
        )
    parsed = _Parsed(text, path)
    meta = parsed.meta
    for key in meta:
        if key not in FRONT_MATTER_KEYS:
            raise parsed.error(
                parsed.key_line(str(key)), f"unknown key {key!r}; allowed: {', '.join(FRONT_MATTER_KEYS)}"
            )
    kind = meta.get("type", "text")
    if kind not in ("text", "chat"):
        raise parsed.error(parsed.key_line("type"), f"type {kind!r} is not a prompt type; allowed: text, chat")
    message = meta.get("message")
    if message is not None and not isinstance(message, str):
        raise parsed.error(parsed.key_line("message"), "message (the commit message) must be text")
    tags = _text_list(parsed, "tags", meta.get("tags"))
    config = meta.get("config")
    if config is not None and not isinstance(config, dict):
        raise parsed.error(
            parsed.key_line("config"), "config must be a mapping, e.g. {model: gpt-4o, temperature: 0.2}"
        )
    try:
        content = _content(parsed, kind, config)
    except ConfigError as exc:
        top = re.split(r"[.\[]", exc.problems[0][0], maxsplit=1)[0]
        raise parsed.error(parsed.key_line("config", top), exc.message) from None
    return PromptFile(path, name, content, tags, message)


def _content(parsed: _Parsed, kind: str, config: Mapping[str, Any] | None) -> PromptContent:
    meta = parsed.meta
    if kind == "text":
        if "messages" in meta:
            raise parsed.error(
                parsed.key_line("messages"), "messages belong to chat prompts; add 'type: chat' or remove them"
            )
        if not parsed.body.strip():
            raise parsed.error(parsed.body_line, "the body (the template, after the front matter) is empty")
        try:
            return PromptContent.text(parsed.body, config)
        except TemplateSyntaxError as exc:
            line, column = parsed.template_position(exc, None)
            raise parsed.error(line, exc.problem, column) from None
        except ConfigError:
            raise
        except PromptError as exc:
            raise parsed.error(parsed.body_line, exc.message) from None
    if parsed.body.strip():
        raise parsed.error(
            parsed.body_line, "a chat prompt lists its messages in the front matter ('messages:'); leave the body empty"
        )
    messages = meta.get("messages")
    if not isinstance(messages, list) or not messages:
        raise parsed.error(
            parsed.key_line("messages") if "messages" in meta else parsed.key_line("type"),
            "a chat prompt needs 'messages:', a list of {role, content}",
        )
    for i, item in enumerate(messages):
        if not isinstance(item, dict) or set(item) != {"role", "content"}:
            raise parsed.error(_item_line(parsed, i), f"message {i + 1} must have exactly 'role' and 'content'")
    try:
        return PromptContent.chat(messages, config)
    except TemplateSyntaxError as exc:
        index = int(exc.where.split()[1]) - 1
        line, column = parsed.template_position(exc, index)
        raise parsed.error(line, f"{exc.where}: {exc.problem}", column) from None
    except ConfigError:
        raise
    except PromptError as exc:
        found = re.match(r"message (\d+)", exc.message)
        line = _item_line(parsed, int(found.group(1)) - 1) if found else parsed.key_line("messages")
        raise parsed.error(line, exc.message) from None


def _item_line(parsed: _Parsed, index: int) -> int:
    messages = _value_nodes(parsed.node).get("messages")
    if isinstance(messages, yaml.SequenceNode) and index < len(messages.value):
        item: yaml.Node = messages.value[index]
        return parsed.first_line + int(item.start_mark.line)
    return parsed.key_line("messages")


def load_prompt_dir(root: Path) -> list[PromptFile]:
    """Read every prompt file below `root` (hidden folders skipped), sorted by name; raise PromptDirError with every
    problem found (parse errors, non-UTF-8 files, two files giving the same name)."""
    if not root.is_dir():
        raise PromptDirError([PromptFileError(str(root), 1, "not a folder")])
    files: list[PromptFile] = []
    errors: list[PromptFileError] = []
    seen: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if any(part.startswith(".") for part in path.relative_to(root).parts) or not path.is_file():
            continue
        name = prompt_name(relative)
        if name is None:
            continue
        try:
            text = path.read_text(encoding="utf-8")
            found = parse_prompt_file(text, relative, name)
        except UnicodeDecodeError:
            errors.append(PromptFileError(relative, 1, "not UTF-8 text"))
            continue
        except PromptFileError as exc:
            errors.append(exc)
            continue
        if name in seen:
            errors.append(
                PromptFileError(
                    relative, 1, f"gives the prompt name {name!r}, as {seen[name]} does; keep one file per prompt"
                )
            )
            continue
        seen[name] = relative
        files.append(found)
    if errors:
        raise PromptDirError(errors)
    return sorted(files, key=lambda f: f.name)


class _BlockDumper(yaml.SafeDumper):
    pass


def _str_block(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _str_block)


def dump_prompt_file(content: PromptContent, *, tags: Sequence[str] = (), message: str | None = None) -> str:
    """The prompt file text for a version (export to a folder); `parse_prompt_file` reads it back unchanged."""
    meta: dict[str, Any] = {"type": content.type}
    if content.config:
        meta["config"] = dict(content.config)
    if tags:
        meta["tags"] = list(tags)
    if message:
        meta["message"] = message
    if content.type == "chat":
        meta["messages"] = [{"role": m.role, "content": m.content} for m in content.messages or ()]
    front = yaml.dump(meta, Dumper=_BlockDumper, sort_keys=False, allow_unicode=True, default_flow_style=False)
    body = (content.template or "") + "\n" if content.type == "text" else ""
    return f"{_DELIMITER}\n{front}{_DELIMITER}\n{body}"


PushStatus = Literal["new", "changed", "unchanged"]


@dataclass(frozen=True)
class PushItem:
    name: str
    path: str
    status: PushStatus
    hash: str
    previous_hash: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": self.path,
            "status": self.status,
            "hash": self.hash,
            "previous_hash": self.previous_hash,
        }


@dataclass(frozen=True)
class PushPlan:
    """What a push would do: create a first version (new), a next version (changed), nothing (unchanged)."""

    items: tuple[PushItem, ...]
    not_in_folder: tuple[str, ...]

    def with_status(self, status: PushStatus) -> list[PushItem]:
        return [item for item in self.items if item.status == status]

    def to_dict(self) -> dict[str, Any]:
        return {
            "items": [i.to_dict() for i in self.items],
            "not_in_folder": list(self.not_in_folder),
            "counts": {s: len(self.with_status(s)) for s in ("new", "changed", "unchanged")},
        }

    def render_text(self) -> str:
        lines = [f"{item.status:<9} {item.name}  ({item.path})" for item in self.items]
        counts = ", ".join(f"{len(self.with_status(s))} {s}" for s in ("new", "changed", "unchanged"))
        lines.append(counts)
        if self.not_in_folder:
            lines.append("in Charter but not in the folder (left as they are): " + ", ".join(self.not_in_folder))
        return "\n".join(lines)


def plan_push(files: Iterable[PromptFile], latest_hashes: Mapping[str, str]) -> PushPlan:
    """Compare the folder with the latest version hash of each prompt name; unchanged prompts create no version."""
    items = []
    names = set()
    for found in files:
        names.add(found.name)
        previous = latest_hashes.get(found.name)
        status: PushStatus = "new" if previous is None else "unchanged" if previous == found.hash else "changed"
        items.append(PushItem(found.name, found.path, status, found.hash, previous))
    return PushPlan(tuple(sorted(items, key=lambda i: i.name)), tuple(sorted(set(latest_hashes) - names)))
