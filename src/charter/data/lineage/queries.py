"""Transitive lineage queries over a :class:`~charter.data.lineage.graph.LineageGraph` (pure reads).

``upstream`` / ``downstream`` return the ``--json`` contract of
``charter data lineage NAME --namespace NS --upstream|--downstream``::

    {"datasets": [{"namespace": ..., "name": ...}, ...], "jobs": [{"namespace": ..., "name": ...}, ...]}

* transitive over dataset → job → dataset hops; ``depth`` counts job hops (1 = the jobs that write (read) the
  dataset and their direct inputs (outputs)); ``None`` = no limit;
* cycle-safe (each node is visited once) and the queried dataset itself is never listed, even inside a cycle;
* deterministic order: nearest first (by hop), then namespace, then name.

An unknown dataset raises :class:`~charter.data.lineage.errors.LineageNotFoundError`; a known dataset without
edges returns empty lists.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal, TypeVar

from charter.data.lineage.errors import LineageError, LineageNotFoundError
from charter.data.lineage.events import DATASET_WIDE, DatasetRef, FieldRef, JobRef
from charter.data.lineage.graph import LineageGraph
from charter.data.lineage.rows import ColumnEdgeRow

Direction = Literal["upstream", "downstream"]
_T = TypeVar("_T", DatasetRef, JobRef, FieldRef)


def upstream(
    graph: LineageGraph, namespace: str, name: str, *, depth: int | None = None
) -> dict[str, list[dict[str, str]]]:
    """Datasets and jobs the dataset is derived from, transitively."""
    return lineage(graph, namespace, name, direction="upstream", depth=depth)


def downstream(
    graph: LineageGraph, namespace: str, name: str, *, depth: int | None = None
) -> dict[str, list[dict[str, str]]]:
    """Datasets and jobs derived from the dataset, transitively."""
    return lineage(graph, namespace, name, direction="downstream", depth=depth)


def lineage(
    graph: LineageGraph, namespace: str, name: str, *, direction: Direction, depth: int | None = None
) -> dict[str, list[dict[str, str]]]:
    datasets, jobs = walk(graph, _known(graph, namespace, name), direction=direction, depth=depth)
    return {"datasets": [d.to_dict() for d in datasets], "jobs": [j.to_dict() for j in jobs]}


def walk(
    graph: LineageGraph, start: DatasetRef, *, direction: Direction, depth: int | None = None
) -> tuple[list[DatasetRef], list[JobRef]]:
    """Breadth-first walk; returns (datasets, jobs) nearest first, then by namespace and name."""
    _check_depth(depth)
    if direction not in ("upstream", "downstream"):
        raise LineageError(f"direction must be 'upstream' or 'downstream', got {direction!r}")
    jobs_of: Callable[[DatasetRef], frozenset[JobRef]]
    datasets_of: Callable[[JobRef], frozenset[DatasetRef]]
    if direction == "upstream":
        jobs_of, datasets_of = graph.producers, graph.job_inputs
    else:
        jobs_of, datasets_of = graph.consumers, graph.job_outputs
    seen_datasets: dict[DatasetRef, int] = {start: 0}
    seen_jobs: dict[JobRef, int] = {}
    frontier = [start]
    hop = 0
    while frontier and (depth is None or hop < depth):
        hop += 1
        following: list[DatasetRef] = []
        for dataset in frontier:
            for job in sorted(jobs_of(dataset)):
                if job in seen_jobs:
                    continue
                seen_jobs[job] = hop
                for reached in sorted(datasets_of(job)):
                    if reached not in seen_datasets:
                        seen_datasets[reached] = hop
                        following.append(reached)
        frontier = sorted(following)
    del seen_datasets[start]
    return _ordered(seen_datasets), _ordered(seen_jobs)


def column_upstream(
    graph: LineageGraph,
    namespace: str,
    name: str,
    field: str,
    *,
    depth: int | None = None,
    include_dataset_wide: bool = True,
) -> dict[str, list[dict[str, Any]]]:
    """Fields one field is computed from, transitively, with the edges that connect them.

    ``include_dataset_wide``: also follow the column-lineage facet's dataset-wide dependencies (filters, joins,
    grouping — they affect every field of their dataset). Returns ``{"fields": [{namespace, name, field}],
    "edges": [{output, input, transformation_type, transformation_subtype, masking, description, job}]}``;
    a dataset-wide edge has ``output.field == ""``. Fields are nearest first, then sorted; edges sorted.
    """
    _check_depth(depth)
    if not field:
        raise LineageError("field must be a non-empty column name")
    _known(graph, namespace, name)
    start = FieldRef(namespace, name, field)
    seen: dict[FieldRef, int] = {start: 0}
    edges: dict[tuple[str, ...], dict[str, Any]] = {}
    frontier = [start]
    hop = 0
    while frontier and (depth is None or hop < depth):
        hop += 1
        following: list[FieldRef] = []
        for current in frontier:
            targets = [current]
            if include_dataset_wide and current.field != DATASET_WIDE:
                targets.append(FieldRef(current.namespace, current.name, DATASET_WIDE))
            for target in targets:
                for edge in graph.column_edges_into(target):
                    edges.setdefault(edge.key, _edge_dict(edge))
                    source = FieldRef(edge.input_namespace, edge.input_name, edge.input_field)
                    if source not in seen:
                        seen[source] = hop
                        following.append(source)
        frontier = sorted(following)
    del seen[start]
    return {"fields": [f.to_dict() for f in _ordered(seen)], "edges": [edges[k] for k in sorted(edges)]}


def systems_using(
    graph: LineageGraph,
    namespace: str,
    name: str,
    dataset_systems: Mapping[DatasetRef, Iterable[str]] | Mapping[tuple[str, str], Iterable[str]],
    *,
    depth: int | None = None,
) -> list[dict[str, Any]]:
    """Which systems used this dataset, directly or through anything derived from it (deletion requests, incidents).

    ``dataset_systems`` maps a dataset (``DatasetRef`` or ``(namespace, name)``) to the systems whose releases list
    it as an artifact — the integrator builds it from release artifacts of kind ``dataset`` (e.g. production
    releases only). Returns ``[{"system": id, "datasets": [{namespace, name}, …]}]`` sorted by system; ``datasets``
    are the dataset itself and/or its downstream datasets through which the system used it, nearest first.
    A dataset absent from the lineage graph is answered from ``dataset_systems`` alone.
    """
    _check_depth(depth)
    start = DatasetRef(namespace, name)
    affected = [start]
    if graph.has_dataset(start):
        affected += walk(graph, start, direction="downstream", depth=depth)[0]
    systems: dict[DatasetRef, set[str]] = {}
    for key, names in dataset_systems.items():
        ref = key if isinstance(key, DatasetRef) else DatasetRef(*key)
        systems.setdefault(ref, set()).update(names)
    via: dict[str, list[DatasetRef]] = {}
    for dataset in affected:
        for system in sorted(systems.get(dataset, ())):
            via.setdefault(system, []).append(dataset)
    return [{"system": s, "datasets": [d.to_dict() for d in via[s]]} for s in sorted(via)]


def _known(graph: LineageGraph, namespace: str, name: str) -> DatasetRef:
    ref = DatasetRef(namespace, name)
    if not graph.has_dataset(ref):
        raise LineageNotFoundError(
            f"no lineage event has mentioned dataset {name!r} in namespace {namespace!r}; datasets are named by "
            "their OpenLineage namespace (the data source, e.g. s3://bucket or postgres://host:5432) and name"
        )
    return ref


def _check_depth(depth: int | None) -> None:
    if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int) or depth < 1):
        raise LineageError(
            f"depth must be a whole number of job hops ≥ 1 (1 = direct neighbours), or omitted for no limit; "
            f"got {depth!r}"
        )


def _ordered(levels: dict[_T, int]) -> list[_T]:
    return sorted(levels, key=lambda ref: (levels[ref], ref))


def _edge_dict(edge: ColumnEdgeRow) -> dict[str, Any]:
    return {
        "output": {"namespace": edge.output_namespace, "name": edge.output_name, "field": edge.output_field},
        "input": {"namespace": edge.input_namespace, "name": edge.input_name, "field": edge.input_field},
        "transformation_type": edge.transformation_type,
        "transformation_subtype": edge.transformation_subtype,
        "masking": edge.masking,
        "description": edge.description,
        "job": {"namespace": edge.job_namespace, "name": edge.job_name} if edge.job_name else None,
    }
