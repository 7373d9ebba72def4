"""OpenLineage events written by the tests: a chain raw → cleaned → features → training → evaluation, an unrelated
branch, and small builders for single events and facets."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

CORE = "https://openlineage.io/spec/2-0-2/OpenLineage.json"
PRODUCER = "https://github.com/acme/pipelines/tree/1.4.0"
NS = "s3://acme-lake"  # dataset namespace (the data source)
OTHER_NS = "postgres://crm-db:5432"
JOB_NS = "airflow-prod"  # job namespace (the scheduler)

COLUMN_LINEAGE_URL = (
    "https://openlineage.io/spec/facets/1-2-0/ColumnLineageDatasetFacet.json#/$defs/ColumnLineageDatasetFacet"
)
SCHEMA_URL = "https://openlineage.io/spec/facets/1-2-0/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet"
PARENT_URL = "https://openlineage.io/spec/facets/1-2-0/ParentRunFacet.json#/$defs/ParentRunFacet"
NOMINAL_URL = "https://openlineage.io/spec/facets/1-0-1/NominalTimeRunFacet.json#/$defs/NominalTimeRunFacet"


def run_id(label: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://tests.charter/run/{label}"))


def at(minute: int) -> str:
    return f"2024-05-01T12:{minute:02d}:00Z"


def facet(schema_url: str, **fields: Any) -> dict[str, Any]:
    return {"_producer": PRODUCER, "_schemaURL": schema_url, **fields}


def dataset(name: str, namespace: str = NS, **facets: dict[str, Any]) -> dict[str, Any]:
    node: dict[str, Any] = {"namespace": namespace, "name": name}
    if facets:
        node["facets"] = facets
    return node


def column_lineage(
    fields: dict[str, Sequence[tuple[str, str, str] | tuple[str, str, str, str, str]]],
    whole_dataset: Iterable[tuple[str, str, str, str, str]] = (),
) -> dict[str, Any]:
    """``{"out": [(ns, name, field[, type, subtype]), ...]}`` → a columnLineage facet."""

    def input_field(spec: tuple[str, ...]) -> dict[str, Any]:
        item: dict[str, Any] = {"namespace": spec[0], "name": spec[1], "field": spec[2]}
        if len(spec) == 5:
            item["transformations"] = [{"type": spec[3], "subtype": spec[4]}]
        return item

    body: dict[str, Any] = {
        "fields": {out: {"inputFields": [input_field(s) for s in ins]} for out, ins in fields.items()}
    }
    whole = [input_field(s) for s in whole_dataset]
    if whole:
        body["dataset"] = whole
    return facet(COLUMN_LINEAGE_URL, **body)


def run_event(
    event_type: str | None,
    job: str,
    run: str,
    *,
    inputs: Iterable[dict[str, Any]] = (),
    outputs: Iterable[dict[str, Any]] = (),
    time: str = "2024-05-01T12:00:00Z",
    job_namespace: str = JOB_NS,
    run_facets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "eventTime": time,
        "producer": PRODUCER,
        "schemaURL": f"{CORE}#/$defs/RunEvent",
        "run": {"runId": run},
        "job": {"namespace": job_namespace, "name": job},
        "inputs": list(inputs),
        "outputs": list(outputs),
    }
    if event_type is not None:
        event["eventType"] = event_type
    if run_facets:
        event["run"]["facets"] = run_facets
    return event


def job_event(
    job: str, *, inputs: Iterable[dict[str, Any]] = (), outputs: Iterable[dict[str, Any]] = ()
) -> dict[str, Any]:
    return {
        "eventTime": at(0),
        "producer": PRODUCER,
        "schemaURL": f"{CORE}#/$defs/JobEvent",
        "job": {"namespace": JOB_NS, "name": job},
        "inputs": list(inputs),
        "outputs": list(outputs),
    }


def dataset_event(node: dict[str, Any]) -> dict[str, Any]:
    return {"eventTime": at(0), "producer": PRODUCER, "schemaURL": f"{CORE}#/$defs/DatasetEvent", "dataset": node}


# The chain (datasets in NS unless noted):
#   raw --etl.clean--> cleaned --etl.featurize--> features --ml.train--> training --ml.evaluate--> evaluation
#   holdout (OTHER_NS) ----------------------------------------------------------/
# and an unrelated branch: contacts (OTHER_NS) --reporting.weekly--> weekly_report
CHAIN: list[tuple[str, list[dict[str, Any]], list[dict[str, Any]]]] = [
    (
        "etl.clean",
        [dataset("raw")],
        [
            dataset(
                "cleaned",
                columnLineage=column_lineage({"age": [(NS, "raw", "birth_date", "DIRECT", "TRANSFORMATION")]}),
            )
        ],
    ),
    (
        "etl.featurize",
        [dataset("cleaned")],
        [
            dataset(
                "features",
                columnLineage=column_lineage(
                    {"age_bucket": [(NS, "cleaned", "age", "DIRECT", "TRANSFORMATION")]},
                    whole_dataset=[(NS, "cleaned", "country", "INDIRECT", "FILTER")],
                ),
            )
        ],
    ),
    ("ml.train", [dataset("features")], [dataset("training")]),
    ("ml.evaluate", [dataset("training"), dataset("holdout", OTHER_NS)], [dataset("evaluation")]),
    ("reporting.weekly", [dataset("contacts", OTHER_NS)], [dataset("weekly_report")]),
]


def chain_events() -> list[dict[str, Any]]:
    """START then COMPLETE for every job of CHAIN, in order, one minute apart."""
    events: list[dict[str, Any]] = []
    for index, (job, inputs, outputs) in enumerate(CHAIN):
        rid = run_id(job)
        events.append(
            run_event(
                "START",
                job,
                rid,
                inputs=inputs,
                outputs=[dataset(o["name"], o["namespace"]) for o in outputs],
                time=at(2 * index),
            )
        )
        events.append(run_event("COMPLETE", job, rid, inputs=inputs, outputs=outputs, time=at(2 * index + 1)))
    return events


def ref(name: str, namespace: str = NS) -> dict[str, str]:
    return {"namespace": namespace, "name": name}


def job_ref(name: str) -> dict[str, str]:
    return {"namespace": JOB_NS, "name": name}
