"""The openlineage-python client's HTTP transport against a real local server that mounts the lineage library.

The server is a small FastAPI app served by uvicorn on 127.0.0.1 (a thread, a free port), answering like Marquez:
``POST /api/v1/lineage`` (one event) → 201; bad input → 4xx with the reasons; plus ``POST /api/v1/lineage/batch``.
"""

from __future__ import annotations

import gzip
import json
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import (
    DatasetEvent,
    InputDataset,
    Job,
    JobEvent,
    OutputDataset,
    Run,
    RunEvent,
    RunState,
    StaticDataset,
)
from openlineage.client.facet_v2 import (
    column_lineage_dataset,
    job_type_job,
    nominal_time_run,
    parent_run,
    schema_dataset,
)
from openlineage.client.transport.http import ApiKeyTokenProvider, HttpCompression, HttpConfig, HttpTransport

from charter.data.lineage import (
    LineageBatchError,
    LineageConflictError,
    LineageError,
    LineageGraph,
    LineageValidationError,
    column_upstream,
    decode_body,
    downstream,
    upstream,
    validate_batch,
    validate_event,
)
from charter.data.lineage.rows import RunState as LineageRunState

from .builders import CHAIN, JOB_NS, NS, OTHER_NS, chain_events, job_ref, ref, run_id

PRODUCER = "https://github.com/acme/pipelines/tree/1.4.0"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    raw: bytes
    status: int = 0
    answer: bytes = b""


@dataclass
class LineageServer:
    graph: LineageGraph = field(default_factory=LineageGraph)
    received: list[Received] = field(default_factory=list)
    url: str = ""

    def reset(self) -> None:
        self.graph = LineageGraph()
        self.received.clear()

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/api/v1/lineage")
        async def lineage(request: Request) -> Response:
            return await self._handle(request, batch=False)

        @app.post("/api/v1/lineage/batch")
        async def lineage_batch(request: Request) -> Response:
            return await self._handle(request, batch=True)

        return app

    async def _handle(self, request: Request, *, batch: bool) -> Response:
        raw = await request.body()
        record = Received(request.url.path, {k.lower(): v for k, v in request.headers.items()}, raw)
        self.received.append(record)
        response: Response
        try:
            body = decode_body(raw, content_encoding=request.headers.get("content-encoding"))
            events = validate_batch(body) if batch else (validate_event(body),)
            staged = LineageGraph.from_dict(self.graph.to_dict())  # all-or-nothing, like a transaction
            for event in events:
                staged.apply_event(event)
            self.graph = staged
            response = Response(status_code=201)
        except (LineageValidationError, LineageBatchError) as error:
            response = JSONResponse({"detail": str(error), **error.to_dict()}, status_code=422)
        except LineageConflictError as error:
            response = JSONResponse({"detail": str(error)}, status_code=409)
        except LineageError as error:
            response = JSONResponse({"detail": str(error)}, status_code=400)
        record.status, record.answer = response.status_code, bytes(response.body)
        return response


@pytest.fixture(scope="module")
def live() -> Iterator[LineageServer]:
    state = LineageServer()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(state.app(), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.started, "uvicorn did not start"
    state.url = f"http://127.0.0.1:{port}"
    yield state
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest.fixture
def server(live: LineageServer) -> LineageServer:
    live.reset()
    return live


def client_for(server: LineageServer, **config: Any) -> OpenLineageClient:
    session = requests.Session()
    session.trust_env = False  # loopback only: never a proxy from the environment
    transport = HttpTransport(HttpConfig(url=server.url, session=session, timeout=5.0, **config))
    return OpenLineageClient(transport=transport, config={"facets": {"source_code_location": {"disabled": True}}})


def now(minute: int) -> str:
    return datetime(2024, 5, 1, 12, minute, tzinfo=UTC).isoformat()


def client_chain_events() -> list[RunEvent]:
    """The CHAIN as the client builds it: START and COMPLETE per job, with standard facets on the way."""
    events: list[RunEvent] = []
    parent = parent_run.ParentRunFacet(
        run=parent_run.Run(runId=run_id("nightly-dag")), job=parent_run.Job(namespace=JOB_NS, name="nightly")
    )
    for index, (name, inputs, outputs) in enumerate(CHAIN):
        job = Job(
            namespace=JOB_NS,
            name=name,
            facets={
                "jobType": job_type_job.JobTypeJobFacet(processingType="BATCH", integration="AIRFLOW", jobType="TASK")
            },
        )
        run = Run(
            runId=run_id(name),
            facets={"parent": parent, "nominalTime": nominal_time_run.NominalTimeRunFacet(nominalStartTime=now(0))},
        )
        ins = [InputDataset(namespace=d["namespace"], name=d["name"]) for d in inputs]
        outs = [OutputDataset(namespace=d["namespace"], name=d["name"], facets=_client_facets(d)) for d in outputs]
        events.append(
            RunEvent(
                eventType=RunState.START,
                eventTime=now(2 * index),
                run=run,
                job=job,
                producer=PRODUCER,
                inputs=ins,
                outputs=outs,
            )
        )
        events.append(
            RunEvent(
                eventType=RunState.COMPLETE,
                eventTime=now(2 * index + 1),
                run=run,
                job=job,
                producer=PRODUCER,
                inputs=ins,
                outputs=outs,
            )
        )
    return events


def _client_facets(node: dict[str, Any]) -> dict[str, Any]:
    facets: dict[str, Any] = {
        "schema": schema_dataset.SchemaDatasetFacet(
            fields=[schema_dataset.SchemaDatasetFacetFields(name="id", type="BIGINT")]
        )
    }
    lineage = node.get("facets", {}).get("columnLineage")
    if lineage:
        facets["columnLineage"] = column_lineage_dataset.ColumnLineageDatasetFacet(
            fields={
                out: column_lineage_dataset.Fields(
                    inputFields=[
                        column_lineage_dataset.InputField(
                            namespace=i["namespace"],
                            name=i["name"],
                            field=i["field"],
                            transformations=[
                                column_lineage_dataset.Transformation(type=t["type"], subtype=t["subtype"])
                                for t in i.get("transformations", [])
                            ],
                        )
                        for i in spec["inputFields"]
                    ]
                )
                for out, spec in lineage["fields"].items()
            },
            dataset=[
                column_lineage_dataset.InputField(namespace=i["namespace"], name=i["name"], field=i["field"])
                for i in lineage.get("dataset", [])
            ],
        )
    return facets


def test_the_client_emits_the_chain_unchanged_and_the_server_builds_the_same_graph(server: LineageServer) -> None:
    client = client_for(server)
    for event in client_chain_events():
        client.emit(event)
    client.emit(
        JobEvent(
            eventTime=now(30),
            producer=PRODUCER,
            job=Job(namespace=JOB_NS, name="dbt.orders"),
            inputs=[InputDataset(namespace=NS, name="orders_raw")],
            outputs=[OutputDataset(namespace=NS, name="orders")],
        )
    )
    client.emit(DatasetEvent(eventTime=now(31), producer=PRODUCER, dataset=StaticDataset(namespace=NS, name="lonely")))

    assert [r.status for r in server.received] == [201] * (2 * len(CHAIN) + 2)
    for record in server.received:
        assert record.path == "/api/v1/lineage"
        assert record.headers["content-type"] == "application/json"
        body = json.loads(record.raw)
        assert validate_event(body).body == json.loads(record.raw)  # validated unchanged, nothing rewritten
        assert validate_event(body).warnings == ()  # every facet the client sent was checked against its schema
    kinds = [validate_event(json.loads(r.raw)).kind for r in server.received]
    assert kinds[-2:] == ["JobEvent", "DatasetEvent"] and set(kinds[:-2]) == {"RunEvent"}

    graph = server.graph
    assert upstream(graph, NS, "evaluation") == {
        "datasets": [ref("holdout", OTHER_NS), ref("training"), ref("features"), ref("cleaned"), ref("raw")],
        "jobs": [job_ref("ml.evaluate"), job_ref("ml.train"), job_ref("etl.featurize"), job_ref("etl.clean")],
    }
    assert downstream(graph, OTHER_NS, "contacts") == {
        "datasets": [ref("weekly_report")],
        "jobs": [job_ref("reporting.weekly")],
    }
    assert upstream(graph, NS, "orders") == {"datasets": [ref("orders_raw")], "jobs": [job_ref("dbt.orders")]}
    assert [f["field"] for f in column_upstream(graph, NS, "features", "age_bucket")["fields"]] == [
        "age",
        "country",
        "birth_date",
    ]
    run = graph.run(run_id("ml.train"))
    assert run is not None and run.state == LineageRunState.COMPLETED and run.parent_run_id == run_id("nightly-dag")
    # the same lineage as the hand-written events in the other tests
    reference = LineageGraph.from_events(validate_event(e) for e in chain_events())
    for name in ("raw", "cleaned", "features", "training", "evaluation"):
        assert upstream(graph, NS, name) == upstream(reference, NS, name)
        assert downstream(graph, NS, name) == downstream(reference, NS, name)


def test_gzip_compression_and_the_api_key_reach_the_server_as_headers(server: LineageServer) -> None:
    client = client_for(
        server,
        compression=HttpCompression.GZIP,
        auth=ApiKeyTokenProvider({"apiKey": "ol-key-123"}),
        custom_headers={"X-Team": "ml"},
    )
    client.emit(client_chain_events()[0])
    (record,) = server.received
    assert record.status == 201
    assert record.headers["content-encoding"] == "gzip"
    assert record.headers["authorization"] == "Bearer ol-key-123"
    assert record.headers["x-team"] == "ml"
    assert json.loads(gzip.decompress(record.raw))["eventType"] == "START"
    assert downstream(server.graph, NS, "raw") == {"datasets": [ref("cleaned")], "jobs": [job_ref("etl.clean")]}


def test_an_invalid_event_is_refused_over_http_with_the_schema_path_and_nothing_is_stored(
    server: LineageServer,
) -> None:
    event = json.loads(json.dumps(chain_events()[0]))
    event["run"]["runId"] = "abc"
    response = httpx.post(f"{server.url}/api/v1/lineage", json=event, trust_env=False)
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert error["instance_path"] == "run.runId"
    assert (
        error["schema_path"] == "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/Run/properties/runId/format"
    )
    assert "run.runId: 'abc' is not a 'uuid'" in response.json()["detail"]
    assert server.graph.to_dict()["datasets"] == []


def test_an_array_goes_to_the_batch_path_which_is_all_or_nothing(server: LineageServer) -> None:
    events = chain_events()[:4]
    assert httpx.post(f"{server.url}/api/v1/lineage", json=events, trust_env=False).status_code == 400
    bad = [*events, {**events[0], "eventTime": "yesterday"}]
    refused = httpx.post(f"{server.url}/api/v1/lineage/batch", json=bad, trust_env=False)
    assert refused.status_code == 422
    assert refused.json()["failed"][0]["index"] == 4
    assert server.graph.to_dict()["datasets"] == []
    assert httpx.post(f"{server.url}/api/v1/lineage/batch", json=events, trust_env=False).status_code == 201
    assert upstream(server.graph, NS, "features") == {
        "datasets": [ref("cleaned"), ref("raw")],
        "jobs": [job_ref("etl.featurize"), job_ref("etl.clean")],
    }


def test_the_client_raises_when_its_event_is_refused(
    server: LineageServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The client's opt-in sourceCodeLocation facet copies the git remote; an scp-style remote is not a URI."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(
        ["git", "-C", str(tmp_path), "remote", "add", "origin", "git@github.com:acme/pipelines.git"], check=True
    )
    monkeypatch.chdir(tmp_path)
    session = requests.Session()
    session.trust_env = False
    transport = HttpTransport(HttpConfig(url=server.url, session=session))
    client = OpenLineageClient(transport=transport, config={"facets": {"source_code_location": {"disabled": False}}})
    with pytest.raises(requests.HTTPError, match="422"):
        client.emit(client_chain_events()[0])
    (record,) = server.received
    (error,) = json.loads(record.answer)["errors"]
    assert error["instance_path"] == "job.facets.sourceCodeLocation.url"
    assert error["message"].startswith("'git@github.com:acme/pipelines.git' is not a 'uri'")
    assert server.graph.to_dict()["runs"] == []
