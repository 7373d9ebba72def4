"""Diff between two prompt versions: template by line (unified) and by word for changed lines, chat messages one by
one, variables added/removed, config changes (key: old → new). `PromptDiff.to_dict()` is the API's JSON;
`PromptDiff.render_text()` is what the CLI prints (word changes in git's `[-old-]{+new+}` notation).
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from charter.prompts.templates import PromptContent

Op = Literal["equal", "insert", "delete", "replace"]
_WORD = re.compile(r"\s+|\w+|[^\w\s]")
_MISSING = object()


@dataclass(frozen=True)
class WordOp:
    op: Op
    old: str
    new: str

    def to_dict(self) -> dict[str, str]:
        return {"op": self.op, "old": self.old, "new": self.new}


@dataclass(frozen=True)
class LineOp:
    """A run of lines: equal, inserted, deleted or replaced; replaced lines carry word-level ops per paired line."""

    op: Op
    old_start: int
    new_start: int
    old: tuple[str, ...]
    new: tuple[str, ...]
    words: tuple[tuple[WordOp, ...], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "op": self.op,
            "old_start": self.old_start,
            "new_start": self.new_start,
            "old": list(self.old),
            "new": list(self.new),
        }
        if self.words:
            body["words"] = [[w.to_dict() for w in pair] for pair in self.words]
        return body


@dataclass(frozen=True)
class TextDiff:
    ops: tuple[LineOp, ...]
    unified: str

    @property
    def changed(self) -> bool:
        return any(op.op != "equal" for op in self.ops)

    def to_dict(self) -> dict[str, Any]:
        return {"changed": self.changed, "unified": self.unified, "lines": [op.to_dict() for op in self.ops]}


@dataclass(frozen=True)
class MessageDiff:
    status: Literal["unchanged", "changed", "added", "removed"]
    old_index: int | None
    new_index: int | None
    old_role: str | None
    new_role: str | None
    content: TextDiff

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "old_index": self.old_index,
            "new_index": self.new_index,
            "old_role": self.old_role,
            "new_role": self.new_role,
            "content": self.content.to_dict(),
        }


@dataclass(frozen=True)
class ConfigChange:
    key: str
    change: Literal["added", "removed", "changed"]
    old: Any
    new: Any

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "change": self.change, "old": self.old, "new": self.new}

    def render(self) -> str:
        old = "(unset)" if self.change == "added" else json.dumps(self.old, ensure_ascii=False)
        new = "(unset)" if self.change == "removed" else json.dumps(self.new, ensure_ascii=False)
        return f"{self.key}: {old} → {new}"


@dataclass(frozen=True)
class PromptDiff:
    old_label: str
    new_label: str
    old_hash: str
    new_hash: str
    type_change: tuple[str, str] | None
    template: TextDiff | None
    messages: tuple[MessageDiff, ...] | None
    variables_added: tuple[str, ...]
    variables_removed: tuple[str, ...]
    config: tuple[ConfigChange, ...]

    @property
    def identical(self) -> bool:
        return self.old_hash == self.new_hash

    def to_dict(self) -> dict[str, Any]:
        return {
            "old": self.old_label,
            "new": self.new_label,
            "old_hash": self.old_hash,
            "new_hash": self.new_hash,
            "identical": self.identical,
            "type_change": list(self.type_change) if self.type_change else None,
            "template": self.template.to_dict() if self.template else None,
            "messages": [m.to_dict() for m in self.messages] if self.messages is not None else None,
            "variables": {"added": list(self.variables_added), "removed": list(self.variables_removed)},
            "config": [c.to_dict() for c in self.config],
        }

    def render_text(self) -> str:
        lines = [f"--- {self.old_label}", f"+++ {self.new_label}"]
        if self.identical:
            return "\n".join([*lines, "no changes"])
        if self.type_change:
            lines.append(f"type: {self.type_change[0]} → {self.type_change[1]}")
        if self.template and self.template.changed:
            lines.append("template:")
            lines.extend(_render_text_diff(self.template))
        for message in self.messages or ():
            if message.status == "unchanged":
                continue
            index = message.new_index if message.new_index is not None else message.old_index
            role = message.new_role or message.old_role
            if message.old_role and message.new_role and message.old_role != message.new_role:
                role = f"{message.old_role} → {message.new_role}"
            lines.append(f"message {index} ({role}): {message.status}")
            lines.extend(_render_text_diff(message.content))
        if self.variables_added or self.variables_removed:
            changes = [f"+{v}" for v in self.variables_added] + [f"-{v}" for v in self.variables_removed]
            lines.append("variables: " + " ".join(changes))
        if self.config:
            lines.append("config:")
            lines.extend(f"  {change.render()}" for change in self.config)
        return "\n".join(lines)


def _render_text_diff(diff: TextDiff) -> list[str]:
    out = [line for line in diff.unified.split("\n")[2:] if line]
    for op in diff.ops:
        if op.op != "replace":
            continue
        for offset, words in enumerate(op.words):
            marked = "".join(
                w.old if w.op == "equal" else (f"[-{w.old}-]" if w.old else "") + (f"{{+{w.new}+}}" if w.new else "")
                for w in words
            )
            out.append(f"~ line {op.new_start + offset}: {marked}")
    return out


def diff_words(old: str, new: str) -> tuple[WordOp, ...]:
    """Word-level ops between two lines (words, spaces and punctuation are separate tokens)."""
    a, b = _WORD.findall(old), _WORD.findall(new)
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    return tuple(WordOp(tag, "".join(a[i1:i2]), "".join(b[j1:j2])) for tag, i1, i2, j1, j2 in matcher.get_opcodes())


def diff_text(
    old: str | None, new: str | None, *, old_label: str = "old", new_label: str = "new", context: int = 3
) -> TextDiff:
    """Line diff (structured ops and unified text) with word ops for each pair of replaced lines. None: no lines."""
    a = old.split("\n") if old is not None else []
    b = new.split("\n") if new is not None else []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    ops = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        words: tuple[tuple[WordOp, ...], ...] = ()
        if tag == "replace":
            words = tuple(diff_words(x, y) for x, y in zip(a[i1:i2], b[j1:j2], strict=False))
        ops.append(LineOp(tag, i1 + 1, j1 + 1, tuple(a[i1:i2]), tuple(b[j1:j2]), words))
    unified = "\n".join(difflib.unified_diff(a, b, old_label, new_label, n=context, lineterm=""))
    return TextDiff(tuple(ops), unified)


def _as_text(content: PromptContent) -> str:
    if content.type == "text":
        return content.template or ""
    return "\n".join(f"[{m.role}]\n{m.content}" for m in content.messages or ())


def _diff_messages(old: PromptContent, new: PromptContent, old_label: str, new_label: str) -> tuple[MessageDiff, ...]:
    a, b = list(old.messages or ()), list(new.messages or ())
    matcher = difflib.SequenceMatcher(
        None, [(m.role, m.content) for m in a], [(m.role, m.content) for m in b], autojunk=False
    )
    out: list[MessageDiff] = []

    def pair(i: int | None, j: int | None) -> None:
        x = a[i] if i is not None else None
        y = b[j] if j is not None else None
        text = diff_text(
            x.content if x else None,
            y.content if y else None,
            old_label=f"{old_label} message {i + 1}" if i is not None else "/dev/null",
            new_label=f"{new_label} message {j + 1}" if j is not None else "/dev/null",
        )
        status = "added" if x is None else "removed" if y is None else "unchanged" if x == y else "changed"
        out.append(
            MessageDiff(
                status,  # type: ignore[arg-type]
                i + 1 if i is not None else None,
                j + 1 if j is not None else None,
                x.role if x else None,
                y.role if y else None,
                text,
            )
        )

    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        olds, news = list(range(i1, i2)), list(range(j1, j2))
        paired = min(len(olds), len(news)) if tag in ("equal", "replace") else 0
        for k in range(paired):
            pair(olds[k], news[k])
        for i in olds[paired:]:
            pair(i, None)
        for j in news[paired:]:
            pair(None, j)
    return tuple(out)


def diff_config(old: Mapping[str, Any], new: Mapping[str, Any], prefix: str = "") -> tuple[ConfigChange, ...]:
    """Config changes by key; nested mappings are compared key by key (`response_format.type`)."""
    changes: list[ConfigChange] = []
    for key in sorted(set(old) | set(new)):
        x, y = old.get(key, _MISSING), new.get(key, _MISSING)
        path = f"{prefix}{key}"
        if x is _MISSING:
            changes.append(ConfigChange(path, "added", None, y))
        elif y is _MISSING:
            changes.append(ConfigChange(path, "removed", x, None))
        elif isinstance(x, Mapping) and isinstance(y, Mapping):
            changes.extend(diff_config(x, y, f"{path}."))
        elif x != y or type(x) is not type(y):
            changes.append(ConfigChange(path, "changed", x, y))
    return tuple(changes)


def diff_prompts(
    old: PromptContent, new: PromptContent, *, old_label: str = "old", new_label: str = "new", context: int = 3
) -> PromptDiff:
    """Everything that differs between two versions."""
    type_change = (old.type, new.type) if old.type != new.type else None
    template: TextDiff | None = None
    messages: tuple[MessageDiff, ...] | None = None
    if old.type == new.type == "chat":
        messages = _diff_messages(old, new, old_label, new_label)
    else:
        template = diff_text(_as_text(old), _as_text(new), old_label=old_label, new_label=new_label, context=context)
    old_vars, new_vars = old.variables(), new.variables()
    return PromptDiff(
        old_label,
        new_label,
        old.hash,
        new.hash,
        type_change,
        template,
        messages,
        tuple(sorted(new_vars - old_vars)),
        tuple(sorted(old_vars - new_vars)),
        diff_config(old.config, new.config),
    )


def apply_line_ops(ops: Sequence[LineOp]) -> tuple[str, str]:
    """Rebuild (old, new) text from line ops: the structured diff loses nothing."""
    old = [line for op in ops for line in op.old]
    new = [line for op in ops for line in op.new]
    return "\n".join(old), "\n".join(new)
