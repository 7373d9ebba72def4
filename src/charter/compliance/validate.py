"""Validation of Charter's exports against the official schemas shipped under `content/schemas/`.

- CycloneDX 1.6 (`bom-1.6.schema.json`, JSON Schema draft-07) with the two schemas it references,
  `spdx.schema.json` and `jsf-0.82.schema.json`, resolved from local copies through a `referencing` registry:
  nothing is ever fetched from the network (an unknown reference is an error naming it).
- OSCAL assessment results, against the NIST OSCAL 1.2.3 complete schema (the 1.1.x assessment-results schema
  could not be obtained; see docs/compliance.md): the document is checked against the complete schema's own
  assessment-results branch, so errors point inside the document instead of at the root's `oneOf`.

Patterns are matched with the `regex` module, because the OSCAL schema uses Unicode classes (`\\p{L}`) that
Python's `re` rejects; formats (`date-time`, `email`, …) are checked where jsonschema has a checker installed
(`date-time` needs `rfc3339-validator`). A failing document raises ExportInvalid with each violation's JSON path.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import regex
from jsonschema import Draft7Validator, ValidationError, validators
from jsonschema.exceptions import best_match
from jsonschema.protocols import Validator
from referencing import Registry, Resource
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT7

__all__ = [
    "SCHEMA_DIR",
    "ExportInvalid",
    "SchemaUnavailable",
    "Violation",
    "cyclonedx_violations",
    "oscal_assessment_results_violations",
    "validate_cyclonedx",
    "validate_oscal_assessment_results",
]

SCHEMA_DIR: Final = Path(__file__).resolve().parent.parent / "content" / "schemas"
CYCLONEDX_FILES: Final = (
    "cyclonedx-1.6/bom-1.6.schema.json",
    "cyclonedx-1.6/spdx.schema.json",
    "cyclonedx-1.6/jsf-0.82.schema.json",
)
OSCAL_FILE: Final = "oscal-1.2.3/oscal_complete_schema.json"
MAX_VIOLATIONS: Final = 20
_MAX_MESSAGE: Final = 300


@dataclass(frozen=True)
class Violation:
    path: str  # JSON path into the document, e.g. "$.components[0].hashes[0].alg"
    message: str
    schema_path: str  # where in the schema the rule lives, e.g. "properties/components/items/…"

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class ExportInvalid(ValueError):
    """An export that does not validate against its official schema; `violations` name the failing paths."""

    def __init__(self, schema: str, violations: list[Violation]) -> None:
        self.schema = schema
        self.violations = tuple(violations)
        first = violations[0]
        more = f" (and {len(violations) - 1} more)" if len(violations) > 1 else ""
        super().__init__(f"not a valid {schema} document: {first}{more}")


class SchemaUnavailable(RuntimeError):
    """A shipped schema file is missing or refers to a schema that is not shipped (never fetched from the network)."""


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> regex.Pattern[str]:
    return regex.compile(pattern)


def _pattern(validator: Validator, pattern: str, instance: Any, schema: Mapping[str, Any]) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not _compiled(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


# Draft 7 with ECMA-262-like patterns (Unicode property classes) instead of Python's `re`.
_Draft7Regex: type[Validator] = validators.extend(Draft7Validator, {"pattern": _pattern})  # type: ignore[no-untyped-call]


def _resource(path: Path) -> tuple[str, Resource[Any], dict[str, Any]]:
    contents = json.loads(path.read_text(encoding="utf-8"))
    return str(contents["$id"]), DRAFT7.create_resource(contents), contents


@lru_cache(maxsize=4)
def _cyclonedx_validator(schema_dir: Path) -> Validator:
    loaded = [_resource(schema_dir / name) for name in CYCLONEDX_FILES]
    # A Registry without `retrieve` cannot fetch anything: a reference outside these files is Unresolvable.
    registry: Registry[Any] = Registry().with_resources((uri, res) for uri, res, _ in loaded)
    bom = loaded[0][2]
    return _Draft7Regex(bom, registry=registry, format_checker=Draft7Validator.FORMAT_CHECKER)


@lru_cache(maxsize=4)
def _oscal_ar_validator(schema_dir: Path) -> Validator:
    uri, resource, contents = _resource(schema_dir / OSCAL_FILE)
    branch = next(i for i, option in enumerate(contents["oneOf"]) if option.get("required") == ["assessment-results"])
    registry: Registry[Any] = Registry().with_resource(uri, resource)
    root = {"$schema": "http://json-schema.org/draft-07/schema#", "$ref": f"{uri}#/oneOf/{branch}"}
    return _Draft7Regex(root, registry=registry, format_checker=Draft7Validator.FORMAT_CHECKER)


# Formats the two schemas use that must really be checked (jsonschema skips a format whose checker library is
# missing, which would let a bad timestamp or URI through unnoticed): install jsonschema[format-nongpl].
REQUIRED_FORMATS: Final = ("date-time", "uri", "uri-reference", "iri-reference", "email", "idn-email")


def _validator(schema_dir: Path, build: Callable[[Path], Validator]) -> Validator:
    missing = [f for f in REQUIRED_FORMATS if f not in Draft7Validator.FORMAT_CHECKER.checkers]
    if missing:
        raise SchemaUnavailable(f"no checker for format(s) {', '.join(missing)}: install jsonschema[format-nongpl]")
    try:
        return build(schema_dir)
    except (OSError, KeyError, ValueError, StopIteration) as exc:
        raise SchemaUnavailable(f"cannot load the shipped schemas from {schema_dir}: {exc}") from exc


def _violations(validator: Validator, doc: Any, schema_dir: Path) -> list[Violation]:
    try:
        errors = list(validator.iter_errors(doc))
    except Unresolvable as exc:
        raise SchemaUnavailable(
            f"schema reference '{exc.ref}' is not among the shipped schemas in {schema_dir}"
        ) from exc
    found = []
    for error in sorted(errors, key=lambda e: [str(p) for p in e.absolute_path]):
        # for oneOf/anyOf failures, the most relevant error among the alternatives says what to fix
        deepest = best_match([error])
        message = deepest.message if len(deepest.message) <= _MAX_MESSAGE else deepest.message[:_MAX_MESSAGE] + "…"
        schema_path = "/".join(str(p) for p in deepest.absolute_schema_path)
        found.append(Violation(deepest.json_path, message, schema_path))
        if len(found) >= MAX_VIOLATIONS:
            break
    return found


def cyclonedx_violations(doc: Any, *, schema_dir: Path = SCHEMA_DIR) -> list[Violation]:
    """Every way `doc` breaks the CycloneDX 1.6 schema (at most MAX_VIOLATIONS), empty when it is valid."""
    return _violations(_validator(schema_dir, _cyclonedx_validator), doc, schema_dir)


def oscal_assessment_results_violations(doc: Any, *, schema_dir: Path = SCHEMA_DIR) -> list[Violation]:
    """Every way `doc` breaks the OSCAL (1.2.3) assessment-results model, empty when it is valid."""
    return _violations(_validator(schema_dir, _oscal_ar_validator), doc, schema_dir)


def validate_cyclonedx(doc: Any, *, schema_dir: Path = SCHEMA_DIR) -> None:
    """Raise ExportInvalid (with the failing JSON paths) unless `doc` is a valid CycloneDX 1.6 BOM."""
    violations = cyclonedx_violations(doc, schema_dir=schema_dir)
    if violations:
        raise ExportInvalid("CycloneDX 1.6", violations)


def validate_oscal_assessment_results(doc: Any, *, schema_dir: Path = SCHEMA_DIR) -> None:
    """Raise ExportInvalid (with the failing JSON paths) unless `doc` is a valid OSCAL assessment-results document."""
    violations = oscal_assessment_results_violations(doc, schema_dir=schema_dir)
    if violations:
        raise ExportInvalid("OSCAL 1.2.3 assessment-results", violations)
