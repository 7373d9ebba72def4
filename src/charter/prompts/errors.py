"""Errors of the prompt core. Each is a ValueError (bad input) a person can act on: what was wrong, where, what is
allowed.

`details()` gives the structured fields (line, column, names, cycle, file…) for a problem+json body.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any


class PromptError(ValueError):
    """Base of every prompt error."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def details(self) -> dict[str, Any]:
        return {}


class TemplateSyntaxError(PromptError):
    """A template that does not parse, or uses a construct prompts do not allow. Line and column are 1-based."""

    def __init__(self, problem: str, *, line: int, column: int, where: str = "template") -> None:
        self.problem = problem
        self.line = line
        self.column = column
        self.where = where
        super().__init__(f"{where}: line {line}, column {column}: {problem}")

    def details(self) -> dict[str, Any]:
        return {"where": self.where, "line": self.line, "column": self.column, "problem": self.problem}


class MissingVariablesError(PromptError):
    """Rendering needed variables that were not given."""

    def __init__(self, names: Iterable[str], *, where: str = "template", other: Sequence[str] = ()) -> None:
        self.names = sorted(set(names))
        self.other = list(other)
        self.where = where
        parts = []
        if self.names:
            parts.append("missing variable" + ("s" if len(self.names) > 1 else "") + ": " + ", ".join(self.names))
        parts.extend(self.other)
        super().__init__(f"{where}: " + "; ".join(parts) + ". Pass every variable the prompt uses.")

    def details(self) -> dict[str, Any]:
        return {"where": self.where, "missing": self.names, "other": self.other}


class UnknownVariablesError(PromptError):
    """Strict rendering was given variables the prompt does not use."""

    def __init__(self, unknown: Iterable[str], expected: Iterable[str]) -> None:
        self.unknown = sorted(set(unknown))
        self.expected = sorted(set(expected))
        allowed = ", ".join(self.expected) if self.expected else "none"
        super().__init__(
            "unknown variable" + ("s" if len(self.unknown) > 1 else "") + f": {', '.join(self.unknown)}; "
            f"the prompt uses: {allowed}"
        )

    def details(self) -> dict[str, Any]:
        return {"unknown": self.unknown, "expected": self.expected}


class TemplateSecurityError(PromptError):
    """The sandbox refused an operation while rendering (attribute access on an object, a call)."""


class ConfigError(PromptError):
    """Model configuration values out of range or of the wrong type (every problem found, field by field)."""

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(f"config.{field}: {problem}" for field, problem in self.problems))

    def details(self) -> dict[str, Any]:
        return {"errors": [{"field": f"config.{field}", "problem": problem} for field, problem in self.problems]}


class PromptContentError(PromptError):
    """A prompt's shape is wrong: unknown type, empty messages, a bad role, a bad name or reference."""


class IncludeError(PromptError):
    """An include could not be resolved."""

    def __init__(self, message: str, *, chain: Sequence[str] = ()) -> None:
        self.chain = list(chain)
        super().__init__(message)

    def details(self) -> dict[str, Any]:
        return {"chain": self.chain}


class IncludeCycleError(IncludeError):
    """Prompts include each other in a loop."""

    def __init__(self, cycle: Sequence[str]) -> None:
        super().__init__(
            "include cycle: " + " → ".join(cycle) + ". A prompt may not include itself, directly or through others.",
            chain=cycle,
        )


class IncludeDepthError(IncludeError):
    """Includes nested deeper than allowed."""

    def __init__(self, chain: Sequence[str], limit: int) -> None:
        super().__init__(f"includes nest deeper than {limit} levels: " + " → ".join(chain), chain=chain)


class PromptFileError(PromptError):
    """A prompt file that does not parse; the message starts with `file:line`."""

    def __init__(self, path: str, line: int, problem: str, *, column: int | None = None) -> None:
        self.path = path
        self.line = line
        self.column = column
        self.problem = problem
        where = f"{path}:{line}" + (f":{column}" if column is not None else "")
        super().__init__(f"{where}: {problem}")

    def details(self) -> dict[str, Any]:
        return {"file": self.path, "line": self.line, "column": self.column, "problem": self.problem}


class PromptDirError(PromptError):
    """Every problem found in a folder of prompt files (nothing is pushed while one remains)."""

    def __init__(self, errors: Sequence[PromptFileError]) -> None:
        self.errors = list(errors)
        count = len(self.errors)
        super().__init__(
            f"{count} problem" + ("s" if count > 1 else "") + " in prompt files:\n" + "\n".join(str(e) for e in errors)
        )

    def details(self) -> dict[str, Any]:
        return {"errors": [e.details() for e in self.errors]}


class ExchangeFormatError(PromptError):
    """An import document (Langfuse, MLflow) of the wrong shape, or content an export format cannot carry."""
