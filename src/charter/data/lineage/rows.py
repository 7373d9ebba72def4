"""The stored form of the lineage graph: one row dataclass per table, the run-state table, and the merge rules.

Tables the integrator creates (natural keys; every row also fits a surrogate id if preferred)::

    lineage_datasets      (namespace, name)                                   first_seen, last_seen
    lineage_jobs          (namespace, name)                                   first_seen, last_seen
    lineage_runs          (run_id)                 job_namespace, job_name, state, started_at, ended_at,
                                                   first_seen, last_seen, parent_run_id
    lineage_edges         (direction, job_namespace, job_name, dataset_namespace, dataset_name)
                                                   first_seen, last_seen, last_run_id
    lineage_column_edges  (output_namespace, output_name, output_field, input_namespace, input_name, input_field,
                           transformation_type, transformation_subtype, job_namespace, job_name)
                                                   description, masking, first_seen, last_seen

Every key column is a non-null string (``""`` means "none": a dataset-wide column dependency, a static
DatasetEvent's missing job, an unknown transformation type), so plain unique indexes work on SQLite and PostgreSQL.
Times are the producers' ``eventTime`` values in UTC — facts from the events, never Charter's clock.

Merging is a join: ``merge_x(old, new)`` is commutative, associative and idempotent, so the stored graph is the
same whatever order events arrive in and however often a client retries one (the HTTP transport retries 5xx).
The graph is the union of everything ever reported (an edge once seen stays): the conservative answer for
deletion requests and incidents ("did anything ever read this dataset?").

Run state (the table below): START / RUNNING → RUNNING; COMPLETE → COMPLETED, FAIL → FAILED, ABORT → ABORTED;
OTHER (or no eventType) carries metadata and changes nothing. A terminal state is never left for RUNNING (a late
START after COMPLETE keeps COMPLETED). Two different terminal events for one run (a producer error) resolve to the
one with the later ``eventTime``; on a tie FAILED beats ABORTED beats COMPLETED (the pessimistic reading).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal, TypeVar

from charter.data.lineage.errors import LineageConflictError
from charter.data.lineage.events import DatasetRef, JobRef, LineageFacts


class RunState(StrEnum):
    NEW = "NEW"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    ABORTED = "ABORTED"
    FAILED = "FAILED"


STATE_OF_EVENT: dict[str, RunState | None] = {
    "START": RunState.RUNNING,
    "RUNNING": RunState.RUNNING,
    "COMPLETE": RunState.COMPLETED,
    "ABORT": RunState.ABORTED,
    "FAIL": RunState.FAILED,
    "OTHER": None,
}
TERMINAL = frozenset({RunState.COMPLETED, RunState.ABORTED, RunState.FAILED})
TRANSITIONS: dict[RunState, frozenset[RunState]] = {
    RunState.NEW: frozenset({RunState.RUNNING, *TERMINAL}),
    RunState.RUNNING: frozenset(TERMINAL),
    # a terminal state moves only to another terminal one, and only for a terminal event with a later eventTime
    RunState.COMPLETED: frozenset({RunState.ABORTED, RunState.FAILED}),
    RunState.ABORTED: frozenset({RunState.COMPLETED, RunState.FAILED}),
    RunState.FAILED: frozenset({RunState.COMPLETED, RunState.ABORTED}),
}
_TIE_BREAK = {RunState.COMPLETED: 0, RunState.ABORTED: 1, RunState.FAILED: 2}


_TIME_FIELDS = frozenset({"first_seen", "last_seen", "started_at", "ended_at"})


def _time(value: object) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value))


class _Row:
    """to_dict / from_dict with ISO-8601 datetimes, for JSON and for handing to an ORM."""

    __slots__: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in self.__slots__:  # the dataclass fields, in order (slots=True)
            value = getattr(self, name)
            out[name] = value.isoformat() if isinstance(value, datetime) else value
        return out

    @classmethod
    def from_dict(cls: type[_R], data: dict[str, Any]) -> _R:
        values: dict[str, Any] = {}
        for name in cls.__slots__:
            value = data.get(name)
            if name in _TIME_FIELDS:
                value = _time(value)
            elif name == "state":
                value = RunState(str(value))
            values[name] = value
        return cls(**values)


_R = TypeVar("_R", bound=_Row)


@dataclass(frozen=True, slots=True)
class DatasetRow(_Row):
    namespace: str
    name: str
    first_seen: datetime
    last_seen: datetime

    @property
    def key(self) -> DatasetRef:
        return DatasetRef(self.namespace, self.name)


@dataclass(frozen=True, slots=True)
class JobRow(_Row):
    namespace: str
    name: str
    first_seen: datetime
    last_seen: datetime

    @property
    def key(self) -> JobRef:
        return JobRef(self.namespace, self.name)


@dataclass(frozen=True, slots=True)
class RunRow(_Row):
    run_id: str
    job_namespace: str
    job_name: str
    state: RunState
    started_at: datetime | None
    ended_at: datetime | None
    first_seen: datetime
    last_seen: datetime
    parent_run_id: str | None = None

    @property
    def key(self) -> str:
        return self.run_id


@dataclass(frozen=True, slots=True)
class EdgeRow(_Row):
    """``input``: the dataset is read by the job; ``output``: the job writes the dataset."""

    direction: Literal["input", "output"]
    job_namespace: str
    job_name: str
    dataset_namespace: str
    dataset_name: str
    first_seen: datetime
    last_seen: datetime
    last_run_id: str = ""

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        return (self.direction, self.job_namespace, self.job_name, self.dataset_namespace, self.dataset_name)


@dataclass(frozen=True, slots=True)
class ColumnEdgeRow(_Row):
    """``output_field`` is computed from ``input_field`` (``output_field == ""``: the whole output dataset is)."""

    output_namespace: str
    output_name: str
    output_field: str
    input_namespace: str
    input_name: str
    input_field: str
    transformation_type: str
    transformation_subtype: str
    job_namespace: str
    job_name: str
    first_seen: datetime
    last_seen: datetime
    description: str | None = None
    masking: bool | None = None

    @property
    def key(self) -> tuple[str, ...]:
        return (
            self.output_namespace,
            self.output_name,
            self.output_field,
            self.input_namespace,
            self.input_name,
            self.input_field,
            self.transformation_type,
            self.transformation_subtype,
            self.job_namespace,
            self.job_name,
        )


@dataclass(frozen=True, slots=True)
class EventRows:
    """The rows one event touches (from :func:`rows_from_facts`), or — from ``LineageGraph.apply`` — those rows as
    merged into the graph: exactly what the integrator upserts."""

    datasets: tuple[DatasetRow, ...] = ()
    jobs: tuple[JobRow, ...] = ()
    runs: tuple[RunRow, ...] = ()
    edges: tuple[EdgeRow, ...] = ()
    column_edges: tuple[ColumnEdgeRow, ...] = ()


def rows_from_facts(facts: LineageFacts) -> EventRows:
    """The rows a single event contributes, before merging with what is stored."""
    t = facts.event_time
    datasets = tuple(DatasetRow(d.namespace, d.name, t, t) for d in facts.all_datasets)
    jobs: tuple[JobRow, ...] = ()
    runs: tuple[RunRow, ...] = ()
    edges: list[EdgeRow] = []
    if facts.job is not None:
        job = facts.job
        jobs = (JobRow(job.namespace, job.name, t, t),)
        run_id = facts.run_id or ""
        for direction, refs in (("input", facts.inputs), ("output", facts.outputs)):
            for d in refs:
                edges.append(EdgeRow(direction, job.namespace, job.name, d.namespace, d.name, t, t, run_id))  # type: ignore[arg-type]
        if facts.run_id is not None:
            state = STATE_OF_EVENT.get(facts.event_type or "OTHER") or RunState.NEW
            runs = (
                RunRow(
                    run_id=facts.run_id,
                    job_namespace=job.namespace,
                    job_name=job.name,
                    state=state,
                    started_at=t if facts.event_type == "START" else None,
                    ended_at=t if state in TERMINAL else None,
                    first_seen=t,
                    last_seen=t,
                    parent_run_id=facts.parent_run_id,
                ),
            )
    job_ns, job_name = (facts.job.namespace, facts.job.name) if facts.job else ("", "")
    column_edges = tuple(
        ColumnEdgeRow(
            output_namespace=dep.output.namespace,
            output_name=dep.output.name,
            output_field=dep.output.field,
            input_namespace=dep.input.namespace,
            input_name=dep.input.name,
            input_field=dep.input.field,
            transformation_type=dep.transformation_type,
            transformation_subtype=dep.transformation_subtype,
            job_namespace=job_ns,
            job_name=job_name,
            first_seen=t,
            last_seen=t,
            description=dep.description,
            masking=dep.masking,
        )
        for dep in facts.column_lineage
    )
    return EventRows(datasets, jobs, runs, tuple(sorted(edges, key=lambda e: e.key)), column_edges)


# -- merges: commutative, associative, idempotent ------------------------------------------------------------------

_S = TypeVar("_S", DatasetRow, JobRow)


def merge_seen(old: _S | None, new: _S) -> _S:
    """Dataset and job rows: widen the first_seen..last_seen window."""
    if old is None:
        return new
    return replace(old, first_seen=min(old.first_seen, new.first_seen), last_seen=max(old.last_seen, new.last_seen))


def merge_edge(old: EdgeRow | None, new: EdgeRow) -> EdgeRow:
    if old is None:
        return new
    latest = max((old.last_seen, old.last_run_id), (new.last_seen, new.last_run_id))
    return replace(old, first_seen=min(old.first_seen, new.first_seen), last_seen=latest[0], last_run_id=latest[1])


def merge_column_edge(old: ColumnEdgeRow | None, new: ColumnEdgeRow) -> ColumnEdgeRow:
    """Window widened; description and masking from the latest report (ties settled by value, so order-free)."""
    if old is None:
        return new

    def rank(row: ColumnEdgeRow) -> tuple[datetime, str, int]:
        return (row.last_seen, row.description or "", {None: 0, False: 1, True: 2}[row.masking])

    latest = max(old, new, key=rank)
    return replace(
        latest,
        first_seen=min(old.first_seen, new.first_seen),
        last_seen=max(old.last_seen, new.last_seen),
    )


def merge_run(old: RunRow | None, new: RunRow) -> RunRow:
    """Join two reports of one run. Raises LineageConflictError if they name different jobs."""
    if old is None:
        return new
    if (old.job_namespace, old.job_name) != (new.job_namespace, new.job_name):
        raise LineageConflictError(
            f"run {old.run_id} belongs to job {old.job_namespace}/{old.job_name}, but this event reports it for "
            f"job {new.job_namespace}/{new.job_name}; a run id identifies one run of one job — generate a new run id"
        )
    state, ended_at = _join_state(old, new)
    starts = [t for t in (old.started_at, new.started_at) if t is not None]
    parents = [p for p in (old.parent_run_id, new.parent_run_id) if p]
    return replace(
        old,
        state=state,
        ended_at=ended_at,
        started_at=min(starts) if starts else None,
        first_seen=min(old.first_seen, new.first_seen),
        last_seen=max(old.last_seen, new.last_seen),
        parent_run_id=max(parents) if parents else None,
    )


def next_state(current: RunState, event_type: str | None) -> RunState:
    """The state after an event of ``event_type`` arrives, ignoring times (for display and tests of the table)."""
    target = STATE_OF_EVENT.get(event_type or "OTHER")
    if target is None or target == current or target not in TRANSITIONS[current]:
        return current
    if current in TERMINAL:
        return current  # moving between terminal states needs times: see merge_run
    return target


def _join_state(a: RunRow, b: RunRow) -> tuple[RunState, datetime | None]:
    terminal = [(r.ended_at, _TIE_BREAK[r.state], r.state) for r in (a, b) if r.state in TERMINAL and r.ended_at]
    if terminal:
        ended_at, _, state = max(terminal)
        return state, ended_at
    if RunState.RUNNING in (a.state, b.state):
        return RunState.RUNNING, None
    return RunState.NEW, None
