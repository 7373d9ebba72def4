"""Load YAML content and validate it with Pydantic, naming file, line and field in every error.

PyYAML's composer keeps a start mark on every node; we build the Python value ourselves so each
path (('levels', 2, 'max_score')) knows its line, then map Pydantic error locations back to lines.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from charter.kit.errors import ValidationFailed

Path_ = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "field": self.field, "msg": self.message}


class ContentInvalid(ValidationFailed):
    """A content file (YAML) that does not parse or does not match its schema."""

    def __init__(self, problems: list[Problem]) -> None:
        first = problems[0]
        more = f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})" if len(problems) > 1 else ""
        super().__init__(f"{first}{more}", errors=[p.as_dict() for p in problems])
        self.problems = problems


def field_name(loc: Path_) -> str:
    """('levels', 2, 'max_score') -> 'levels[2].max_score'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def parse_yaml(text: str, filename: str) -> tuple[Any, dict[Path_, int]]:
    """Parse one YAML document; return its value and the 1-based line of every path in it."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise ContentInvalid([Problem(filename, line, "", f"not valid YAML: {exc.problem or exc}")]) from None
    except yaml.YAMLError as exc:
        raise ContentInvalid([Problem(filename, 1, "", f"not valid YAML: {exc}")]) from None
    finally:
        loader.dispose()
    if node is None:
        raise ContentInvalid([Problem(filename, 1, "", "the file is empty")])
    lines: dict[Path_, int] = {}
    problems: list[Problem] = []

    def build(n: yaml.Node, path: Path_) -> Any:
        lines[path] = n.start_mark.line + 1
        if isinstance(n, yaml.MappingNode):
            loader.flatten_mapping(n)
            out: dict[Any, Any] = {}
            for key_node, value_node in n.value:
                key = loader.construct_object(key_node, deep=True)
                if not isinstance(key, str | int):
                    problems.append(
                        Problem(filename, key_node.start_mark.line + 1, field_name(path), "keys must be text")
                    )
                    continue
                if key in out:
                    problems.append(
                        Problem(
                            filename,
                            key_node.start_mark.line + 1,
                            field_name((*path, key)),
                            f"duplicate key (first given on line {lines[(*path, key)]})",
                        )
                    )
                    continue
                out[key] = build(value_node, (*path, key))
            return out
        if isinstance(n, yaml.SequenceNode):
            return [build(item, (*path, i)) for i, item in enumerate(n.value)]
        try:
            return loader.construct_object(n, deep=True)
        except yaml.constructor.ConstructorError as exc:
            problems.append(Problem(filename, n.start_mark.line + 1, field_name(path), str(exc.problem)))
            return None

    value = build(node, ())
    if problems:
        raise ContentInvalid(problems)
    return value, lines


def line_for(lines: dict[Path_, int], loc: Path_) -> int:
    """The line of the deepest part of loc that exists in the file (a missing field: its parent)."""
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return 1


def load_model(
    text: str,
    filename: str,
    model: type[M],
    semantic: Callable[[M], list[tuple[Path_, str]]] | None = None,
) -> M:
    """Parse YAML text and validate it against model, then the optional semantic checks.

    Every problem names the file, the line and the field; all problems are reported at once.
    """
    data, lines = parse_yaml(text, filename)
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if isinstance(p, str | int))
            problems.append(Problem(filename, line_for(lines, loc), field_name(loc), err["msg"]))
        raise ContentInvalid(problems) from None
    if semantic is not None:
        found = semantic(parsed)
        if found:
            raise ContentInvalid([Problem(filename, line_for(lines, loc), field_name(loc), msg) for loc, msg in found])
    return parsed
