"""Pure rules of the prompt registry: label vocabulary, protected labels, how a release names a prompt version,
and the mapping of the prompt core's errors to what the API answers. No database, no web."""

from __future__ import annotations

import re
from typing import Any, Final, Literal, get_args

from charter.kit.errors import CharterError, ValidationFailed
from charter.prompts.errors import IncludeError, PromptError
from charter.prompts.lexing import LABEL_RE, NAME_RE

LabelMoveKind = Literal["direct", "release", "rollback", "withdraw"]
LABEL_MOVE_KINDS: Final[tuple[LabelMoveKind, ...]] = get_args(LabelMoveKind)
DEFAULT_PROTECTED: Final[tuple[str, ...]] = ("production",)
LATEST: Final = "latest"  # resolves to the newest version; never stored, never moved
ARTIFACT_KIND: Final = "prompt"
# A release artifact of kind `prompt` names a Charter prompt version by its URI: prompt:NAME@VERSION.
ARTIFACT_URI: Final = re.compile(r"^prompt:(?P<name>[^@]+)@(?P<version>[1-9][0-9]*)$")


class PromptInputError(ValidationFailed):
    """Bad prompt input (template syntax, variables, includes, config): 422 with the core's structured details."""

    type_slug = "prompt-invalid"
    title = "Invalid prompt"

    def __init__(self, exc: PromptError, where: str | None = None) -> None:
        detail = f"{where}: {exc.message}" if where else exc.message
        super().__init__(detail, errors=[{"loc": ["body"], "msg": exc.message, **exc.details()}])
        self.extra.update(exc.details())
        self.extra["error"] = type(exc).__name__


class IncludeFailed(CharterError):
    """An include that cannot be resolved at serve time (a cycle, a missing label): 409, the stored data is fine
    but the composition is not."""

    status = 409
    type_slug = "include-failed"
    title = "Include failed"

    def __init__(self, exc: IncludeError) -> None:
        super().__init__(exc.message, chain=exc.chain, error=type(exc).__name__)


def check_label(label: str) -> str:
    """A label name as stored; `latest` is reserved (it always means the newest version)."""
    if not LABEL_RE.match(label):
        raise ValidationFailed(
            f"label {label!r} is not valid: lower-case letters, digits, '_', '-', '.', starting with a letter "
            "(at most 64 characters)",
            errors=[{"loc": ["label"], "msg": "invalid label"}],
        )
    if label == LATEST:
        raise ValidationFailed(
            "label 'latest' is reserved: it always resolves to the newest version and cannot be moved",
            errors=[{"loc": ["label"], "msg": "reserved label"}],
        )
    return label


def check_name(name: str) -> str:
    if not NAME_RE.match(name):
        raise ValidationFailed(
            f"prompt name {name!r} is not valid: letters, digits, '_', '-', '.', '/', starting with a letter or "
            "digit (at most 128 characters)",
            errors=[{"loc": ["name"], "msg": "invalid prompt name"}],
        )
    return name


def protected_labels(stored: list[str] | None) -> list[str]:
    return sorted(stored) if stored is not None else list(DEFAULT_PROTECTED)


def artifact_ref(artifact: dict[str, Any]) -> tuple[str, int] | None:
    """(name, version) of a release artifact that names a Charter prompt version, else None (an opaque artifact)."""
    if artifact.get("kind") != ARTIFACT_KIND:
        return None
    found = ARTIFACT_URI.match(str(artifact.get("uri", "")))
    if found is None:
        return None
    return found.group("name"), int(found.group("version"))


def sha256_hex(content_hash: str) -> str:
    """The hex digest of a version hash (`sha256:<hex>`): what a release artifact's sha256 carries."""
    return content_hash.removeprefix("sha256:")
