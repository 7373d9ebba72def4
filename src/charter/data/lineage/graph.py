"""The in-memory lineage graph: datasets, jobs and runs, edges input dataset → job → output dataset, column edges.

Build it from events (``apply_event``) or from stored rows (``from_rows``); read it with the queries in
:mod:`charter.data.lineage.queries`. ``apply`` is atomic (a conflicting event changes nothing) and returns the
merged rows to upsert, so the integrator can keep tables and graph in step::

    event = validate_event(decode_body(raw, content_encoding=headers.get("content-encoding")))
    rows = LineageGraph().apply_event(event)          # or: rows_from_facts(facts_from_event(event)) + merge_*
    upsert(rows.datasets, rows.jobs, rows.runs, rows.edges, rows.column_edges)

``to_dict`` / ``from_dict`` give a JSON-ready form (lists of row dicts, sorted), for snapshots and tests.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from charter.data.lineage.events import DatasetRef, FieldRef, JobRef, LineageFacts, facts_from_event
from charter.data.lineage.rows import (
    ColumnEdgeRow,
    DatasetRow,
    EdgeRow,
    EventRows,
    JobRow,
    RunRow,
    merge_column_edge,
    merge_edge,
    merge_run,
    merge_seen,
    rows_from_facts,
)

if TYPE_CHECKING:
    from charter.data.lineage.validate import ValidatedEvent


@dataclass(frozen=True, slots=True)
class GraphRows:
    """Every row of a graph, each tuple sorted by key: the serialisable form."""

    datasets: tuple[DatasetRow, ...] = ()
    jobs: tuple[JobRow, ...] = ()
    runs: tuple[RunRow, ...] = ()
    edges: tuple[EdgeRow, ...] = ()
    column_edges: tuple[ColumnEdgeRow, ...] = ()

    def to_dict(self) -> dict[str, list[dict[str, Any]]]:
        return {
            "datasets": [r.to_dict() for r in self.datasets],
            "jobs": [r.to_dict() for r in self.jobs],
            "runs": [r.to_dict() for r in self.runs],
            "edges": [r.to_dict() for r in self.edges],
            "column_edges": [r.to_dict() for r in self.column_edges],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GraphRows:
        return cls(
            datasets=tuple(DatasetRow.from_dict(r) for r in data.get("datasets", ())),
            jobs=tuple(JobRow.from_dict(r) for r in data.get("jobs", ())),
            runs=tuple(RunRow.from_dict(r) for r in data.get("runs", ())),
            edges=tuple(EdgeRow.from_dict(r) for r in data.get("edges", ())),
            column_edges=tuple(ColumnEdgeRow.from_dict(r) for r in data.get("column_edges", ())),
        )


class LineageGraph:
    """Datasets, jobs and runs with their edges, plus adjacency indexes for the transitive queries."""

    def __init__(self) -> None:
        self._datasets: dict[DatasetRef, DatasetRow] = {}
        self._jobs: dict[JobRef, JobRow] = {}
        self._runs: dict[str, RunRow] = {}
        self._edges: dict[tuple[str, str, str, str, str], EdgeRow] = {}
        self._column_edges: dict[tuple[str, ...], ColumnEdgeRow] = {}
        self._producers: defaultdict[DatasetRef, set[JobRef]] = defaultdict(set)  # dataset ← jobs writing it
        self._consumers: defaultdict[DatasetRef, set[JobRef]] = defaultdict(set)  # dataset → jobs reading it
        self._job_inputs: defaultdict[JobRef, set[DatasetRef]] = defaultdict(set)
        self._job_outputs: defaultdict[JobRef, set[DatasetRef]] = defaultdict(set)
        self._field_inputs: defaultdict[FieldRef, set[FieldRef]] = defaultdict(set)  # output field ← input fields
        self._field_outputs: defaultdict[FieldRef, set[FieldRef]] = defaultdict(set)  # input field → output fields
        self._column_keys_into: defaultdict[FieldRef, set[tuple[str, ...]]] = defaultdict(set)

    # -- building ------------------------------------------------------------------------------------------------

    @classmethod
    def from_rows(cls, rows: GraphRows) -> LineageGraph:
        graph = cls()
        graph._merge(EventRows(rows.datasets, rows.jobs, rows.runs, rows.edges, rows.column_edges))
        return graph

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LineageGraph:
        return cls.from_rows(GraphRows.from_dict(data))

    @classmethod
    def from_events(cls, events: Iterable[ValidatedEvent]) -> LineageGraph:
        graph = cls()
        for event in events:
            graph.apply_event(event)
        return graph

    def apply_event(self, event: ValidatedEvent) -> EventRows:
        return self.apply(facts_from_event(event))

    def apply(self, facts: LineageFacts) -> EventRows:
        """Merge one event's facts. Atomic: raises LineageConflictError before changing anything."""
        return self._merge(rows_from_facts(facts))

    def _merge(self, rows: EventRows) -> EventRows:
        # compute every merged row first (this is where conflicts raise), then store them
        datasets = tuple(merge_seen(self._datasets.get(r.key), r) for r in rows.datasets)
        jobs = tuple(merge_seen(self._jobs.get(r.key), r) for r in rows.jobs)
        runs = _merge_all(self._runs, rows.runs, merge_run)
        edges = _merge_all(self._edges, rows.edges, merge_edge)
        column_edges = _merge_all(self._column_edges, rows.column_edges, merge_column_edge)
        for d in datasets:
            self._datasets[d.key] = d
        for j in jobs:
            self._jobs[j.key] = j
        for run in runs:
            self._runs[run.key] = run
        for e in edges:
            self._edges[e.key] = e
            dataset, job = DatasetRef(e.dataset_namespace, e.dataset_name), JobRef(e.job_namespace, e.job_name)
            if dataset not in self._datasets:
                self._datasets[dataset] = DatasetRow(dataset.namespace, dataset.name, e.first_seen, e.last_seen)
            if job not in self._jobs:
                self._jobs[job] = JobRow(job.namespace, job.name, e.first_seen, e.last_seen)
            if e.direction == "input":
                self._consumers[dataset].add(job)
                self._job_inputs[job].add(dataset)
            else:
                self._producers[dataset].add(job)
                self._job_outputs[job].add(dataset)
        for c in column_edges:
            key = c.key
            self._column_edges[key] = c
            out = FieldRef(c.output_namespace, c.output_name, c.output_field)
            source = FieldRef(c.input_namespace, c.input_name, c.input_field)
            self._field_inputs[out].add(source)
            self._field_outputs[source].add(out)
            self._column_keys_into[out].add(key)
            for namespace, name in ((c.output_namespace, c.output_name), (c.input_namespace, c.input_name)):
                ref = DatasetRef(namespace, name)
                if ref not in self._datasets:
                    self._datasets[ref] = DatasetRow(namespace, name, c.first_seen, c.last_seen)
        return EventRows(datasets, jobs, runs, edges, column_edges)

    # -- reading -------------------------------------------------------------------------------------------------

    def rows(self) -> GraphRows:
        return GraphRows(
            datasets=tuple(self._datasets[k] for k in sorted(self._datasets)),
            jobs=tuple(self._jobs[k] for k in sorted(self._jobs)),
            runs=tuple(self._runs[k] for k in sorted(self._runs)),
            edges=tuple(self._edges[k] for k in sorted(self._edges)),
            column_edges=tuple(self._column_edges[k] for k in sorted(self._column_edges)),
        )

    def to_dict(self) -> dict[str, list[dict[str, Any]]]:
        return self.rows().to_dict()

    def has_dataset(self, dataset: DatasetRef) -> bool:
        return dataset in self._datasets

    def dataset(self, dataset: DatasetRef) -> DatasetRow | None:
        return self._datasets.get(dataset)

    def job(self, job: JobRef) -> JobRow | None:
        return self._jobs.get(job)

    def run(self, run_id: str) -> RunRow | None:
        return self._runs.get(run_id.lower())

    def runs_of(self, job: JobRef) -> tuple[RunRow, ...]:
        """A job's runs, oldest first (by first event time, then run id)."""
        found = [r for r in self._runs.values() if (r.job_namespace, r.job_name) == (job.namespace, job.name)]
        return tuple(sorted(found, key=lambda r: (r.first_seen, r.run_id)))

    def producers(self, dataset: DatasetRef) -> frozenset[JobRef]:
        return frozenset(self._producers.get(dataset, ()))

    def consumers(self, dataset: DatasetRef) -> frozenset[JobRef]:
        return frozenset(self._consumers.get(dataset, ()))

    def job_inputs(self, job: JobRef) -> frozenset[DatasetRef]:
        return frozenset(self._job_inputs.get(job, ()))

    def job_outputs(self, job: JobRef) -> frozenset[DatasetRef]:
        return frozenset(self._job_outputs.get(job, ()))

    def field_inputs(self, field: FieldRef) -> frozenset[FieldRef]:
        return frozenset(self._field_inputs.get(field, ()))

    def field_outputs(self, field: FieldRef) -> frozenset[FieldRef]:
        return frozenset(self._field_outputs.get(field, ()))

    def column_edges_into(self, field: FieldRef) -> tuple[ColumnEdgeRow, ...]:
        """Column edges whose output is ``field`` (sorted by key)."""
        return tuple(self._column_edges[k] for k in sorted(self._column_keys_into.get(field, ())))

    def __len__(self) -> int:
        return len(self._datasets) + len(self._jobs)


def _merge_all(store: dict[Any, Any], new_rows: Iterable[Any], merge: Any) -> tuple[Any, ...]:
    merged: dict[Any, Any] = {}
    for row in new_rows:
        merged[row.key] = merge(merged.get(row.key) or store.get(row.key), row)
    return tuple(merged.values())
