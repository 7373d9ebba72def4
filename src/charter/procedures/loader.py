"""Reading procedure templates from YAML, with errors that name the file, the line and the field.

The YAML is composed into a node tree first (the nodes keep their line numbers), then constructed and
validated; every validation error is mapped back to the node it concerns.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from charter.kit.errors import ValidationFailed
from charter.procedures.template_schema import Loc, TemplateSpec, semantic_errors

MAX_TEMPLATE_BYTES = 512 * 1024


@dataclass(frozen=True)
class TemplateProblem:
    file: str
    line: int | None
    loc: str
    msg: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.loc + ': ' if self.loc else ''}{self.msg}"

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "loc": self.loc, "msg": self.msg}


class TemplateInvalid(ValidationFailed):
    """A template that does not satisfy the schema; `problems` lists every error with its line."""

    def __init__(self, problems: list[TemplateProblem]) -> None:
        self.problems = problems
        first = problems[0]
        more = f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})" if len(problems) > 1 else ""
        super().__init__(f"invalid procedure template {first}{more}", errors=[p.as_dict() for p in problems])


def loc_text(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _line_of(root: yaml.Node | None, loc: Loc) -> int | None:
    """The 1-based line of the node at loc; for a missing field, the line of its nearest parent."""
    node = root
    if node is None:
        return None
    for part in loc:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            child = next((v for k, v in node.value if getattr(k, "value", None) == part), None)
            if child is None:
                # an unknown field: point at its key
                child = next((k for k, _ in node.value if getattr(k, "value", None) == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            child = node.value[part]
        if child is None:
            break
        node = child
    return node.start_mark.line + 1


def _duplicate_keys(node: yaml.Node, path: Loc = ()) -> list[tuple[Loc, int, str]]:
    found: list[tuple[Loc, int, str]] = []
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for k, v in node.value:
            key = str(getattr(k, "value", ""))
            if key in seen:
                found.append(((*path, key), k.start_mark.line + 1, f"the key '{key}' appears twice"))
            seen.add(key)
            found.extend(_duplicate_keys(v, (*path, key)))
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            found.extend(_duplicate_keys(v, (*path, i)))
    return found


def parse_template(text: str, filename: str) -> TemplateSpec:
    """Parse and validate one template; raise TemplateInvalid naming file, line and field."""
    if len(text.encode()) > MAX_TEMPLATE_BYTES:
        raise TemplateInvalid([TemplateProblem(filename, None, "", f"larger than {MAX_TEMPLATE_BYTES} bytes")])
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise TemplateInvalid(
            [TemplateProblem(filename, line, "", f"not valid YAML: {exc.problem or exc.context}")]
        ) from None
    except yaml.YAMLError as exc:
        raise TemplateInvalid([TemplateProblem(filename, None, "", f"not valid YAML: {exc}")]) from None
    if root is None or not isinstance(root, yaml.MappingNode):
        line = root.start_mark.line + 1 if root is not None else None
        raise TemplateInvalid([TemplateProblem(filename, line, "", "the template must be a YAML mapping (key: value)")])
    dups = _duplicate_keys(root)
    if dups:
        raise TemplateInvalid([TemplateProblem(filename, line, loc_text(loc), msg) for loc, line, msg in dups])
    try:
        data = yaml.SafeLoader("").construct_document(root)
    except yaml.YAMLError as exc:
        raise TemplateInvalid([TemplateProblem(filename, None, "", f"not valid YAML: {exc}")]) from None
    try:
        spec = TemplateSpec.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            msg = err["msg"]
            if err["type"] == "extra_forbidden":
                msg = "unknown field (check the spelling; see docs/procedures.md for the fields)"
            elif err["type"] == "literal_error":
                msg = f"{msg}, got {err.get('input')!r}"
            problems.append(TemplateProblem(filename, _line_of(root, loc), loc_text(loc), msg))
        raise TemplateInvalid(problems) from None
    semantic = semantic_errors(spec)
    if semantic:
        raise TemplateInvalid([TemplateProblem(filename, _line_of(root, loc), loc_text(loc), m) for loc, m in semantic])
    return spec


def parse_file(path: Path) -> TemplateSpec:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise TemplateInvalid([TemplateProblem(str(path), None, "", f"cannot read: {exc.strerror}")]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise TemplateInvalid([TemplateProblem(str(path), None, "", "not UTF-8 text")]) from None
    return parse_template(text, path.name)


def content_hash(spec: TemplateSpec) -> str:
    """SHA-256 of the template's canonical JSON: two texts with the same meaning hash alike."""
    canonical = json.dumps(spec.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@lru_cache(maxsize=1)
def shipped_templates() -> tuple[TemplateSpec, ...]:
    """The templates shipped under charter/content/sops, validated. A broken file fails start-up."""
    folder = resources.files("charter") / "content" / "sops"
    specs: list[TemplateSpec] = []
    seen: dict[tuple[str, int], str] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith((".yaml", ".yml")):
            continue
        spec = parse_template(entry.read_text(encoding="utf-8"), entry.name)
        if (spec.key, spec.version) in seen:
            raise TemplateInvalid(
                [
                    TemplateProblem(
                        entry.name,
                        None,
                        "key",
                        f"'{spec.key}' version {spec.version} is also in {seen[spec.key, spec.version]}",
                    )
                ]
            )
        seen[spec.key, spec.version] = entry.name
        specs.append(spec)
    return tuple(specs)
