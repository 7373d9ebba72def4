"""Shipped content and the one YAML + Pydantic loader, with errors that name file, line and field.

Charter's content (SOP templates, gate policies, risk matrices and categories, incident catalogs, alert rule
defaults, probe suites, framework catalogs) is YAML under `charter/content/`, validated when loaded; an
organisation's own files go through the same loader. PyYAML's composer keeps a start mark on every node: the
value is built here so every path (('levels', 2, 'max_score')) knows its line, and Pydantic's error locations
are mapped back to lines. Duplicate keys are refused (a YAML mapping with a key twice keeps the last one
silently, a classic source of "my change did nothing").
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from charter.kit.errors import ValidationFailed

CONTENT_DIR: Final = Path(__file__).resolve().parent.parent / "content"
MAX_CONTENT_BYTES: Final = 2 * 1024 * 1024

Loc = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    field: str
    message: str
    column: int | None = None  # only where a caller asked for columns (compose_yaml(columns=True))

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        if self.line and self.column:
            where += f":{self.column}"
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"file": self.file, "line": self.line, "field": self.field, "msg": self.message}
        if self.column is not None:
            body["column"] = self.column
        return body


class ContentInvalid(ValidationFailed):
    """A content file (YAML) that does not parse or does not match its schema; `problems` lists every one."""

    what = "content"

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        first = problems[0]
        more = f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})" if len(problems) > 1 else ""
        prefix = f"invalid {self.what} " if self.what != "content" else ""
        super().__init__(f"{prefix}{first}{more}", errors=[p.as_dict() for p in problems])


def field_name(loc: Loc) -> str:
    """('levels', 2, 'max_score') -> 'levels[2].max_score'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def content_path(*parts: str) -> Path:
    """A file or folder of the shipped content."""
    return CONTENT_DIR.joinpath(*parts)


def content_files(folder: str) -> Iterator[Path]:
    """The YAML files of a shipped content folder, by name."""
    for path in sorted(content_path(folder).iterdir()):
        if path.suffix in (".yaml", ".yml") and path.is_file():
            yield path


def read_text(path: Path, *, error: type[ContentInvalid] = ContentInvalid, max_bytes: int = MAX_CONTENT_BYTES) -> str:
    """A content file's text; unreadable, too large or not UTF-8 is a ContentInvalid naming the file."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise error([Problem(str(path), None, "", f"cannot read: {exc.strerror}")]) from None
    if len(raw) > max_bytes:
        raise error([Problem(path.name, None, "", f"larger than {max_bytes} bytes")])
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise error([Problem(path.name, None, "", "not UTF-8 text")]) from None


@dataclass(frozen=True)
class YamlDocument:
    """A parsed YAML document: its value, the 1-based line of every path, and PyYAML's nodes (value node per path,
    key node per mapping entry; their marks are 0-based and relative to the text parsed) for callers that place
    errors more finely (columns, scalar styles)."""

    value: Any
    lines: dict[Loc, int]
    nodes: dict[Loc, yaml.Node]
    key_nodes: dict[Loc, yaml.Node]


def _syntax_problem(exc: yaml.MarkedYAMLError, filename: str, first_line: int, columns: bool) -> Problem:
    if not columns:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + first_line if mark else None
        return Problem(filename, line, "", f"not valid YAML: {exc.problem or exc.context or exc}")
    mark = exc.problem_mark or exc.context_mark
    if exc.context_mark is not None and (
        mark is None or exc.problem_mark is None or mark.line >= exc.context_mark.line + 1
    ):
        mark = exc.context_mark  # an unclosed bracket or quote: point where it opened, not where the text ended
    problem = f"{exc.context}: {exc.problem}" if exc.context else str(exc.problem)
    return Problem(
        filename,
        mark.line + first_line if mark else None,
        "",
        f"not valid YAML: {problem}",
        column=mark.column + 1 if mark else None,
    )


_CLoader: type[yaml.SafeLoader] | None = getattr(yaml, "CSafeLoader", None)


def _fast_compose(text: str) -> tuple[yaml.SafeLoader | None, yaml.Node | None]:
    """Compose with libyaml when it is installed (20x faster on large catalogs; nodes keep their marks);
    (None, None) when it is not or the text does not parse."""
    if _CLoader is None:
        return None, None
    loader = _CLoader(text)
    try:
        return loader, loader.get_single_node()
    except yaml.YAMLError:
        return None, None
    finally:
        loader.dispose()


def compose_yaml(
    text: str,
    filename: str,
    *,
    error: type[ContentInvalid] = ContentInvalid,
    first_line: int = 1,
    columns: bool = False,
    allow_empty: bool = False,
) -> YamlDocument:
    """Parse one YAML document, refusing duplicate keys; every error names the file and line (`first_line`: the
    file line the text starts on, for YAML embedded in another file; `columns`: also the column, and the context of
    a syntax error). An empty document is an error unless `allow_empty` (then its value is None)."""
    loader, node = _fast_compose(text)
    if loader is None:  # no libyaml, or the text does not parse: the pure-Python parser says why, the same everywhere
        try:
            loader = yaml.SafeLoader(text)  # its reader refuses control characters right here
        except yaml.reader.ReaderError as exc:
            line = text.count("\n", 0, exc.position) + first_line
            column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
            raise error(
                [
                    Problem(
                        filename, line, "", f"column {column}: character U+{exc.character:04X} is not allowed in YAML"
                    )
                ]
            ) from None
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            raise error([_syntax_problem(exc, filename, first_line, columns)]) from None
        except yaml.YAMLError as exc:
            raise error([Problem(filename, None, "", f"not valid YAML: {exc}")]) from None
        finally:
            loader.dispose()
    if node is None:
        if allow_empty:
            return YamlDocument(None, {}, {}, {})
        raise error([Problem(filename, first_line, "", "the file is empty")])
    offset = first_line
    lines: dict[Loc, int] = {}
    nodes: dict[Loc, yaml.Node] = {}
    key_nodes: dict[Loc, yaml.Node] = {}
    problems: list[Problem] = []

    def build(n: yaml.Node, path: Loc) -> Any:
        lines[path] = n.start_mark.line + offset
        nodes[path] = n
        if isinstance(n, yaml.MappingNode):
            loader.flatten_mapping(n)
            out: dict[Any, Any] = {}
            for key_node, value_node in n.value:
                key = loader.construct_object(key_node, deep=True)
                if not isinstance(key, str | int):
                    problems.append(
                        Problem(filename, key_node.start_mark.line + offset, field_name(path), "keys must be text")
                    )
                    continue
                if key in out:
                    problems.append(
                        Problem(
                            filename,
                            key_node.start_mark.line + offset,
                            field_name((*path, key)),
                            f"the key appears twice (first on line {key_nodes[(*path, key)].start_mark.line + offset})",
                        )
                    )
                    continue
                key_nodes[(*path, key)] = key_node
                out[key] = build(value_node, (*path, key))
            return out
        if isinstance(n, yaml.SequenceNode):
            return [build(item, (*path, i)) for i, item in enumerate(n.value)]
        try:
            return loader.construct_object(n, deep=True)
        except yaml.constructor.ConstructorError as exc:
            problems.append(Problem(filename, n.start_mark.line + offset, field_name(path), str(exc.problem)))
            return None

    value = build(node, ())
    if problems:
        raise error(problems)
    return YamlDocument(value, lines, nodes, key_nodes)


def parse_yaml(text: str, filename: str, *, error: type[ContentInvalid] = ContentInvalid) -> tuple[Any, dict[Loc, int]]:
    """Parse one YAML document; return its value and the 1-based line of every path in it."""
    document = compose_yaml(text, filename, error=error)
    return document.value, document.lines


def line_for(lines: dict[Loc, int], loc: Loc) -> int:
    """The line of the deepest part of loc that exists in the file (a missing field: its parent)."""
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return 1


def data_loc(data: Any, loc: tuple[Any, ...]) -> Loc:
    """Pydantic's error location as a path in the file: the tags it adds for a discriminated union (a
    ``type: regex`` item reports ``(..., 'regex', 'pattern')``) and function-validator names are dropped."""
    out: list[str | int] = []
    node = data
    for part in loc:
        if isinstance(node, dict) and isinstance(part, str) and part not in node:
            if part in {str(v) for v in node.values() if isinstance(v, str | int)}:
                continue  # the union's tag, not a field of the file
            out.append(part)
            node = None
        elif (isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)) or (
            isinstance(node, dict) and part in node
        ):
            out.append(part)
            node = node[part]
        elif isinstance(part, str | int):
            out.append(part)
            node = None
    return tuple(out)


def _message(err: Any) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown field (check the spelling; the documentation lists the fields)"
    if err["type"] == "literal_error":
        return f"{err['msg']}, got {err.get('input')!r}"
    return str(err["msg"]).removeprefix("Value error, ")


def load_model(
    text: str,
    filename: str,
    model: type[M],
    semantic: Callable[[M], list[tuple[Loc, str]]] | None = None,
    *,
    error: type[ContentInvalid] = ContentInvalid,
) -> M:
    """Parse YAML text and validate it against `model`, then the optional semantic checks. Every problem names
    the file, the line and the field; all problems are reported at once."""
    data, lines = parse_yaml(text, filename, error=error)
    if not isinstance(data, dict):
        raise error([Problem(filename, 1, "", "the file must be a YAML mapping (key: value)")])
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = data_loc(data, err["loc"])
            problems.append(Problem(filename, line_for(lines, loc), field_name(loc), _message(err)))
        raise error(problems) from None
    if semantic is not None:
        found = semantic(parsed)
        if found:
            raise error([Problem(filename, line_for(lines, loc), field_name(loc), msg) for loc, msg in found])
    return parsed


def load_file(path: Path, model: type[M], semantic: Callable[[M], list[tuple[Loc, str]]] | None = None) -> M:
    """A shipped content file, validated (its name relative to the content folder in every error)."""
    name = str(path.relative_to(CONTENT_DIR)) if path.is_relative_to(CONTENT_DIR) else path.name
    return load_model(read_text(path), f"content/{name}" if path.is_relative_to(CONTENT_DIR) else name, model, semantic)
