"""Errors raised by the lineage library. Each message says what was wrong, where, and what is allowed."""

from __future__ import annotations

from dataclasses import dataclass


class LineageError(ValueError):
    """Base class: bad lineage input (a request body, an event, a query)."""


class LineageBodyError(LineageError):
    """The request body is not one JSON document we can read (encoding, gzip, size, JSON syntax, shape)."""


@dataclass(frozen=True, slots=True)
class SchemaViolation:
    """One reason an event failed validation.

    ``instance_path``: where in the event, e.g. ``run.runId`` or ``outputs[0].facets.columnLineage`` (``event`` for the
    top level). ``schema_path``: the failing keyword's location in the schema as an absolute URI + JSON pointer, e.g.
    ``https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/Run/properties/runId/format``. ``keyword``: the JSON
    Schema keyword that failed (``format``, ``required``, ``enum``…). ``message``: what was wrong and what is allowed.
    """

    instance_path: str
    schema_path: str
    keyword: str
    message: str

    def __str__(self) -> str:
        return f"{self.instance_path}: {self.message} (schema: {self.schema_path})"

    def to_dict(self) -> dict[str, str]:
        return {
            "instance_path": self.instance_path,
            "schema_path": self.schema_path,
            "keyword": self.keyword,
            "message": self.message,
        }


class LineageValidationError(LineageError):
    """An event does not conform to the OpenLineage 2-0-2 schema or to one of its standard facet schemas.

    ``kind`` is the event type it was checked as (``RunEvent``, ``DatasetEvent`` or ``JobEvent``) and ``violations``
    every reason found, in document order. ``str()`` names the first ones, with their schema paths.
    """

    MAX_LISTED = 5

    def __init__(self, kind: str, violations: tuple[SchemaViolation, ...], *, why_kind: str = "") -> None:
        self.kind = kind
        self.violations = violations
        self.why_kind = why_kind
        shown = "; ".join(str(v) for v in violations[: self.MAX_LISTED])
        more = len(violations) - self.MAX_LISTED
        tail = f"; and {more} more" if more > 0 else ""
        reason = f" ({why_kind})" if why_kind else ""
        super().__init__(f"invalid OpenLineage {kind}{reason}: {shown}{tail}")

    def to_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "errors": [v.to_dict() for v in self.violations]}


class LineageBatchError(LineageError):
    """One or more events of a batch are invalid. ``failures`` maps the 0-based index in the array to its error."""

    MAX_LISTED = 3

    def __init__(self, size: int, failures: dict[int, LineageError]) -> None:
        self.size = size
        self.failures = dict(sorted(failures.items()))
        shown = "; ".join(f"[{i}] {e}" for i, e in list(self.failures.items())[: self.MAX_LISTED])
        more = len(self.failures) - self.MAX_LISTED
        tail = f"; and {more} more" if more > 0 else ""
        super().__init__(
            f"{len(self.failures)} of {size} events in the batch are invalid, nothing was accepted: {shown}{tail}"
        )

    def to_dict(self) -> dict[str, object]:
        items: list[dict[str, object]] = []
        for index, error in self.failures.items():
            item: dict[str, object] = {"index": index, "message": str(error)}
            if isinstance(error, LineageValidationError):
                item.update(error.to_dict())
            items.append(item)
        return {"size": self.size, "failed": items}


class LineageConflictError(LineageError):
    """A valid event contradicts what is already known, e.g. a run id reused for a different job."""


class LineageNotFoundError(LookupError):
    """A query named a dataset (or field) that no lineage event has mentioned."""


class LineageSchemaSetupError(RuntimeError):
    """The shipped schemas or the format checkers they need are missing: a packaging/installation problem."""
