"""OpenLineage ingestion and lineage queries: validation, graph building, transitive queries.

    .venv/bin/python benchmarks/lineage.py [--events 2000] [--chain 2000] [--no-peer]

Measured in one run, CPU time per core (the machine is shared):
- validating client-shaped RunEvents (tags, parent, nominalTime, jobType run/job facets; schema and columnLineage
  facets with --fields fields on the output) with `LineageValidator.validate`: core schema with formats, every
  standard facet against its facet schema;
- the core schema alone (the spec's top-level oneOf, formats asserted) with `jsonschema` — and, as the peer, with
  jsonschema-rs (Rust; `pip install jsonschema-rs`, bench-only) over the same registry and events, as a ratio;
- `LineageGraph.apply_event` for the same events (facts, rows, merges);
- upstream from the end and downstream from the start of a --chain-long linear pipeline with a side input per job,
  and column-level upstream through the whole chain.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from charter.data.lineage import LineageGraph, LineageValidator, column_upstream, downstream, upstream
from charter.data.lineage.validate import CORE_SCHEMA_ID, SCHEMA_DIR

CORE = f"{CORE_SCHEMA_ID}#/$defs"
FACETS = "https://openlineage.io/spec/facets"
PRODUCER = "https://github.com/OpenLineage/OpenLineage/tree/1.54.0/client/python"


def facet(url: str, **fields: Any) -> dict[str, Any]:
    return {"_producer": PRODUCER, "_schemaURL": url, **fields}


def event(index: int, fields: int, *, source: str, target: str) -> dict[str, Any]:
    rid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"bench/{index}"))
    minute = f"{index % 60:02d}"
    columns = [f"c{i}" for i in range(fields)]
    return {
        "eventTime": f"2024-05-01T12:{minute}:00.123456+00:00",
        "eventType": "COMPLETE",
        "producer": PRODUCER,
        "schemaURL": f"{CORE}/RunEvent",
        "run": {
            "runId": rid,
            "facets": {
                "tags": facet(
                    f"{FACETS}/1-0-0/TagsRunFacet.json#/$defs/TagsRunFacet",
                    tags=[{"key": "openlineage_client_version", "value": "1.54.0", "source": "OPENLINEAGE_CLIENT"}],
                ),
                "parent": facet(
                    f"{FACETS}/1-2-0/ParentRunFacet.json#/$defs/ParentRunFacet",
                    run={"runId": str(uuid.uuid5(uuid.NAMESPACE_URL, "bench/dag"))},
                    job={"namespace": "airflow", "name": "dag"},
                ),
                "nominalTime": facet(
                    f"{FACETS}/1-0-1/NominalTimeRunFacet.json#/$defs/NominalTimeRunFacet",
                    nominalStartTime="2024-05-01T12:00:00Z",
                ),
            },
        },
        "job": {
            "namespace": "airflow",
            "name": f"job-{index}",
            "facets": {
                "jobType": facet(
                    f"{FACETS}/2-0-4/JobTypeJobFacet.json#/$defs/JobTypeJobFacet",
                    processingType="BATCH",
                    integration="AIRFLOW",
                    jobType="TASK",
                )
            },
        },
        "inputs": [{"namespace": "s3://lake", "name": source}, {"namespace": "s3://side", "name": f"side-{index}"}],
        "outputs": [
            {
                "namespace": "s3://lake",
                "name": target,
                "facets": {
                    "schema": facet(
                        f"{FACETS}/1-2-0/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet",
                        fields=[{"name": c, "type": "STRING"} for c in columns],
                    ),
                    "columnLineage": facet(
                        f"{FACETS}/1-2-0/ColumnLineageDatasetFacet.json#/$defs/ColumnLineageDatasetFacet",
                        fields={
                            c: {
                                "inputFields": [
                                    {
                                        "namespace": "s3://lake",
                                        "name": source,
                                        "field": c,
                                        "transformations": [{"type": "DIRECT", "subtype": "IDENTITY"}],
                                    }
                                ]
                            }
                            for c in columns
                        },
                    ),
                },
            }
        ],
    }


def chain(count: int, fields: int) -> list[dict[str, Any]]:
    return [event(i, fields, source=f"d{i}", target=f"d{i + 1}") for i in range(count)]


def cpu(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.process_time()
    out = fn()
    return time.process_time() - started, out


def registry() -> Registry[Any]:
    resources = []
    for path in [SCHEMA_DIR / "OpenLineage.json", *sorted((SCHEMA_DIR / "facets").glob("*.json"))]:
        contents = json.loads(path.read_text())
        resources.append((contents["$id"], Resource.from_contents(contents)))
    return Registry().with_resources(resources)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--chain", type=int, default=2000)
    parser.add_argument("--fields", type=int, default=20)
    parser.add_argument("--no-peer", action="store_true")
    args = parser.parse_args()

    events = chain(args.events, args.fields)
    size = sum(len(json.dumps(e)) for e in events) / len(events)
    print(f"{args.events} client-shaped RunEvents, {args.fields} columns each, {size / 1024:.1f} KiB per event")

    validator = LineageValidator()
    seconds, validated = cpu(lambda: [validator.validate(e) for e in events])
    assert all(not v.warnings for v in validated)
    print(f"validate (core + facets, formats): {len(events) / seconds:9.0f} events/s/core")

    core = Draft202012Validator(
        {"$ref": CORE_SCHEMA_ID}, registry=registry(), format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    ours, _ = cpu(lambda: [core.is_valid(e) for e in events])
    print(f"core schema only, jsonschema:      {len(events) / ours:9.0f} events/s/core")
    if not args.no_peer:
        try:
            import jsonschema_rs
        except ImportError:
            print("peer jsonschema-rs not installed (pip install jsonschema-rs): skipped")
        else:
            contents = [
                json.loads(p.read_text())
                for p in [SCHEMA_DIR / "OpenLineage.json", *(SCHEMA_DIR / "facets").glob("*.json")]
            ]
            rs_registry = jsonschema_rs.Registry([(c["$id"], c) for c in contents])
            rs = jsonschema_rs.Draft202012Validator(
                {"$ref": CORE_SCHEMA_ID}, validate_formats=True, registry=rs_registry
            )
            assert not rs.is_valid({**events[0], "run": {"runId": "abc"}}), "jsonschema-rs must assert formats"
            theirs, results = cpu(lambda: [rs.is_valid(e) for e in events])
            assert all(results)
            rate = len(events) / theirs
            print(
                f"core schema only, jsonschema-rs:   {rate:9.0f} events/s/core  (jsonschema: {theirs / ours:.4f} of it)"
            )

    graph = LineageGraph()
    seconds, _ = cpu(lambda: [graph.apply_event(v) for v in validated])
    print(f"apply_event (facts, rows, merge):  {len(events) / seconds:9.0f} events/s/core")

    if args.chain != args.events:
        graph = LineageGraph.from_events(validator.validate(e) for e in chain(args.chain, args.fields))
    last = f"d{args.chain}"
    seconds, up = cpu(lambda: upstream(graph, "s3://lake", last))
    found = f"{len(up['datasets'])} datasets, {len(up['jobs'])} jobs"
    print(f"upstream of the last of {args.chain} hops: {seconds * 1e3:7.1f} ms ({found})")
    seconds, down = cpu(lambda: downstream(graph, "s3://lake", "d0"))
    print(f"downstream of the first:           {seconds * 1e3:7.1f} ms ({len(down['datasets'])} datasets)")
    seconds, col = cpu(lambda: column_upstream(graph, "s3://lake", last, "c0"))
    print(f"column upstream through the chain: {seconds * 1e3:7.1f} ms ({len(col['fields'])} fields)")
    seconds, _ = cpu(lambda: LineageGraph.from_dict(json.loads(json.dumps(graph.to_dict()))))
    print(f"graph → JSON → graph round trip:   {seconds * 1e3:7.1f} ms")


if __name__ == "__main__":
    main()
