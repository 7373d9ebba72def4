"""Validate OpenLineage 2-0-2 events (RunEvent, DatasetEvent, JobEvent) against the spec's JSON schemas.

What is checked
    * The core schema ``OpenLineage.json`` (JSON Schema 2020-12) with the ``jsonschema`` library, **formats asserted**
      (``Draft202012Validator.FORMAT_CHECKER``): ``uuid`` (run ids), ``date-time`` (RFC 3339, time-zone offset
      required) and ``uri`` (producer, schema URLs). The checkers for ``date-time`` and ``uri`` come from the
      ``jsonschema[format-nongpl]`` extra (rfc3339-validator, rfc3986-validator); the validator refuses to start
      without them rather than silently skipping those checks.
    * Every facet (run, job, dataset, input and output facets) must carry ``_producer`` and ``_schemaURL`` (core
      schema). A facet whose ``_schemaURL`` names a standard facet shipped in
      ``content/schemas/openlineage-2-0-2/facets`` is also validated against that facet's own schema, e.g.
      ``columnLineage`` against
      ``https://openlineage.io/spec/facets/1-2-0/ColumnLineageDatasetFacet.json#/$defs/ColumnLineageDatasetFacet``.
      Facet schemas are SchemaVer ``MODEL-REVISION-ADDITION``: a facet sent at the shipped version, or at an earlier
      ADDITION of the same MODEL-REVISION, is checked against the shipped schema; any other version, an unknown
      standard facet and custom facets are accepted on the base-facet rules alone and reported in ``warnings``.
      A facet marked ``"_deleted": true`` is not checked against its facet schema (it carries no payload).
    * ``$ref``s resolve to the shipped files through a local ``referencing`` registry keyed by each file's ``$id``:
      no network access, ever.

Telling the three event types apart
    The spec's top-level schema is ``oneOf: [RunEvent, DatasetEvent, JobEvent]``. If ``schemaURL`` names one of
    them in its last path segment (``…/OpenLineage.json#/$defs/RunEvent`` — what the clients send and what Marquez
    dispatches on), the event is validated as that type; otherwise the type is the one branch of the ``oneOf`` the
    body satisfies. Either way the body must satisfy exactly one branch, as the spec requires. For error reporting
    an undeclared, invalid body is judged by shape: ``run`` → RunEvent, else ``job`` → JobEvent, else ``dataset`` →
    DatasetEvent, else RunEvent (Marquez's default).

Errors
    :class:`~charter.data.lineage.errors.LineageValidationError` lists every violation with the instance path
    (``run.runId``) and the failing keyword's absolute schema location, e.g.
    ``run.runId: 'abc' is not a 'uuid' (expected a UUID such as 01908c5e-3bd4-7c2a-9f5e-0a6b1c2d3e4f) (schema:
    https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/Run/properties/runId/format)``.

Batches
    Marquez (main, 2025-03) accepts exactly one event per ``POST /api/v1/lineage`` (a JSON array fails to bind and is
    refused); a batch endpoint is an open request there (MarquezProject/marquez#2918). The OpenLineage OpenAPI spec
    (``spec/OpenLineage.yml``) defines ``POST /lineage/batch`` taking a JSON array of events. So: ``validate`` takes
    one event and refuses an array with a pointer to the batch path; ``validate_batch`` takes an array for
    ``POST /api/v1/lineage/batch`` and is all-or-nothing (any invalid event refuses the whole batch, with the index
    of each failure), so nothing is stored from a bad batch. openlineage-python 1.54's HTTP transport never batches.

Request bodies: see :func:`charter.data.lineage.body.decode_body` (gzip, size limit, JSON); what the client sends:
the package docstring.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urljoin

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.exceptions import Unresolvable

from charter.data.lineage.body import json_type
from charter.data.lineage.errors import (
    LineageBatchError,
    LineageBodyError,
    LineageError,
    LineageSchemaSetupError,
    LineageValidationError,
    SchemaViolation,
)
from charter.data.lineage.messages import describe, leaf_errors, path_key, render_path

EventKind = Literal["RunEvent", "DatasetEvent", "JobEvent"]
EVENT_KINDS: tuple[EventKind, ...] = ("RunEvent", "DatasetEvent", "JobEvent")
CORE_SCHEMA_ID = "https://openlineage.io/spec/2-0-2/OpenLineage.json"
SCHEMA_DIR = Path(__file__).resolve().parents[2] / "content" / "schemas" / "openlineage-2-0-2"
REQUIRED_FORMATS = ("date-time", "uri", "uuid")
MAX_VIOLATIONS = 50
MAX_NESTING = 64

_FACET_URL = re.compile(r"^https://openlineage\.io/spec/facets/(\d+)-(\d+)-(\d+)/([A-Za-z0-9_]+)\.json(?:#(.*))?$")
# The spec's top-level oneOf, given the body is valid as the key: a valid RunEvent has 'run' and 'job', so neither
# other branch can match; a valid DatasetEvent also matches JobEvent only if it has 'job' (and no 'run'); a valid
# JobEvent also matches DatasetEvent only if it has 'dataset'. Checking just that rival is the oneOf, minus two
# full passes over the event per request.
_RIVAL: dict[str, tuple[EventKind, str]] = {
    "DatasetEvent": ("JobEvent", "job"),
    "JobEvent": ("DatasetEvent", "dataset"),
}


@dataclass(frozen=True, slots=True)
class ValidatedEvent:
    """An event that passed validation. ``body`` is the event exactly as received (JSON types)."""

    kind: EventKind
    body: Mapping[str, Any]
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FacetSchema:
    """A standard facet schema shipped with Charter."""

    name: str
    version: tuple[int, int, int]
    schema_id: str
    defs: frozenset[str]


class LineageValidator:
    """Validates OpenLineage events against the schemas in ``schema_dir``. Build once; thread-safe to share."""

    def __init__(self, schema_dir: Path = SCHEMA_DIR) -> None:
        self.schema_dir = schema_dir
        resources, facets = _load_schemas(schema_dir)
        self._registry: Registry[Any] = Registry().with_resources(resources).crawl()
        self._format_checker = Draft202012Validator.FORMAT_CHECKER
        _check_formats(self._format_checker)
        self.facet_schemas: Mapping[str, FacetSchema] = facets
        self._kind_validators = {kind: self._validator(f"{CORE_SCHEMA_ID}#/$defs/{kind}") for kind in EVENT_KINDS}
        self._facet_validators: dict[str, Draft202012Validator] = {}

    # -- public --------------------------------------------------------------------------------------------------

    def validate(self, body: object) -> ValidatedEvent:
        """One event (a JSON object already parsed). Raises LineageValidationError / LineageBodyError."""
        if isinstance(body, list):
            raise LineageBodyError(
                "the body is a JSON array, but POST /api/v1/lineage takes one event (a JSON object), as Marquez does; "
                "send arrays of events to POST /api/v1/lineage/batch"
            )
        if not isinstance(body, dict):
            raise LineageBodyError(
                f"the body must be one OpenLineage event (a JSON object), got {json_type(body)}; allowed event "
                f"types: {', '.join(EVENT_KINDS)}"
            )
        depth = _nesting(body)
        if depth > MAX_NESTING:
            raise LineageBodyError(
                f"the event nests {depth} levels deep; the limit is {MAX_NESTING} (JSON objects and arrays)"
            )
        try:
            return self._validate(body)
        except RecursionError:
            raise LineageBodyError("the event is nested too deeply to validate") from None

    def _validate(self, body: dict[str, Any]) -> ValidatedEvent:
        kind, why = self._kind(body)
        violations = self._violations(self._kind_validators[kind], body, f"{CORE_SCHEMA_ID}#/$defs/{kind}", [])
        if violations:
            raise LineageValidationError(kind, violations, why_kind=why)
        rival = _RIVAL.get(kind)
        if rival is not None and rival[1] in body and self._kind_validators[rival[0]].is_valid(body):
            raise LineageValidationError(
                kind,
                (
                    SchemaViolation(
                        "event",
                        f"{CORE_SCHEMA_ID}#/oneOf",
                        "oneOf",
                        f"is valid as more than one event type ({', '.join(sorted((kind, rival[0])))}); the spec "
                        "requires exactly one (RunEvent: 'run' and 'job'; JobEvent: 'job' without 'run'; "
                        "DatasetEvent: 'dataset' without 'job')",
                    ),
                ),
                why_kind=why,
            )
        facet_violations, warnings = self._check_facets(body)
        if facet_violations:
            raise LineageValidationError(kind, facet_violations, why_kind=why)
        return ValidatedEvent(kind=kind, body=body, warnings=warnings)

    def validate_batch(self, body: object) -> tuple[ValidatedEvent, ...]:
        """A JSON array of events, all-or-nothing. Raises LineageBatchError naming each failing index."""
        if not isinstance(body, list):
            raise LineageBodyError(
                f"a batch must be a JSON array of OpenLineage events, got {json_type(body)}; "
                "send a single event to POST /api/v1/lineage"
            )
        accepted: list[ValidatedEvent] = []
        failures: dict[int, LineageError] = {}
        for index, item in enumerate(body):
            try:
                if isinstance(item, list):
                    raise LineageBodyError("a batch item must be one event (a JSON object), got an array")
                accepted.append(self.validate(item))
            except LineageError as error:
                failures[index] = error
        if failures:
            raise LineageBatchError(len(body), failures)
        return tuple(accepted)

    def facet_schema_for(self, schema_url: str) -> tuple[str | None, str | None]:
        """(schema reference to validate a facet with, or None; a warning, or None) for a facet ``_schemaURL``."""
        match = _FACET_URL.match(schema_url)
        if match is None:
            return None, None  # a custom facet (or a core BaseFacet URL): the base-facet rules already applied
        sent = (int(match[1]), int(match[2]), int(match[3]))
        name, fragment = match[4], match[5]
        shipped = self.facet_schemas.get(name)
        sent_text = "-".join(map(str, sent))
        if shipped is None:
            return None, f"facet schema {name} {sent_text} is not shipped with Charter: accepted as a custom facet"
        definition = name
        if fragment:
            if not fragment.startswith("/$defs/") or "/" in fragment[len("/$defs/") :]:
                return None, f"facet _schemaURL {schema_url!r} does not point at a $defs entry: accepted as custom"
            definition = fragment[len("/$defs/") :]
        if definition not in shipped.defs:
            return None, f"{name} has no definition {definition!r}: accepted as a custom facet"
        compatible = shipped.version[:2] == sent[:2] and shipped.version[2] >= sent[2]
        if not compatible:
            have = "-".join(map(str, shipped.version))
            return None, (
                f"facet {name} was sent at version {sent_text}, Charter ships {have} (only an earlier ADDITION of the "
                "same MODEL-REVISION is known to conform): checked as a custom facet"
            )
        return f"{shipped.schema_id}#/$defs/{definition}", None

    # -- internals -----------------------------------------------------------------------------------------------

    def _validator(self, ref: str) -> Draft202012Validator:
        return Draft202012Validator({"$ref": ref}, registry=self._registry, format_checker=self._format_checker)

    def _facet_validator(self, ref: str) -> Draft202012Validator:
        validator = self._facet_validators.get(ref)
        if validator is None:
            validator = self._facet_validators[ref] = self._validator(ref)
        return validator

    def _kind(self, body: Mapping[str, Any]) -> tuple[EventKind, str]:
        url = body.get("schemaURL")
        if isinstance(url, str):
            declared = url.rstrip("/").rsplit("/", 1)[-1]
            for kind in EVENT_KINDS:
                if declared == kind:
                    return kind, f"schemaURL names {kind}"
        matching = [k for k in EVENT_KINDS if self._kind_validators[k].is_valid(body)]
        if len(matching) == 1:
            return matching[0], f"it satisfies the {matching[0]} branch of the spec's oneOf"
        if matching:
            return matching[0], f"it satisfies more than one branch of the spec's oneOf ({', '.join(matching)})"
        if "run" in body:
            return "RunEvent", "judged by shape: it has 'run'"
        if "job" in body:
            return "JobEvent", "judged by shape: it has 'job' and no 'run'"
        if "dataset" in body:
            return "DatasetEvent", "judged by shape: it has 'dataset'"
        return "RunEvent", "judged by shape: no 'run', 'job' or 'dataset'; RunEvent is the default"

    def _violations(
        self, validator: Draft202012Validator, instance: object, ref: str, prefix: list[str | int]
    ) -> tuple[SchemaViolation, ...]:
        leaves = [leaf for error in validator.iter_errors(instance) for leaf in leaf_errors(error)]
        leaves.sort(key=lambda e: path_key([*prefix, *e.absolute_path]))
        out: list[SchemaViolation] = []
        for leaf in leaves[:MAX_VIOLATIONS]:
            out.append(
                SchemaViolation(
                    instance_path=render_path([*prefix, *leaf.absolute_path]),
                    schema_path=self._schema_location(ref, list(leaf.absolute_schema_path)),
                    keyword=str(leaf.validator),
                    message=describe(leaf),
                )
            )
        return tuple(out)

    def _schema_location(self, ref: str, path: list[str | int]) -> str:
        """Absolute URI + JSON pointer of the failing keyword (jsonschema elides ``$ref`` hops; we follow them)."""
        resolver = self._registry.resolver()
        node: Any = {"$ref": ref}
        base, pointer = "", []
        try:
            for part in path:
                hops = 0
                while isinstance(node, dict) and "$ref" in node and part not in node and hops < 32:
                    uri = urljoin(base, node["$ref"])
                    resolved = resolver.lookup(uri)
                    resolver = resolved.resolver
                    node = resolved.contents
                    base, _, fragment = uri.partition("#")
                    pointer = [p.replace("~1", "/").replace("~0", "~") for p in fragment.split("/")[1:]]
                    hops += 1
                node = node[part]
                pointer.append(str(part))
        except (KeyError, IndexError, TypeError, Unresolvable):
            return f"{ref} → {'/'.join(map(str, path))}"
        return base + "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in pointer)

    def _check_facets(self, body: Mapping[str, Any]) -> tuple[tuple[SchemaViolation, ...], tuple[str, ...]]:
        violations: list[SchemaViolation] = []
        warnings: list[str] = []
        for path, container in _facet_containers(body):
            for key, facet in container.items():
                if not isinstance(facet, dict) or facet.get("_deleted") is True:
                    continue
                ref, warning = self.facet_schema_for(str(facet.get("_schemaURL", "")))
                if warning:
                    warnings.append(f"{render_path([*path, key])}: {warning}")
                if ref is not None:
                    violations.extend(self._violations(self._facet_validator(ref), facet, ref, [*path, key]))
        return tuple(violations[:MAX_VIOLATIONS]), tuple(warnings)


@functools.cache
def default_validator() -> LineageValidator:
    """The process-wide validator over the shipped schemas (built on first use, ~50 ms)."""
    return LineageValidator()


def validate_event(body: object) -> ValidatedEvent:
    """Validate one parsed event with the shipped schemas. See :meth:`LineageValidator.validate`."""
    return default_validator().validate(body)


def validate_batch(body: object) -> tuple[ValidatedEvent, ...]:
    """Validate a parsed JSON array of events, all-or-nothing. See :meth:`LineageValidator.validate_batch`."""
    return default_validator().validate_batch(body)


# -- helpers -------------------------------------------------------------------------------------------------------


def _load_schemas(schema_dir: Path) -> tuple[list[tuple[str, Resource[Any]]], dict[str, FacetSchema]]:
    core = schema_dir / "OpenLineage.json"
    facet_dir = schema_dir / "facets"
    if not core.is_file() or not facet_dir.is_dir():
        raise LineageSchemaSetupError(
            f"OpenLineage schemas not found in {schema_dir} (need OpenLineage.json and facets/*.json); "
            "the package data was not installed with the JSON files"
        )
    resources: list[tuple[str, Resource[Any]]] = []
    facets: dict[str, FacetSchema] = {}
    for path in [core, *sorted(facet_dir.glob("*.json"))]:
        contents = json.loads(path.read_text(encoding="utf-8"))
        schema_id = contents.get("$id")
        if not isinstance(schema_id, str):
            raise LineageSchemaSetupError(f"{path} has no $id; cannot register it for $ref resolution")
        resources.append((schema_id, Resource.from_contents(contents)))
        match = _FACET_URL.match(schema_id)
        if match is not None:
            facets[match[4]] = FacetSchema(
                name=match[4],
                version=(int(match[1]), int(match[2]), int(match[3])),
                schema_id=schema_id,
                defs=frozenset(contents.get("$defs", {})),
            )
    if resources[0][0] != CORE_SCHEMA_ID:
        raise LineageSchemaSetupError(f"{core} has $id {resources[0][0]!r}; expected {CORE_SCHEMA_ID!r}")
    return resources, facets


def _check_formats(checker: Any) -> None:
    missing = [name for name in REQUIRED_FORMATS if name not in checker.checkers]
    probes = {"uuid": "abc", "date-time": "2024-01-01T00:00:00", "uri": "not a uri"}
    lax = [name for name, bad in probes.items() if name not in missing and checker.conforms(bad, name)]
    if missing or lax:
        raise LineageSchemaSetupError(
            f"JSON Schema formats {', '.join(missing + lax)} cannot be checked; install jsonschema[format-nongpl] "
            "(rfc3339-validator for date-time, rfc3986-validator for uri)"
        )


def _facet_containers(body: Mapping[str, Any]) -> Iterator[tuple[list[str | int], Mapping[str, Any]]]:
    for owner in ("run", "job", "dataset"):
        node = body.get(owner)
        if isinstance(node, dict) and isinstance(node.get("facets"), dict):
            yield [owner, "facets"], node["facets"]
    for side, extra in (("inputs", "inputFacets"), ("outputs", "outputFacets")):
        datasets = body.get(side)
        if not isinstance(datasets, list):
            continue
        for index, dataset in enumerate(datasets):
            if not isinstance(dataset, dict):
                continue
            for key in ("facets", extra):
                if isinstance(dataset.get(key), dict):
                    yield [side, index, key], dataset[key]


def _nesting(value: object) -> int:
    """Deepest nesting of objects/arrays, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, level)
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, level + 1) for child in children if isinstance(child, dict | list))
    return deepest
