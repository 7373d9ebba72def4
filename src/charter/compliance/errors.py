"""Catalog problems: `CatalogError` over the one YAML loader (`charter.kit.content`), and Pydantic errors mapped
to the line of the value they concern, with the allowed fields named for an unknown one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from charter.kit.content import ContentInvalid, Loc, Problem, field_name, line_for, parse_yaml

__all__ = ["CatalogError", "Problem", "YamlDocument", "read_yaml", "validation_problems"]


class CatalogError(ContentInvalid):
    """A catalog, crosswalk or mapping that cannot be used; `problems` lists every error found, with its line."""

    what = "catalog"

    def __init__(self, problems: Sequence[Problem]) -> None:
        if not problems:
            raise ValueError("CatalogError needs at least one problem")
        super().__init__(sorted(problems, key=lambda p: (p.file, p.line or 0)))


@dataclass(frozen=True)
class YamlDocument:
    """A parsed YAML file and the line of every path in it."""

    source: str
    data: Any
    lines: dict[Loc, int]

    def line_of(self, loc: Loc) -> int:
        return line_for(self.lines, loc)

    def problem(self, loc: Loc, message: str) -> Problem:
        return Problem(self.source, self.line_of(loc), field_name(loc), message)


def read_yaml(text: str, source: str) -> YamlDocument:
    """Parse one YAML document with the one loader; CatalogError (with the line) on a syntax error or a key twice."""
    data, lines = parse_yaml(text, source, error=CatalogError)
    return YamlDocument(source, data, lines)


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
    origin = getattr(annotation, "__origin__", None)
    if origin is not None and origin is not annotation:
        return _model_in(origin)
    return None


def validation_problems(doc: YamlDocument, model: type[BaseModel], exc: ValidationError) -> list[Problem]:
    """Pydantic errors as problems at the line of the value they concern; unknown fields list the allowed ones."""
    problems = []
    for err in exc.errors(include_url=False):
        loc: Loc = tuple(p for p in err["loc"] if isinstance(p, str | int))
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
