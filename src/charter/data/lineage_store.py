"""The lineage graph in the database: ingest OpenLineage events (merge each row with what is stored, upsert),
and load the graph back for queries. The merges are charter.data.lineage.rows' (order-free, idempotent)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from charter.data.lineage import (
    ColumnEdgeRow,
    DatasetRow,
    EdgeRow,
    GraphRows,
    JobRow,
    LineageGraph,
    RunRow,
    RunState,
    facts_from_event,
    merge_column_edge,
    merge_edge,
    merge_run,
    rows_from_facts,
)
from charter.data.models import (
    LineageColumnEdge,
    LineageDataset,
    LineageEdge,
    LineageEvent,
    LineageJob,
    LineageRun,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from charter.context import Ctx
    from charter.data.lineage import ValidatedEvent


def event_digest(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def ingest(ctx: Ctx, events: Sequence[ValidatedEvent]) -> tuple[int, int]:
    """Store validated events (all or nothing: the caller commits). Returns (accepted, duplicates).

    A run id reused for another job raises LineageConflictError before anything of that event is written."""
    ctx.require("lineage:write")
    accepted = duplicates = 0
    seen: set[str] = set()
    for event in events:
        digest = event_digest(event.body)
        if digest in seen or ctx.session.execute(select(LineageEvent.id).where(LineageEvent.digest == digest)).first():
            duplicates += 1
            continue
        seen.add(digest)
        facts = facts_from_event(event)
        rows = rows_from_facts(facts)
        merged_runs = [merge_run(_run(ctx.session, r.run_id), r) for r in rows.runs]  # conflicts raise here
        for d in rows.datasets:
            _upsert_seen(ctx.session, LineageDataset, d)
        for j in rows.jobs:
            _upsert_seen(ctx.session, LineageJob, j)
        for e in rows.edges:
            _upsert_edge(ctx.session, e)
        for c in rows.column_edges:
            _upsert_column_edge(ctx.session, c)
        for run in merged_runs:
            _store_run(ctx.session, run)
        job = facts.job
        ctx.session.add(
            LineageEvent(
                digest=digest,
                kind=event.kind,
                event_type=facts.event_type,
                event_time=facts.event_time,
                run_id=facts.run_id,
                job_namespace=job.namespace if job else None,
                job_name=job.name if job else None,
                producer=facts.producer[:1000],
                received_at=ctx.now(),
                received_by=ctx.principal.actor,
                payload=dict(event.body),
            )
        )
        ctx.session.flush()
        ctx.record(
            "lineage.event",
            "lineage_run" if facts.run_id else "lineage_job" if job else "lineage_dataset",
            facts.run_id or (f"{job.namespace}/{job.name}" if job else _first_dataset(facts.all_datasets)),
            after={
                "kind": event.kind,
                "event_type": facts.event_type,
                "event_time": facts.event_time.isoformat(),
                "job": {"namespace": job.namespace, "name": job.name} if job else None,
                "inputs": [d.to_dict() for d in facts.inputs],
                "outputs": [d.to_dict() for d in facts.outputs],
                "digest": digest,
            },
        )
        accepted += 1
    return accepted, duplicates


def _first_dataset(refs: Sequence[Any]) -> str:
    return f"{refs[0].namespace}/{refs[0].name}" if refs else "-"


def _upsert_seen(session: Session, model: type[LineageDataset] | type[LineageJob], row: DatasetRow | JobRow) -> None:
    stored: Any = session.execute(
        select(model).where(model.namespace == row.namespace, model.name == row.name)
    ).scalar_one_or_none()
    if stored is None:
        session.add(model(namespace=row.namespace, name=row.name, first_seen=row.first_seen, last_seen=row.last_seen))
        session.flush()
        return
    stored.first_seen = min(stored.first_seen, row.first_seen)
    stored.last_seen = max(stored.last_seen, row.last_seen)


def _upsert_edge(session: Session, row: EdgeRow) -> None:
    digest = _key_digest(row.key)
    stored = session.execute(select(LineageEdge).where(LineageEdge.key_digest == digest)).scalar_one_or_none()
    if stored is None:
        values = row.to_dict() | {"first_seen": row.first_seen, "last_seen": row.last_seen}
        session.add(LineageEdge(key_digest=digest, **values))
        session.flush()
        return
    merged = merge_edge(_edge_row(stored), row)
    stored.first_seen, stored.last_seen, stored.last_run_id = merged.first_seen, merged.last_seen, merged.last_run_id


def _key_digest(key: tuple[str, ...]) -> str:
    return hashlib.sha256("\x00".join(key).encode()).hexdigest()


def _upsert_column_edge(session: Session, row: ColumnEdgeRow) -> None:
    digest = _key_digest(row.key)
    stored = session.execute(
        select(LineageColumnEdge).where(LineageColumnEdge.key_digest == digest)
    ).scalar_one_or_none()
    if stored is None:
        values = row.to_dict() | {"first_seen": row.first_seen, "last_seen": row.last_seen}
        session.add(LineageColumnEdge(key_digest=digest, **values))
        session.flush()
        return
    merged = merge_column_edge(_column_row(stored), row)
    for name in ("first_seen", "last_seen", "description", "masking"):
        setattr(stored, name, getattr(merged, name))


def _run(session: Session, run_id: str) -> RunRow | None:
    stored = session.get(LineageRun, run_id)
    return None if stored is None else _run_row(stored)


def _store_run(session: Session, run: RunRow) -> None:
    stored = session.get(LineageRun, run.run_id)
    values = run.to_dict() | {
        "state": run.state.value,
        "started_at": run.started_at,
        "ended_at": run.ended_at,
        "first_seen": run.first_seen,
        "last_seen": run.last_seen,
    }
    if stored is None:
        session.add(LineageRun(**values))
    else:
        for name, value in values.items():
            setattr(stored, name, value)
    session.flush()


# -- reading the graph back ---------------------------------------------------------------------------------------


def _run_row(r: LineageRun) -> RunRow:
    return RunRow(
        r.run_id, r.job_namespace, r.job_name, RunState(r.state), r.started_at, r.ended_at, r.first_seen,
        r.last_seen, r.parent_run_id,
    )  # fmt: skip


def _edge_row(e: LineageEdge) -> EdgeRow:
    return EdgeRow(
        e.direction,  # type: ignore[arg-type]
        e.job_namespace, e.job_name, e.dataset_namespace, e.dataset_name, e.first_seen, e.last_seen, e.last_run_id,
    )  # fmt: skip


def _column_row(c: LineageColumnEdge) -> ColumnEdgeRow:
    return ColumnEdgeRow(
        c.output_namespace, c.output_name, c.output_field, c.input_namespace, c.input_name, c.input_field,
        c.transformation_type, c.transformation_subtype, c.job_namespace, c.job_name, c.first_seen, c.last_seen,
        c.description, c.masking,
    )  # fmt: skip


def load_graph(session: Session) -> LineageGraph:
    """The whole stored graph (read in five queries)."""
    datasets = tuple(
        DatasetRow(d.namespace, d.name, d.first_seen, d.last_seen)
        for d in session.execute(select(LineageDataset).order_by(LineageDataset.id)).scalars()
    )
    jobs = tuple(
        JobRow(j.namespace, j.name, j.first_seen, j.last_seen)
        for j in session.execute(select(LineageJob).order_by(LineageJob.id)).scalars()
    )
    runs = tuple(_run_row(r) for r in session.execute(select(LineageRun)).scalars())
    edges = tuple(_edge_row(e) for e in session.execute(select(LineageEdge)).scalars())
    columns = tuple(_column_row(c) for c in session.execute(select(LineageColumnEdge)).scalars())
    return LineageGraph.from_rows(GraphRows(datasets, jobs, runs, edges, columns))
