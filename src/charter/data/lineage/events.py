"""Validated OpenLineage events → the lineage facts Charter keeps (pure; no I/O, no clock).

* RunEvent (``eventType`` START / RUNNING / COMPLETE / FAIL / ABORT / OTHER, optional in the spec; absent is treated
  like OTHER): a run of a job, its input and output datasets, the ``parent`` run facet, and column lineage.
* JobEvent: a job with its static inputs and outputs (lineage without a run).
* DatasetEvent: a dataset on its own (static metadata), with the column lineage its facets carry.

Column lineage comes from the standard ``columnLineage`` dataset facet (``ColumnLineageDatasetFacet`` 1-2-0) on any
dataset of the event: each output field lists the input fields it is computed from, each with zero or more
``transformations`` (``type`` DIRECT / INDIRECT, ``subtype`` e.g. IDENTITY / TRANSFORMATION / AGGREGATION / FILTER /
JOIN…, ``masking``). One :class:`ColumnDependency` is produced per (input field, transformation); an input field
without ``transformations`` yields one dependency typed by the deprecated field-level ``transformationType``
(IDENTITY / MASKED) when present, else ``""``. The facet's ``dataset`` list (inputs that affect the whole dataset:
filters, joins, grouping) yields dependencies whose output field is :data:`DATASET_WIDE` (``""``). A facet marked
``_deleted`` is ignored. Facets that validation accepted only as custom facets (unknown versions) are read
defensively: malformed entries are skipped, never guessed at.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from charter.data.lineage.errors import LineageError

if TYPE_CHECKING:
    from charter.data.lineage.validate import EventKind, ValidatedEvent

DATASET_WIDE = ""
"""``ColumnDependency.output.field`` for the facet's dataset-wide dependencies (they affect every output field)."""

RUN_EVENT_TYPES = ("START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER")


@dataclass(frozen=True, slots=True, order=True)
class DatasetRef:
    """A dataset's OpenLineage identity: namespace (the data source, e.g. ``s3://bucket``) + name."""

    namespace: str
    name: str

    def to_dict(self) -> dict[str, str]:
        return {"namespace": self.namespace, "name": self.name}


@dataclass(frozen=True, slots=True, order=True)
class JobRef:
    """A job's OpenLineage identity: namespace (usually the scheduler) + name."""

    namespace: str
    name: str

    def to_dict(self) -> dict[str, str]:
        return {"namespace": self.namespace, "name": self.name}


@dataclass(frozen=True, slots=True, order=True)
class FieldRef:
    """A field (column) of a dataset."""

    namespace: str
    name: str
    field: str

    @property
    def dataset(self) -> DatasetRef:
        return DatasetRef(self.namespace, self.name)

    def to_dict(self) -> dict[str, str]:
        return {"namespace": self.namespace, "name": self.name, "field": self.field}


@dataclass(frozen=True, slots=True)
class ColumnDependency:
    """``output`` is computed from ``input`` (``output.field == DATASET_WIDE``: the whole output dataset is)."""

    output: FieldRef
    input: FieldRef
    transformation_type: str = ""
    transformation_subtype: str = ""
    description: str | None = None
    masking: bool | None = None

    def sort_key(self) -> tuple[FieldRef, FieldRef, str, str, str, int]:
        return (
            self.output,
            self.input,
            self.transformation_type,
            self.transformation_subtype,
            self.description or "",
            {None: 0, False: 1, True: 2}[self.masking],
        )


@dataclass(frozen=True, slots=True)
class LineageFacts:
    """What one event says about the graph. ``event_time`` is the producer's time, in UTC."""

    kind: EventKind
    event_time: datetime
    producer: str
    event_type: str | None = None
    job: JobRef | None = None
    run_id: str | None = None
    parent_run_id: str | None = None
    parent_job: JobRef | None = None
    inputs: tuple[DatasetRef, ...] = ()
    outputs: tuple[DatasetRef, ...] = ()
    datasets: tuple[DatasetRef, ...] = ()
    column_lineage: tuple[ColumnDependency, ...] = ()

    @property
    def all_datasets(self) -> tuple[DatasetRef, ...]:
        """Every dataset the event mentions (inputs, outputs, the static dataset, column-lineage inputs), sorted."""
        found = {*self.inputs, *self.outputs, *self.datasets}
        for dep in self.column_lineage:
            found.add(dep.output.dataset)
            found.add(dep.input.dataset)
        return tuple(sorted(found))


def facts_from_event(event: ValidatedEvent) -> LineageFacts:
    """The lineage facts of a validated event. Raises LineageError only for what the schema cannot express."""
    body = event.body
    event_time = parse_event_time(body["eventTime"])
    producer = str(body["producer"])
    if event.kind == "DatasetEvent":
        dataset = body["dataset"]
        return LineageFacts(
            kind="DatasetEvent",
            event_time=event_time,
            producer=producer,
            datasets=(_dataset_ref(dataset),),
            column_lineage=_sorted_dependencies(_column_lineage([dataset])),
        )
    inputs = _datasets(body.get("inputs", ()))
    outputs = _datasets(body.get("outputs", ()))
    all_datasets = [*body.get("inputs", ()), *body.get("outputs", ())]
    job = JobRef(str(body["job"]["namespace"]), str(body["job"]["name"]))
    common: dict[str, Any] = {
        "event_time": event_time,
        "producer": producer,
        "job": job,
        "inputs": inputs,
        "outputs": outputs,
        "column_lineage": _sorted_dependencies(_column_lineage(all_datasets)),
    }
    if event.kind == "JobEvent":
        return LineageFacts(kind="JobEvent", **common)
    run = body["run"]
    parent_run_id, parent_job = _parent(run.get("facets"))
    return LineageFacts(
        kind="RunEvent",
        event_type=str(body.get("eventType") or "OTHER"),
        run_id=canonical_run_id(str(run["runId"])),
        parent_run_id=parent_run_id,
        parent_job=parent_job,
        **common,
    )


def canonical_run_id(run_id: str) -> str:
    """Lower-case hyphenated form, so ``ABC…`` and ``abc…`` are the same run."""
    try:
        return str(uuid.UUID(run_id))
    except ValueError:
        raise LineageError(f"run id {run_id!r} is not a UUID; OpenLineage run ids are UUIDs") from None


_LEAP_SECOND = re.compile(r"^(.*T\d\d:\d\d:)60(.*)$")


def parse_event_time(value: object) -> datetime:
    """An RFC 3339 date-time (already format-checked) → aware UTC datetime. Lower-case ``t``/``z`` and a leap second
    (``:60``, clamped to ``:59.999999``) are accepted as RFC 3339 allows; a missing offset is refused."""
    if not isinstance(value, str):
        raise LineageError(f"eventTime must be an RFC 3339 date-time string, got {type(value).__name__}")
    text = value.upper()
    leap = _LEAP_SECOND.match(text)
    if leap:
        rest = re.sub(r"^\.\d+", "", leap[2])
        text = f"{leap[1]}59.999999{rest}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise LineageError(f"eventTime {value!r} is not an RFC 3339 date-time such as 2024-05-01T12:00:00Z") from None
    if parsed.tzinfo is None:
        raise LineageError(f"eventTime {value!r} has no time-zone offset; RFC 3339 requires one (Z or ±hh:mm)")
    return parsed.astimezone(UTC)


def _dataset_ref(node: Mapping[str, Any]) -> DatasetRef:
    return DatasetRef(str(node["namespace"]), str(node["name"]))


def _datasets(nodes: Iterable[Mapping[str, Any]]) -> tuple[DatasetRef, ...]:
    return tuple(sorted({_dataset_ref(node) for node in nodes}))


def _parent(facets: object) -> tuple[str | None, JobRef | None]:
    if not isinstance(facets, dict):
        return None, None
    parent = facets.get("parent")
    if not isinstance(parent, dict) or parent.get("_deleted") is True:
        return None, None
    run, job = parent.get("run"), parent.get("job")
    run_id: str | None = None
    if isinstance(run, dict) and isinstance(run.get("runId"), str):
        try:
            run_id = str(uuid.UUID(run["runId"]))
        except ValueError:
            run_id = None
    parent_job = None
    if isinstance(job, dict) and isinstance(job.get("namespace"), str) and isinstance(job.get("name"), str):
        parent_job = JobRef(job["namespace"], job["name"])
    return run_id, parent_job


def _sorted_dependencies(dependencies: Iterable[ColumnDependency]) -> tuple[ColumnDependency, ...]:
    return tuple(sorted(set(dependencies), key=ColumnDependency.sort_key))


def _column_lineage(datasets: Iterable[Mapping[str, Any]]) -> Iterator[ColumnDependency]:
    for dataset in datasets:
        facets = dataset.get("facets")
        facet = facets.get("columnLineage") if isinstance(facets, dict) else None
        if not isinstance(facet, dict) or facet.get("_deleted") is True:
            continue
        target = _dataset_ref(dataset)
        fields = facet.get("fields")
        if isinstance(fields, dict):
            for output_field, spec in fields.items():
                if not isinstance(spec, dict) or not isinstance(spec.get("inputFields"), list):
                    continue
                fallback_type = spec.get("transformationType")
                fallback_description = spec.get("transformationDescription")
                output = FieldRef(target.namespace, target.name, str(output_field))
                for item in spec["inputFields"]:
                    yield from _dependencies(output, item, fallback_type, fallback_description)
        whole = facet.get("dataset")
        if isinstance(whole, list):
            output = FieldRef(target.namespace, target.name, DATASET_WIDE)
            for item in whole:
                yield from _dependencies(output, item, None, None)


def _dependencies(
    output: FieldRef, item: object, fallback_type: object, fallback_description: object
) -> Iterator[ColumnDependency]:
    if not isinstance(item, dict) or not all(isinstance(item.get(k), str) for k in ("namespace", "name", "field")):
        return
    source = FieldRef(item["namespace"], item["name"], item["field"])
    transformations = [t for t in item.get("transformations") or () if isinstance(t, dict)]
    if not transformations:
        yield ColumnDependency(
            output=output,
            input=source,
            transformation_type=fallback_type if isinstance(fallback_type, str) else "",
            description=fallback_description if isinstance(fallback_description, str) else None,
        )
        return
    for transformation in transformations:
        masking = transformation.get("masking")
        description = transformation.get("description")
        yield ColumnDependency(
            output=output,
            input=source,
            transformation_type=str(transformation.get("type") or ""),
            transformation_subtype=str(transformation.get("subtype") or ""),
            description=description if isinstance(description, str) else None,
            masking=masking if isinstance(masking, bool) else None,
        )
