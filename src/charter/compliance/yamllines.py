"""YAML documents that remember where each value came from, and problems that name file, line and field.

A document is composed into PyYAML's node tree first (nodes keep their line numbers), then constructed with the
safe constructor. `YamlDocument.line_of(loc)` maps a location such as `("requirements", 3, "parent")` back to its
line; a location that does not exist (a missing field) resolves to its nearest existing parent. Duplicate keys in
a mapping, which PyYAML would silently collapse, are reported as problems.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

Loc = tuple[str | int, ...]

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file, where it is, and what is allowed."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field + ': ' if self.field else ''}{self.message}"


class CatalogError(ValueError):
    """A catalog, crosswalk or mapping that cannot be used; `problems` lists every error found, with its line."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        if not problems:
            raise ValueError("CatalogError needs at least one problem")
        self.problems: tuple[Problem, ...] = tuple(sorted(problems, key=lambda p: (p.file, p.line or 0)))
        super().__init__("\n".join(str(p) for p in self.problems))


def loc_text(loc: Loc) -> str:
    """`("requirements", 3, "parent")` → `requirements[3].parent`."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@dataclass(frozen=True)
class YamlDocument:
    source: str
    data: Any
    root: yaml.Node | None

    def line_of(self, loc: Loc) -> int | None:
        node = self.root
        if node is None:
            return None
        for part in loc:
            child: yaml.Node | None = None
            if isinstance(node, yaml.MappingNode) and isinstance(part, str):
                for key, value in node.value:
                    if getattr(key, "value", None) == part:
                        child = value
                        break
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
                child = node.value[part]
            if child is None:
                break
            node = child
        return int(node.start_mark.line) + 1

    def problem(self, loc: Loc, message: str) -> Problem:
        return Problem(self.source, self.line_of(loc), loc_text(loc), message)


def _duplicate_keys(doc_source: str, node: yaml.Node, path: Loc = ()) -> list[Problem]:
    found: list[Problem] = []
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            name = str(getattr(key, "value", ""))
            if name in seen:
                found.append(
                    Problem(doc_source, int(key.start_mark.line) + 1, loc_text((*path, name)), "duplicate key")
                )
            seen.add(name)
            found.extend(_duplicate_keys(doc_source, value, (*path, name)))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            found.extend(_duplicate_keys(doc_source, item, (*path, index)))
    return found


def parse_yaml(text: str, source: str) -> YamlDocument:
    """Parse one YAML document; raise CatalogError (with the line) on a syntax error or a duplicate key."""
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = int(mark.line) + 1 if mark is not None else None
        raise CatalogError([Problem(source, line, "", f"not valid YAML: {exc.problem or exc.context}")]) from exc
    except yaml.YAMLError as exc:
        raise CatalogError([Problem(source, None, "", f"not valid YAML: {exc}")]) from exc
    finally:
        loader.dispose()
    if root is not None:
        duplicates = _duplicate_keys(source, root)
        if duplicates:
            raise CatalogError(duplicates)
    return YamlDocument(source, data, root)


def _allowed_fields(model: type[BaseModel], loc: Loc) -> list[str] | None:
    """The field names allowed at the mapping holding loc[-1] (for 'unknown field' messages)."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        info = current.model_fields.get(part) or next(
            (f for f in current.model_fields.values() if f.alias == part), None
        )
        if info is None:
            return None
        current = _model_in(info.annotation)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return sorted(f.alias or name for name, f in current.model_fields.items())
    return None


def _model_in(annotation: Any) -> Any:
    """The BaseModel inside `list[X]`, `X | None` or `Annotated[list[X], ...]`, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_in(arg)
        if found is not None:
            return found
    metadata_origin = getattr(annotation, "__origin__", None)
    if metadata_origin is not None and metadata_origin is not annotation:
        return _model_in(metadata_origin)
    return None


def validation_problems(doc: YamlDocument, model: type[BaseModel], exc: ValidationError) -> list[Problem]:
    """Pydantic errors as problems at the line of the value they concern; unknown fields list the allowed ones."""
    problems = []
    for err in exc.errors(include_url=False):
        loc: Loc = tuple(err["loc"])
        message = str(err["msg"])
        if err["type"] == "extra_forbidden":
            allowed = _allowed_fields(model, loc)
            message = "unknown field" + (f" (allowed: {', '.join(allowed)})" if allowed else "")
        elif err["type"] == "missing":
            message = "required field is missing"
        elif err["type"] == "string_pattern_mismatch" and loc and loc[-1] == "id":
            message = f"{message} (ids are one line without leading or trailing spaces)"
        problems.append(doc.problem(loc, message))
    return problems
