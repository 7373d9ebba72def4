"""The lineage graph built from events: exact upstream/downstream answers, run states, column lineage, rows."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from charter.data.lineage import (
    TRANSITIONS,
    DatasetRef,
    JobRef,
    LineageConflictError,
    LineageError,
    LineageGraph,
    LineageNotFoundError,
    RunState,
    column_upstream,
    downstream,
    facts_from_event,
    next_state,
    rows_from_facts,
    systems_using,
    upstream,
    validate_event,
)

from .builders import (
    CHAIN,
    JOB_NS,
    NS,
    OTHER_NS,
    PARENT_URL,
    at,
    chain_events,
    column_lineage,
    dataset,
    dataset_event,
    facet,
    job_event,
    job_ref,
    ref,
    run_event,
    run_id,
)


def build(events: list[dict[str, Any]]) -> LineageGraph:
    return LineageGraph.from_events(validate_event(e) for e in events)


@pytest.fixture(scope="module")
def chain() -> LineageGraph:
    return build(chain_events())


# Expected answers at every node, written out by hand: (datasets, jobs), nearest first then by namespace and name.
RAW, CLEANED, FEATURES, TRAINING = ref("raw"), ref("cleaned"), ref("features"), ref("training")
EVALUATION, HOLDOUT = ref("evaluation"), ref("holdout", OTHER_NS)
CONTACTS, WEEKLY = ref("contacts", OTHER_NS), ref("weekly_report")
CLEAN, FEATURIZE, TRAIN, EVALUATE = (
    job_ref("etl.clean"),
    job_ref("etl.featurize"),
    job_ref("ml.train"),
    job_ref("ml.evaluate"),
)
REPORT = job_ref("reporting.weekly")

UPSTREAM = {
    "raw": ([], []),
    "cleaned": ([RAW], [CLEAN]),
    "features": ([CLEANED, RAW], [FEATURIZE, CLEAN]),
    "training": ([FEATURES, CLEANED, RAW], [TRAIN, FEATURIZE, CLEAN]),
    "evaluation": ([HOLDOUT, TRAINING, FEATURES, CLEANED, RAW], [EVALUATE, TRAIN, FEATURIZE, CLEAN]),
    "holdout": ([], []),
    "contacts": ([], []),
    "weekly_report": ([CONTACTS], [REPORT]),
}
DOWNSTREAM = {
    "raw": ([CLEANED, FEATURES, TRAINING, EVALUATION], [CLEAN, FEATURIZE, TRAIN, EVALUATE]),
    "cleaned": ([FEATURES, TRAINING, EVALUATION], [FEATURIZE, TRAIN, EVALUATE]),
    "features": ([TRAINING, EVALUATION], [TRAIN, EVALUATE]),
    "training": ([EVALUATION], [EVALUATE]),
    "evaluation": ([], []),
    "holdout": ([EVALUATION], [EVALUATE]),
    "contacts": ([WEEKLY], [REPORT]),
    "weekly_report": ([], []),
}
NAMESPACE = {"holdout": OTHER_NS, "contacts": OTHER_NS}


@pytest.mark.parametrize("name", sorted(UPSTREAM))
def test_upstream_and_downstream_are_exact_at_every_node(chain: LineageGraph, name: str) -> None:
    namespace = NAMESPACE.get(name, NS)
    datasets, jobs = UPSTREAM[name]
    assert upstream(chain, namespace, name) == {"datasets": datasets, "jobs": jobs}
    datasets, jobs = DOWNSTREAM[name]
    assert downstream(chain, namespace, name) == {"datasets": datasets, "jobs": jobs}


def test_depth_counts_job_hops(chain: LineageGraph) -> None:
    assert upstream(chain, NS, "evaluation", depth=1) == {"datasets": [HOLDOUT, TRAINING], "jobs": [EVALUATE]}
    assert upstream(chain, NS, "evaluation", depth=2) == {
        "datasets": [HOLDOUT, TRAINING, FEATURES],
        "jobs": [EVALUATE, TRAIN],
    }
    assert downstream(chain, NS, "raw", depth=1) == {"datasets": [CLEANED], "jobs": [CLEAN]}
    assert downstream(chain, NS, "raw", depth=99) == downstream(chain, NS, "raw")


@pytest.mark.parametrize("depth", [0, -1, True, 1.5])
def test_a_depth_that_is_not_a_positive_whole_number_is_refused(chain: LineageGraph, depth: Any) -> None:
    with pytest.raises(LineageError, match="depth must be a whole number of job hops"):
        upstream(chain, NS, "raw", depth=depth)


def test_an_unknown_dataset_is_not_found_and_the_message_explains_naming(chain: LineageGraph) -> None:
    with pytest.raises(LineageNotFoundError, match="namespace 's3://other'"):
        downstream(chain, "s3://other", "raw")


def test_cycles_terminate_and_never_list_the_queried_dataset() -> None:
    feedback = run_event(
        "COMPLETE", "ml.feedback", run_id("feedback"), inputs=[dataset("evaluation")], outputs=[dataset("features")]
    )
    graph = build([*chain_events(), feedback])
    answer = upstream(graph, NS, "features")
    assert answer["datasets"] == [CLEANED, EVALUATION, HOLDOUT, RAW, TRAINING]
    assert answer["jobs"] == [FEATURIZE, job_ref("ml.feedback"), CLEAN, EVALUATE, TRAIN]
    assert downstream(graph, NS, "features")["datasets"] == [TRAINING, EVALUATION]


def test_static_job_events_add_edges_and_dataset_events_add_only_the_dataset() -> None:
    graph = build(
        [
            job_event("dbt.orders", inputs=[dataset("orders_raw")], outputs=[dataset("orders")]),
            dataset_event(dataset("lonely")),
        ]
    )
    assert upstream(graph, NS, "orders") == {"datasets": [ref("orders_raw")], "jobs": [job_ref("dbt.orders")]}
    assert downstream(graph, NS, "lonely") == {"datasets": [], "jobs": []}
    assert graph.rows().runs == ()


# -- runs --------------------------------------------------------------------------------------------------------------


def t(minute: int) -> datetime:
    return datetime(2024, 5, 1, 12, minute, tzinfo=UTC)


def states(*steps: tuple[str | None, int]) -> RunState:
    graph = build([run_event(kind, "job", run_id("r"), time=at(minute)) for kind, minute in steps])
    run = graph.run(run_id("r"))
    assert run is not None
    return run.state


def test_a_run_state_follows_its_event_types() -> None:
    assert states(("START", 0)) == RunState.RUNNING
    assert states(("START", 0), ("RUNNING", 1)) == RunState.RUNNING
    assert states(("START", 0), ("COMPLETE", 1)) == RunState.COMPLETED
    assert states(("START", 0), ("FAIL", 1)) == RunState.FAILED
    assert states(("START", 0), ("ABORT", 1)) == RunState.ABORTED
    assert states(("OTHER", 0)) == RunState.NEW
    assert states((None, 0)) == RunState.NEW
    assert states(("START", 0), ("COMPLETE", 1), ("OTHER", 2)) == RunState.COMPLETED


def test_a_late_start_does_not_reopen_a_finished_run_and_the_later_terminal_event_wins() -> None:
    assert states(("COMPLETE", 5), ("START", 0)) == RunState.COMPLETED
    assert states(("START", 0), ("COMPLETE", 5), ("FAIL", 6)) == RunState.FAILED
    assert states(("START", 0), ("FAIL", 6), ("COMPLETE", 5)) == RunState.FAILED
    assert states(("COMPLETE", 5), ("FAIL", 5)) == RunState.FAILED  # a tie reads pessimistically


def test_a_run_row_keeps_start_end_parent_and_first_last_seen() -> None:
    parent = {"parent": facet(PARENT_URL, run={"runId": run_id("dag")}, job={"namespace": JOB_NS, "name": "dag"})}
    graph = build(
        [
            run_event("START", "job", run_id("r").upper(), time=at(1), run_facets=parent),
            run_event("OTHER", "job", run_id("r"), time=at(9)),
            run_event("COMPLETE", "job", run_id("r"), time=at(4)),
        ]
    )
    run = graph.run(run_id("r"))
    assert run is not None
    assert (run.state, run.started_at, run.ended_at, run.first_seen, run.last_seen) == (
        RunState.COMPLETED,
        t(1),
        t(4),
        t(1),
        t(9),
    )
    assert run.parent_run_id == run_id("dag")
    assert graph.runs_of(JobRef(JOB_NS, "job")) == (run,)


def test_a_run_id_reused_for_another_job_is_refused_and_changes_nothing() -> None:
    graph = build([run_event("START", "job-a", run_id("r"), inputs=[dataset("a")])])
    before = graph.to_dict()
    clash = validate_event(run_event("COMPLETE", "job-b", run_id("r"), outputs=[dataset("b")]))
    with pytest.raises(LineageConflictError, match="belongs to job airflow-prod/job-a"):
        graph.apply_event(clash)
    assert graph.to_dict() == before


def test_next_state_follows_the_transition_table() -> None:
    assert next_state(RunState.NEW, "START") == RunState.RUNNING
    assert next_state(RunState.RUNNING, "COMPLETE") == RunState.COMPLETED
    assert next_state(RunState.COMPLETED, "START") == RunState.COMPLETED
    assert next_state(RunState.RUNNING, "OTHER") == RunState.RUNNING


EVENT_TYPES = st.sampled_from(["START", "RUNNING", "COMPLETE", "FAIL", "ABORT", "OTHER", None])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(EVENT_TYPES, st.integers(0, 59)), min_size=1, max_size=8))
def test_every_state_change_is_allowed_by_the_transition_table(steps: list[tuple[str | None, int]]) -> None:
    graph = LineageGraph()
    previous = RunState.NEW
    for kind, minute in steps:
        graph.apply_event(validate_event(run_event(kind, "job", run_id("r"), time=at(minute))))
        run = graph.run(run_id("r"))
        assert run is not None
        assert run.state == previous or run.state in TRANSITIONS[previous]
        previous = run.state


# -- order, retries and the stored form --------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(st.permutations(chain_events()), st.lists(st.integers(0, len(chain_events()) - 1), max_size=4))
def test_the_graph_is_the_same_whatever_the_arrival_order_and_retries(
    order: list[dict[str, Any]], retries: list[int]
) -> None:
    reference = build(chain_events()).to_dict()
    assert build([*order, *(order[i] for i in retries)]).to_dict() == reference


def test_the_serialised_form_round_trips_through_json_and_answers_the_same(chain: LineageGraph) -> None:
    stored = json.loads(json.dumps(chain.to_dict()))
    again = LineageGraph.from_dict(stored)
    assert again.to_dict() == chain.to_dict()
    for name, namespace in (("raw", NS), ("evaluation", NS), ("holdout", OTHER_NS)):
        assert upstream(again, namespace, name) == upstream(chain, namespace, name)
        assert downstream(again, namespace, name) == downstream(chain, namespace, name)
    assert set(stored) == {"datasets", "jobs", "runs", "edges", "column_edges"}
    edge = next(e for e in stored["edges"] if e["job_name"] == "ml.train" and e["direction"] == "output")
    assert edge == {
        "direction": "output",
        "job_namespace": JOB_NS,
        "job_name": "ml.train",
        "dataset_namespace": NS,
        "dataset_name": "training",
        "first_seen": "2024-05-01T12:04:00+00:00",
        "last_seen": "2024-05-01T12:05:00+00:00",
        "last_run_id": run_id("ml.train"),
    }


def test_apply_returns_the_merged_rows_to_upsert() -> None:
    graph = LineageGraph()
    start, complete = (validate_event(e) for e in chain_events()[:2])
    graph.apply_event(start)
    rows = graph.apply_event(complete)
    (run,) = rows.runs
    assert (run.state, run.started_at, run.ended_at) == (RunState.COMPLETED, t(0), t(1))
    assert {(e.direction, e.dataset_name, e.first_seen, e.last_seen) for e in rows.edges} == {
        ("input", "raw", t(0), t(1)),
        ("output", "cleaned", t(0), t(1)),
    }
    single = rows_from_facts(facts_from_event(complete))  # what the event alone says, before merging
    assert single.runs[0].started_at is None


# -- column lineage ----------------------------------------------------------------------------------------------------


def test_column_upstream_follows_fields_transitively_with_their_transformations(chain: LineageGraph) -> None:
    answer = column_upstream(chain, NS, "features", "age_bucket")
    assert answer["fields"] == [
        {"namespace": NS, "name": "cleaned", "field": "age"},
        {"namespace": NS, "name": "cleaned", "field": "country"},
        {"namespace": NS, "name": "raw", "field": "birth_date"},
    ]
    assert [
        (e["output"]["field"], e["input"]["field"], e["transformation_type"], e["transformation_subtype"])
        for e in answer["edges"]
    ] == [
        ("age", "birth_date", "DIRECT", "TRANSFORMATION"),
        ("", "country", "INDIRECT", "FILTER"),
        ("age_bucket", "age", "DIRECT", "TRANSFORMATION"),
    ]
    assert answer["edges"][2]["job"] == job_ref("etl.featurize")


def test_column_upstream_can_leave_out_dataset_wide_dependencies_and_limit_depth(chain: LineageGraph) -> None:
    narrow = column_upstream(chain, NS, "features", "age_bucket", include_dataset_wide=False)
    assert [f["field"] for f in narrow["fields"]] == ["age", "birth_date"]
    shallow = column_upstream(chain, NS, "features", "age_bucket", depth=1, include_dataset_wide=False)
    assert shallow["fields"] == [{"namespace": NS, "name": "cleaned", "field": "age"}]
    assert column_upstream(chain, NS, "training", "anything") == {"fields": [], "edges": []}


def test_the_deprecated_field_level_transformation_type_is_kept_when_no_transformations_are_given() -> None:
    facet_ = column_lineage({"email_hash": [(NS, "users", "email")]})
    facet_["fields"]["email_hash"]["transformationType"] = "MASKED"
    graph = build([dataset_event(dataset("users_masked", columnLineage=facet_))])
    (edge,) = column_upstream(graph, NS, "users_masked", "email_hash")["edges"]
    assert (edge["transformation_type"], edge["job"]) == ("MASKED", None)


# -- systems -----------------------------------------------------------------------------------------------------------


def test_systems_using_a_dataset_include_those_fed_by_anything_derived_from_it(chain: LineageGraph) -> None:
    mapping: dict[Any, list[str]] = {
        DatasetRef(NS, "training"): ["fraud-model"],
        (NS, "evaluation"): ["fraud-model", "eval-dashboard"],
        (NS, "weekly_report"): ["bi-portal"],
    }
    assert systems_using(chain, NS, "raw", mapping) == [
        {"system": "eval-dashboard", "datasets": [EVALUATION]},
        {"system": "fraud-model", "datasets": [TRAINING, EVALUATION]},
    ]
    assert systems_using(chain, OTHER_NS, "contacts", mapping) == [{"system": "bi-portal", "datasets": [WEEKLY]}]
    assert systems_using(chain, NS, "raw", mapping, depth=2) == []
    assert systems_using(chain, "s3://elsewhere", "x", {("s3://elsewhere", "x"): ["legacy"]}) == [
        {"system": "legacy", "datasets": [{"namespace": "s3://elsewhere", "name": "x"}]}
    ]


def test_the_chain_is_what_the_builders_describe() -> None:
    assert [job for job, _, _ in CHAIN] == ["etl.clean", "etl.featurize", "ml.train", "ml.evaluate", "reporting.weekly"]
