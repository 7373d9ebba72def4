"""OpenLineage lineage for Charter: validate events (spec 2-0-2), build the dataset/job/run graph, answer queries.

Pure library (no database, no web, no clock): the integrator mounts it behind ``POST /api/v1/lineage``.

What the openlineage-python client (1.54, ``HttpTransport``) sends — mount exactly this, as Marquez does
    * ``POST {url}/api/v1/lineage``: the path is ``urljoin(url, endpoint)`` with ``endpoint = "api/v1/lineage"``, so a
      client ``url`` of ``https://charter.example`` or ``https://charter.example/`` reaches ``/api/v1/lineage``; a
      Charter mounted under a prefix needs the trailing slash (``https://host/charter/``), because ``urljoin``
      replaces the last path segment of ``https://host/charter``.
    * Headers: ``Content-Type: application/json``; ``Authorization: Bearer <api key>`` when ``auth`` is configured
      (``{"type": "api_key", "apiKey": ...}``) — map it to a Charter machine token; ``Content-Encoding: gzip`` when
      ``compression: gzip`` is configured (the body is then one gzip member); any ``custom_headers``; plus the
      ``requests`` defaults (``User-Agent: python-requests/…``, ``Accept: */*``, ``Accept-Encoding``).
    * Body: one event serialised as a JSON object, keys sorted, ``null`` values dropped (empty ``facets`` stay):
      ``{"eventTime": "2024-05-01T12:00:00.123456+00:00", "eventType": "START", "inputs": [...], "job": {"facets":
      {...}, "name": ..., "namespace": ...}, "outputs": [...], "producer": "https://...", "run": {"facets": {...},
      "runId": "<uuid7>"}, "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"}``.
      DatasetEvent: ``dataset`` instead of ``run``/``job`` (schemaURL ``…#/$defs/DatasetEvent``); JobEvent: ``job``,
      ``inputs``, ``outputs`` without ``run`` (``…#/$defs/JobEvent``). The client adds a ``tags`` run facet
      (``openlineage_client_version``) to every RunEvent.
    * Response: any 2xx is success (Marquez answers ``201 Created`` with an empty body). The transport raises on
      4xx (the user's ``emit`` call fails, no retry) and retries 500/502/503/504 up to 5 times with back-off — so
      answer 4xx for bad input, and make ingestion idempotent (it is: see ``rows``).
    * It never sends arrays. ``POST /api/v1/lineage/batch`` (JSON array; OpenLineage's OpenAPI spec) is served by
      :func:`validate_batch` for other producers.

Suggested handler (claim → call → record; nothing here does I/O)::

    raw = await request.body()
    body = decode_body(raw, content_encoding=request.headers.get("content-encoding"))   # LineageBodyError → 400
    event = validate_event(body)                       # LineageValidationError → 422 with .to_dict() (paths)
    rows = rows_from_facts(facts_from_event(event))    # then, per row, merge_*(stored_row, row) and upsert
    # LineageConflictError (a run id reused for another job) → 409; commit; answer 201

Modules: ``body`` (request bytes → JSON), ``validate`` (schemas, formats, facets; ``messages`` words its errors),
``events`` (event → facts), ``rows`` (stored rows, run state table, merges), ``graph`` (in-memory graph),
``queries`` (upstream / downstream / column / systems).
"""

import importlib
from typing import TYPE_CHECKING, Any

from charter.data.lineage.body import DEFAULT_MAX_BODY_BYTES, decode_body
from charter.data.lineage.errors import (
    LineageBatchError,
    LineageBodyError,
    LineageConflictError,
    LineageError,
    LineageNotFoundError,
    LineageSchemaSetupError,
    LineageValidationError,
    SchemaViolation,
)
from charter.data.lineage.events import (
    DATASET_WIDE,
    ColumnDependency,
    DatasetRef,
    FieldRef,
    JobRef,
    LineageFacts,
    facts_from_event,
)
from charter.data.lineage.graph import GraphRows, LineageGraph
from charter.data.lineage.queries import column_upstream, downstream, lineage, systems_using, upstream, walk
from charter.data.lineage.rows import (
    STATE_OF_EVENT,
    TRANSITIONS,
    ColumnEdgeRow,
    DatasetRow,
    EdgeRow,
    EventRows,
    JobRow,
    RunRow,
    RunState,
    merge_column_edge,
    merge_edge,
    merge_run,
    merge_seen,
    next_state,
    rows_from_facts,
)

if TYPE_CHECKING:
    from charter.data.lineage.validate import (
        EVENT_KINDS,
        EventKind,
        LineageValidator,
        ValidatedEvent,
        default_validator,
        validate_batch,
        validate_event,
    )

# Validation needs jsonschema and its format checkers, whose imports take seconds (rfc3987-syntax builds a grammar):
# they load on first use, so a server starts without them (PEP 562).
_LAZY = frozenset(
    {"EVENT_KINDS", "EventKind", "LineageValidator", "ValidatedEvent", "default_validator", "validate_batch",
     "validate_event"}
)  # fmt: skip


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module("charter.data.lineage.validate"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DATASET_WIDE",
    "DEFAULT_MAX_BODY_BYTES",
    "EVENT_KINDS",
    "STATE_OF_EVENT",
    "TRANSITIONS",
    "ColumnDependency",
    "ColumnEdgeRow",
    "DatasetRef",
    "DatasetRow",
    "EdgeRow",
    "EventKind",
    "EventRows",
    "FieldRef",
    "GraphRows",
    "JobRef",
    "JobRow",
    "LineageBatchError",
    "LineageBodyError",
    "LineageConflictError",
    "LineageError",
    "LineageFacts",
    "LineageGraph",
    "LineageNotFoundError",
    "LineageSchemaSetupError",
    "LineageValidationError",
    "LineageValidator",
    "RunRow",
    "RunState",
    "SchemaViolation",
    "ValidatedEvent",
    "column_upstream",
    "decode_body",
    "default_validator",
    "downstream",
    "facts_from_event",
    "lineage",
    "merge_column_edge",
    "merge_edge",
    "merge_run",
    "merge_seen",
    "next_state",
    "rows_from_facts",
    "systems_using",
    "upstream",
    "validate_batch",
    "validate_event",
    "walk",
]
