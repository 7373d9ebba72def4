"""OpenLineage over HTTP: the chain raw → cleaned → features → training → evaluation plus an unrelated branch, sent
to POST /api/v1/lineage; exact upstream/downstream answers; invalid events refused with the schema path and nothing
stored; the real openlineage-python client's HTTP transport emitting to a real Charter server."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.transport.http import ApiKeyTokenProvider, HttpCompression, HttpConfig, HttpTransport
from sqlalchemy import func, select

from charter.data.models import LineageEdge, LineageEvent, LineageRun
from charter.ledger.models import LedgerEntry

from .conftest import make_system, register
from .lineage.builders import JOB_NS, NS, OTHER_NS, chain_events, job_ref, ref, run_event, run_id

CLEANED, FEATURES, TRAINING, EVALUATION, HOLDOUT = (
    ref("cleaned"), ref("features"), ref("training"), ref("evaluation"), ref("holdout", OTHER_NS),
)  # fmt: skip
CLEAN, FEATURIZE, TRAIN, EVALUATE = (
    job_ref("etl.clean"),
    job_ref("etl.featurize"),
    job_ref("ml.train"),
    job_ref("ml.evaluate"),
)


def _count(session: Any, model: Any) -> int:
    return int(session.execute(select(func.count()).select_from(model)).scalar_one())


@pytest.fixture
def chain(client_for: Any) -> Any:
    http = client_for("engineer")
    for event in chain_events():
        answer = http.post("/api/v1/lineage", json=event)
        assert answer.status_code == 201, answer.text
        assert answer.content == b""  # as Marquez
    return http


def test_upstream_and_downstream_answers_are_exact_over_http(chain: Any) -> None:
    up = chain.get("/api/v1/lineage", params={"namespace": NS, "name": "evaluation", "direction": "upstream"}).json()
    assert up == {
        "datasets": [HOLDOUT, TRAINING, FEATURES, CLEANED, ref("raw")],
        "jobs": [EVALUATE, TRAIN, FEATURIZE, CLEAN],
    }
    down = chain.get("/api/v1/lineage", params={"namespace": NS, "name": "raw", "direction": "downstream"}).json()
    assert down == {"datasets": [CLEANED, FEATURES, TRAINING, EVALUATION], "jobs": [CLEAN, FEATURIZE, TRAIN, EVALUATE]}
    # the unrelated branch stays unrelated
    other = chain.get("/api/v1/lineage", params={"namespace": OTHER_NS, "name": "contacts"}).json()
    assert other == {"datasets": [ref("weekly_report")], "jobs": [job_ref("reporting.weekly")]}
    depth = chain.get(
        "/api/v1/lineage", params={"namespace": NS, "name": "evaluation", "direction": "upstream", "depth": 1}
    )
    assert depth.json() == {"datasets": [HOLDOUT, TRAINING], "jobs": [EVALUATE]}
    missing = chain.get("/api/v1/lineage", params={"namespace": NS, "name": "nope"})
    assert missing.status_code == 404 and "no lineage event has mentioned dataset 'nope'" in missing.json()["detail"]


def test_a_retried_event_is_stored_once_and_runs_reach_their_final_state(chain: Any, session: Any) -> None:
    events = _count(session, LineageEvent)
    assert events == len(chain_events())
    for event in chain_events()[:2]:
        assert chain.post("/api/v1/lineage", json=event).status_code == 201
    assert _count(session, LineageEvent) == events
    states = dict(tuple(r) for r in session.execute(select(LineageRun.job_name, LineageRun.state)))
    assert states == {
        job: "COMPLETED" for job in ("etl.clean", "etl.featurize", "ml.train", "ml.evaluate", "reporting.weekly")
    }
    assert _count(session, LedgerEntry.__table__) >= events  # every accepted event is in the ledger


def test_an_invalid_event_is_refused_with_the_schema_path_and_nothing_is_stored(client_for: Any, session: Any) -> None:
    http = client_for("engineer")
    event = run_event("START", "etl.clean", "not-a-uuid", inputs=[{"namespace": NS, "name": "raw"}])
    answer = http.post("/api/v1/lineage", json=event)
    assert answer.status_code == 422
    problem = answer.json()
    assert problem["type"].endswith("invalid-lineage-event")
    failing = [e for e in problem["errors"] if e["instance_path"] == "run.runId"]
    assert failing and failing[0]["schema_path"].endswith("#/$defs/Run/properties/runId/format"), problem
    assert failing[0]["keyword"] == "format" and "run.runId" in problem["detail"]
    no_time = {k: v for k, v in run_event("START", "j", run_id("x")).items() if k != "eventTime"}
    assert http.post("/api/v1/lineage", json=no_time).status_code == 422
    assert (
        http.post("/api/v1/lineage", content=b"{not json", headers={"content-type": "application/json"}).status_code
        == 422
    )
    assert _count(session, LineageEvent) == 0 and _count(session, LineageEdge) == 0


def test_a_batch_is_all_or_nothing(client_for: Any, session: Any) -> None:
    http = client_for("engineer")
    good = chain_events()[:2]
    bad = run_event("START", "etl.x", "nope")
    answer = http.post("/api/v1/lineage/batch", json=[*good, bad])
    assert answer.status_code == 422 and answer.json()["failed"][0]["index"] == 2
    assert _count(session, LineageEvent) == 0
    answer = http.post("/api/v1/lineage/batch", json=good)
    assert answer.status_code == 201 and answer.json() == {"accepted": 2, "duplicates": 0}


def test_a_run_id_reused_for_another_job_is_a_conflict(client_for: Any, session: Any) -> None:
    http = client_for("engineer")
    assert http.post("/api/v1/lineage", json=run_event("START", "etl.clean", run_id("r"))).status_code == 201
    answer = http.post(
        "/api/v1/lineage", json=run_event("COMPLETE", "etl.other", run_id("r"), time="2024-05-01T13:00:00Z")
    )
    assert answer.status_code == 409 and "generate a new run id" in answer.json()["detail"]
    assert _count(session, LineageEvent) == 1


def test_gzip_bodies_are_accepted_and_sending_lineage_needs_a_permission(client_for: Any) -> None:
    body = gzip.compress(json.dumps(chain_events()[0]).encode())
    http = client_for("engineer")
    answer = http.post(
        "/api/v1/lineage", content=body, headers={"content-encoding": "gzip", "content-type": "application/json"}
    )
    assert answer.status_code == 201, answer.text
    assert client_for("viewer").post("/api/v1/lineage", json=chain_events()[1]).status_code == 403
    assert client_for(None).post("/api/v1/lineage", json=chain_events()[1]).status_code == 401


def test_systems_that_used_a_dataset_through_anything_derived_from_it(chain: Any, actors: Any) -> None:
    make_system(actors, "churn-model")
    register(actors, "evaluation", namespace=NS, systems=["churn-model"])
    answer = chain.get("/api/v1/lineage/systems", params={"namespace": NS, "name": "raw"}).json()
    assert answer == [{"system": "churn-model", "datasets": [EVALUATION]}]
    assert (
        chain.get("/api/v1/lineage/systems", params={"namespace": NS, "name": "raw", "stage": "production"}).json()
        == []
    )
    unrelated = chain.get("/api/v1/lineage/systems", params={"namespace": OTHER_NS, "name": "contacts"}).json()
    assert unrelated == []


def test_the_openlineage_python_client_emits_to_a_real_charter_server(cli: Any, session: Any) -> None:
    token = cli.token("engineer", scopes=["lineage:write"])
    transport = HttpTransport(
        HttpConfig(url=cli.url, auth=ApiKeyTokenProvider({"apiKey": token}), compression=HttpCompression.GZIP)
    )
    client = OpenLineageClient(transport=transport)
    rid = run_id("client")
    job = Job(namespace=JOB_NS, name="etl.clean")
    for state in (RunState.START, RunState.COMPLETE):
        client.emit(
            RunEvent(
                eventType=state,
                eventTime=datetime(2024, 5, 1, 12, 0, tzinfo=UTC).isoformat(),
                run=Run(runId=rid),
                job=job,
                producer="https://github.com/acme/pipelines/tree/1.4.0",
                inputs=[InputDataset(namespace=NS, name="raw")],
                outputs=[OutputDataset(namespace=NS, name="cleaned")],
            )
        )
    cli.quiet()
    assert session.execute(select(LineageRun.state).where(LineageRun.run_id == rid)).scalar_one() == "COMPLETED"
    result = cli("engineer", "data", "lineage", "cleaned", "--namespace", NS, "--upstream", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"datasets": [ref("raw")], "jobs": [CLEAN]}


def test_the_cli_lineage_needs_one_direction_and_names_unknown_datasets(cli: Any) -> None:
    both = cli("engineer", "data", "lineage", "raw", "--namespace", NS, "--upstream", "--downstream")
    assert both.exit_code == 2 and "exactly one of --upstream or --downstream" in both.output
    unknown = cli("engineer", "data", "lineage", "raw", "--namespace", NS, "--downstream")
    assert unknown.exit_code == 1 and "no lineage event has mentioned dataset 'raw'" in unknown.output


def test_job_events_and_dataset_events_are_accepted_too(client_for: Any, session: Any) -> None:
    from .lineage.builders import dataset, dataset_event, job_event

    http = client_for("engineer")
    job = job_event("dbt.orders", inputs=[dataset("orders_raw")], outputs=[dataset("orders")])
    assert http.post("/api/v1/lineage", json=job).status_code == 201
    assert http.post("/api/v1/lineage", json=dataset_event(dataset("lonely"))).status_code == 201
    up = http.get("/api/v1/lineage", params={"namespace": NS, "name": "orders", "direction": "upstream"}).json()
    assert up == {"datasets": [ref("orders_raw")], "jobs": [job_ref("dbt.orders")]}
    alone = http.get("/api/v1/lineage", params={"namespace": NS, "name": "lonely"}).json()
    assert alone == {"datasets": [], "jobs": []}
    assert _count(session, LineageRun) == 0  # no run in either kind
