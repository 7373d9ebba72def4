"""Composition: a prompt includes another with `{% include "name@label" %}` or `{% include "name@3" %}`.

Why Jinja's own include tag: the unresolved template stays valid Jinja (syntax checks, `variables()`, editors all
work), readers know the tag, and `{% raw %}` / comments are honoured because includes are found by the lexer, not a
regular expression. Resolution happens at serve time: every include is spliced in (recursively) through an injected
resolver, so what is served is one self-contained template any client can render without calling back, and the
result records which version each reference resolved to. The splice keeps Jinja's include semantics (with context;
`{%-`/`-%}` strip around the tag; an included template's own whitespace control does not leak into its parent).
Within one resolution each reference is resolved once, so a label moved mid-way cannot give two versions. Serving
is cheap: templates are only lexed when they contain the word `include`, and the spliced result is not parsed again
(the served version was checked when created; included templates are checked, cached by source; splicing keeps
the result valid).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from charter.prompts.errors import IncludeCycleError, IncludeDepthError, IncludeError, PromptError
from charter.prompts.lexing import find_includes, normalise
from charter.prompts.templates import (
    ChatMessage,
    PromptContent,
    PromptRef,
    canonical_json,
    check_template,
)

DEFAULT_MAX_DEPTH = 10
# A tag that strips whitespace to its left (`{%-`) after optional whitespace, and one that strips to its right (`-%}`)
# before optional whitespace: where one meets the seam of a splice, the included text is fenced in `{% if true %}`.
_STRIPS_LEFT = re.compile(r"\s*\{[%{#]-")
_STRIPS_RIGHT = re.compile(r"-[%}#]\}\s*$")


@dataclass(frozen=True)
class IncludedPrompt:
    """What a resolver answers for a reference: the version it resolved to and its template."""

    name: str
    version: int
    template: str
    hash: str
    type: str = "text"


Resolver = Callable[[PromptRef], IncludedPrompt]
"""Answers a reference (`name@label` or `name@version`) with the version it points to; raises LookupError if none."""


@dataclass(frozen=True)
class IncludedVersion:
    """One include as resolved: the reference as written, the version it gave, who included it, how deep."""

    ref: str
    name: str
    version: int
    hash: str
    included_by: str
    depth: int

    @property
    def name_at_version(self) -> str:
        return f"{self.name}@{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "name": self.name,
            "version": self.version,
            "name_at_version": self.name_at_version,
            "hash": self.hash,
            "included_by": self.included_by,
            "depth": self.depth,
        }


@dataclass(frozen=True)
class ResolvedPrompt:
    """A version with every include spliced in: what the serving API returns."""

    name: str
    version: int
    hash: str
    content: PromptContent
    includes: tuple[IncludedVersion, ...] = field(default_factory=tuple)

    @property
    def name_at_version(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def resolved_hash(self) -> str:
        """Hash of what is served (spliced content and the versions included): a good ETag."""
        body = {"content": self.content.to_dict(), "includes": [i.name_at_version for i in self.includes]}
        return "sha256:" + hashlib.sha256(canonical_json(body)).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "name_at_version": self.name_at_version,
            "hash": self.hash,
            "resolved_hash": self.resolved_hash,
            **self.content.to_dict(),
            "includes": [i.to_dict() for i in self.includes],
        }


class _Resolution:
    def __init__(self, resolver: Resolver, max_depth: int) -> None:
        self.resolver = resolver
        self.max_depth = max_depth
        self.memo: dict[PromptRef, IncludedPrompt] = {}
        self.included: list[IncludedVersion] = []

    def lookup(self, ref: PromptRef, chain: list[str]) -> IncludedPrompt:
        if ref not in self.memo:
            try:
                found = self.resolver(ref)
            except LookupError as exc:
                detail = exc.args[0] if exc.args else f"no prompt {ref.name!r} at {ref}"
                raise IncludeError(f"{' → '.join(chain)}: cannot include {ref}: {detail}", chain=chain) from None
            if found.type != "text":
                raise IncludeError(
                    f"{' → '.join(chain)}: {ref} is a {found.type} prompt; only text prompts can be included",
                    chain=chain,
                )
            self.memo[ref] = found
        return self.memo[ref]

    def splice(self, source: str, where: str, stack: list[tuple[str, tuple[str, int]]]) -> str:
        source = normalise(source)
        sites = find_includes(source, where)
        if not sites:
            return source
        parts: list[str] = []
        pos = 0
        for site in sites:
            written = str(site.ref)
            chain = [text for text, _ in stack] + [written]
            if len(stack) > self.max_depth:
                raise IncludeDepthError(chain, self.max_depth)
            found = self.lookup(site.ref, chain)
            key = (found.name, found.version)
            for i, (_, seen) in enumerate(stack):
                if seen == key:
                    raise IncludeCycleError([text for text, _ in stack[i:]] + [written])
            self.included.append(
                IncludedVersion(written, found.name, found.version, found.hash, stack[-1][0], len(stack))
            )
            check_template(found.template, written)  # cached by source; names the include if it is broken
            body = self.splice(found.template, written, [*stack, (written, key)])
            if (
                _STRIPS_LEFT.match(body)
                or _STRIPS_RIGHT.search(body)
                or _STRIPS_LEFT.match(source, site.end)
                or _STRIPS_RIGHT.search(source, 0, site.start)
            ):
                body = "{% if true %}" + body + "{% endif %}"
            parts.append(source[pos : site.start])
            parts.append(body)
            pos = site.end
        parts.append(source[pos:])
        return "".join(parts)


def resolve(
    content: PromptContent,
    resolver: Resolver,
    *,
    name: str,
    version: int,
    ref: str | None = None,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> ResolvedPrompt:
    """Splice every include of `content` (version `name@version`, asked for as `ref`) through `resolver`.

    Raises IncludeCycleError naming the loop (`a@production → b@3 → a@production`), IncludeDepthError past
    `max_depth` nested levels, IncludeError for a reference the resolver does not know or a non-text include.
    """
    run = _Resolution(resolver, max_depth)
    root = [(ref or f"{name}@{version}", (name, version))]
    try:
        if content.type == "text":
            spliced = PromptContent.trusted(
                "text", template=run.splice(content.template or "", "template", root), config=content.config
            )
        else:
            messages = [
                ChatMessage(message.role, run.splice(message.content, where, root))
                for message, (where, _) in zip(content.messages or (), content.sources(), strict=True)
            ]
            spliced = PromptContent.trusted("chat", messages=messages, config=content.config)
    except IncludeError:
        raise
    except PromptError as exc:
        raise IncludeError(f"{root[0][0]}: {exc.message}", chain=[root[0][0]]) from None
    return ResolvedPrompt(name, version, content.hash, spliced, tuple(run.included))
