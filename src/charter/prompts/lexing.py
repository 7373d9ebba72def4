"""Jinja lexing with positions: every token placed by line and column, syntax errors mapped to line and column,
prompt references (`name@label`, `name@3`) and the `{% include "…" %}` tags that carry them.

Jinja reports only a line for a syntax error. The column comes from following the lexer through the source: each
raw token is located from where the previous one ended, the parser's current token at failure gives the place
(lexer failures: where lexing stopped). Errors Jinja raises after parsing (an unknown filter) are placed on their line
by the name the message quotes.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import jinja2
from jinja2.lexer import Token
from jinja2.parser import Parser

from charter.prompts.errors import PromptContentError, TemplateSyntaxError

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-/]{0,127}$")
LABEL_RE = re.compile(r"^[a-z][a-z0-9_.\-]{0,63}$")
_NEWLINE = re.compile(r"\r\n|\r")
_LEXER_POS = re.compile(r" at (\d+)$")
_QUOTED = re.compile(r"'([^']+)'")
# The lexer options of the prompt environment (templates.ENV): default delimiters, trailing newline kept.
# Prompts are not HTML: nothing is escaped.
LEXER = jinja2.Environment(keep_trailing_newline=True, autoescape=False).lexer  # noqa: S701


@dataclass(frozen=True, slots=True)
class Tok:
    """A raw lexer token with its place in the (newline-normalised) source; line and column are 1-based."""

    offset: int
    line: int
    column: int
    type: str
    value: str

    @property
    def end(self) -> int:
        return self.offset + len(self.value)


def normalise(source: str) -> str:
    """Line breaks as `\\n` (what Jinja's lexer sees, and what is hashed)."""
    return _NEWLINE.sub("\n", source)


def line_column(source: str, offset: int) -> tuple[int, int]:
    offset = max(0, min(offset, len(source)))
    line = source.count("\n", 0, offset) + 1
    return line, offset - (source.rfind("\n", 0, offset) + 1) + 1


class Tracker:
    """Follows the lexer through the source so the parser's current token can be placed."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.last = 0
        self.end = 0
        self.in_lexer = False
        self.raw: list[Tok] = []
        self.offsets: dict[int, int] = {}
        self.keep: list[Token] = []

    def raw_tokens(self) -> Iterator[tuple[int, str, str]]:
        source = self.source
        stream = LEXER.tokeniter(source, None)
        pos = 0
        line, counted = 1, 0  # line number at offset `counted`, advanced as tokens go (linear in the source)
        while True:
            self.in_lexer = True
            try:
                lineno, kind, value = next(stream)
            except StopIteration:
                self.in_lexer = False
                return
            self.in_lexer = False
            start = source.find(value, pos)
            start = pos if start < 0 else start
            self.last, pos = start, start + len(value)
            self.end = pos
            line += source.count("\n", counted, start)
            counted = start
            self.raw.append(Tok(start, line, start - source.rfind("\n", 0, start), kind, value))
            yield lineno, kind, value

    def tokens(self) -> Iterator[Token]:
        for token in LEXER.wrap(self.raw_tokens()):
            self.offsets[id(token)] = self.last
            self.keep.append(token)
            yield token


def syntax_error(
    tracker: Tracker, exc: jinja2.TemplateSyntaxError, where: str, parser: Parser | None
) -> TemplateSyntaxError:
    source = tracker.source
    line = exc.lineno or 1
    offset: int | None = None
    if tracker.in_lexer and (exc.message or "").startswith("Missing end of"):
        offset = tracker.last  # an unclosed comment or raw block: point at its opening tag
        line = line_column(source, offset)[0]
    elif tracker.in_lexer:
        match = _LEXER_POS.search(exc.message or "")
        offset = int(match.group(1)) if match else tracker.end
        while offset < len(source) and source[offset] in " \t":
            offset += 1
    elif parser is not None:
        current = parser.stream.current
        offset = len(source) if current.type == "eof" else tracker.offsets.get(id(current))
    if offset is not None and line_column(source, offset)[0] == line:
        column = line_column(source, offset)[1]
    else:
        column = _column_on_line(source, line, exc.message or "")
    message = _LEXER_POS.sub("", exc.message or "syntax error").replace("\n", " ")
    return TemplateSyntaxError(message, line=line, column=column, where=where)


def _column_on_line(source: str, line: int, message: str) -> int:
    """Where on its line an error Jinja placed only by line is: a name the message quotes, else the first text."""
    lines = source.split("\n")
    text = lines[line - 1] if 0 < line <= len(lines) else ""
    for name in _QUOTED.findall(message):
        found = re.search(rf"(?<![\w]){re.escape(name)}(?![\w])", text)
        if found:
            return found.start() + 1
    return len(text) - len(text.lstrip()) + 1


def tokenize(source: str, where: str = "template") -> list[Tok]:
    """Raw lexer tokens (whitespace included) with line and column; a lexing error raises TemplateSyntaxError."""
    tracker = Tracker(normalise(source))
    try:
        for _ in tracker.raw_tokens():
            pass
    except jinja2.TemplateSyntaxError as exc:
        raise syntax_error(tracker, exc, where, None) from None
    return tracker.raw


# ---------------------------------------------------------------- references and includes


@dataclass(frozen=True, slots=True)
class PromptRef:
    """`name@label` or `name@version`."""

    name: str
    label: str | None = None
    version: int | None = None

    def __str__(self) -> str:
        return f"{self.name}@{self.version if self.version is not None else self.label}"


def parse_ref(text: str) -> PromptRef:
    """Parse `name@label` / `name@3`; raise PromptContentError saying what a reference looks like."""
    name, sep, selector = text.strip().rpartition("@")
    if not sep or not NAME_RE.match(name):
        raise PromptContentError(
            f"{text!r} is not a prompt reference: write name@label or name@version (e.g. greeting@production, "
            "greeting@3); names use letters, digits, '_', '-', '.', '/'"
        )
    if selector.isdigit() and int(selector) >= 1:
        return PromptRef(name, version=int(selector))
    if LABEL_RE.match(selector):
        return PromptRef(name, label=selector)
    raise PromptContentError(
        f"{text!r}: after '@' comes a label (lower-case letters, digits, '_', '-', '.', starting with a letter) "
        "or a version number from 1"
    )


@dataclass(frozen=True, slots=True)
class IncludeSite:
    """One `{% include "name@label" %}` tag: the reference and the span of source it occupies."""

    ref: PromptRef
    start: int
    end: int
    line: int
    column: int


INCLUDE_FORM = 'write {% include "name@label" %} or {% include "name@3" %} (one quoted reference, nothing else)'


@functools.lru_cache(maxsize=2048)
def find_includes(source: str, where: str = "template") -> tuple[IncludeSite, ...]:
    """The include tags of a (normalised) template; lexes only when the word `include` occurs at all."""
    if "include" not in source:
        return ()
    return tuple(include_sites(tokenize(source, where), where))


def include_sites(tokens: Sequence[Tok], where: str = "template") -> list[IncludeSite]:
    """Find include tags. The span swallows the whitespace a `{%-` / `-%}` would strip, so a splice is faithful."""
    sites: list[IncludeSite] = []
    significant = [i for i, tok in enumerate(tokens) if tok.type != "whitespace"]
    for pos, index in enumerate(significant):
        begin = tokens[index]
        if begin.type != "block_begin" or pos + 1 >= len(significant):
            continue
        keyword = tokens[significant[pos + 1]]
        if keyword.type != "name" or keyword.value != "include":
            continue
        rest = [tokens[i] for i in significant[pos + 2 : pos + 4]]
        if len(rest) < 2 or rest[0].type != "string" or rest[1].type != "block_end":
            bad = rest[0] if rest else keyword
            raise TemplateSyntaxError(INCLUDE_FORM, line=bad.line, column=bad.column, where=where)
        literal = rest[0].value[1:-1]
        try:
            ref = parse_ref(literal)
        except PromptContentError as exc:
            raise TemplateSyntaxError(exc.message, line=rest[0].line, column=rest[0].column, where=where) from None
        start = begin.offset
        if begin.value.endswith("-"):
            start = tokens[index - 1].end if index > 0 else 0
        sites.append(IncludeSite(ref, start, rest[1].end, begin.line, begin.column))
    return sites
