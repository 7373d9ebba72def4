"""Validation of OpenLineage 2-0-2 events against the shipped schemas: formats, facets, event types, bodies."""

from __future__ import annotations

import copy
import gzip
import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import FormatChecker

from charter.data.lineage import (
    LineageBatchError,
    LineageBodyError,
    LineageSchemaSetupError,
    LineageValidationError,
    LineageValidator,
    decode_body,
    validate_batch,
    validate_event,
)
from charter.data.lineage.validate import SCHEMA_DIR, _check_formats

from .builders import (
    COLUMN_LINEAGE_URL,
    CORE,
    NOMINAL_URL,
    NS,
    PARENT_URL,
    SCHEMA_URL,
    at,
    column_lineage,
    dataset,
    dataset_event,
    facet,
    job_event,
    run_event,
    run_id,
)

RID = run_id("validate")


def refused(body: object) -> LineageValidationError:
    with pytest.raises(LineageValidationError) as caught:
        validate_event(body)
    return caught.value


def good_run(**overrides: Any) -> dict[str, Any]:
    event = run_event("START", "etl.clean", RID, inputs=[dataset("raw")], outputs=[dataset("cleaned")], time=at(1))
    event.update(overrides)
    return event


# -- accepted ----------------------------------------------------------------------------------------------------------


def test_each_event_type_is_accepted_and_told_apart_by_its_schema_url() -> None:
    assert validate_event(good_run()).kind == "RunEvent"
    assert validate_event(job_event("etl.clean", inputs=[dataset("raw")])).kind == "JobEvent"
    assert validate_event(dataset_event(dataset("raw"))).kind == "DatasetEvent"


def test_without_a_named_type_the_event_type_is_the_one_branch_of_the_spec_oneof_it_satisfies() -> None:
    generic = f"{CORE}"
    run = good_run(schemaURL=generic)
    job = {**job_event("etl.clean"), "schemaURL": generic}
    static = {**dataset_event(dataset("raw")), "schemaURL": generic}
    assert [validate_event(e).kind for e in (run, job, static)] == ["RunEvent", "JobEvent", "DatasetEvent"]


def test_the_validated_body_is_the_event_unchanged() -> None:
    event = good_run()
    original = copy.deepcopy(event)
    assert validate_event(event).body == original


def test_a_custom_facet_with_producer_and_schema_url_is_accepted_without_a_warning() -> None:
    event = good_run()
    event["run"]["facets"] = {"acme_cost": facet("https://acme.example/schemas/Cost.json", dollars=3.5, anything=[1])}
    assert validate_event(event).warnings == ()


# -- refused with the schema path --------------------------------------------------------------------------------------


def test_a_run_id_that_is_not_a_uuid_is_refused_naming_run_run_id_and_the_format_keyword() -> None:
    error = refused(good_run(run={"runId": "abc"}))
    (violation,) = error.violations
    assert violation.instance_path == "run.runId"
    assert violation.keyword == "format"
    assert violation.schema_path == f"{CORE}#/$defs/Run/properties/runId/format"
    assert "run.runId: 'abc' is not a 'uuid'" in str(error)
    assert error.kind == "RunEvent"


@pytest.mark.parametrize("bad", ["2024-05-01T12:00:00", "2024-05-01", "yesterday", "2024-13-01T00:00:00Z"])
def test_an_event_time_that_is_not_an_rfc3339_date_time_is_refused(bad: str) -> None:
    (violation,) = refused(good_run(eventTime=bad)).violations
    assert violation.instance_path == "eventTime"
    assert violation.schema_path == f"{CORE}#/$defs/BaseEvent/properties/eventTime/format"
    assert f"{bad!r} is not a 'date-time'" in violation.message


def test_a_producer_that_is_not_a_uri_is_refused() -> None:
    (violation,) = refused(good_run(producer="acme pipelines")).violations
    assert (violation.instance_path, violation.keyword) == ("producer", "format")


def test_a_missing_required_field_is_refused_with_the_required_keyword_of_its_definition() -> None:
    event = good_run()
    del event["job"]
    (violation,) = refused(event).violations
    assert violation.instance_path == "event"
    assert violation.message == "'job' is a required property"
    assert violation.schema_path == f"{CORE}#/$defs/RunEvent/allOf/1/required"

    event = good_run()
    del event["run"]["runId"]
    (violation,) = refused(event).violations
    assert (violation.instance_path, violation.schema_path) == ("run", f"{CORE}#/$defs/Run/required")


def test_an_unknown_event_type_is_refused_listing_the_allowed_ones() -> None:
    (violation,) = refused(good_run(eventType="STOP")).violations
    assert violation.instance_path == "eventType"
    assert violation.schema_path == f"{CORE}#/$defs/RunEvent/allOf/1/properties/eventType/enum"
    assert "'STOP' is not one of ['START', 'RUNNING', 'COMPLETE', 'ABORT', 'FAIL', 'OTHER']" in violation.message


def test_a_facet_without_schema_url_is_refused_by_the_base_facet_rules() -> None:
    event = good_run()
    event["outputs"][0]["facets"] = {"acme": {"_producer": "https://acme.example"}}
    (violation,) = refused(event).violations
    assert violation.instance_path == "outputs[0].facets.acme"
    assert violation.schema_path == f"{CORE}#/$defs/BaseFacet/required"


def test_a_standard_facet_violating_its_facet_schema_is_refused_with_the_facet_schema_path() -> None:
    event = good_run()
    broken = column_lineage({"age": [(NS, "raw", "birth_date")]})
    del broken["fields"]["age"]["inputFields"][0]["field"]
    event["outputs"][0]["facets"] = {"columnLineage": broken}
    (violation,) = refused(event).violations
    assert violation.instance_path == "outputs[0].facets.columnLineage.fields.age.inputFields[0]"
    assert violation.message == "'field' is a required property"
    assert violation.schema_path == (
        "https://openlineage.io/spec/facets/1-2-0/ColumnLineageDatasetFacet.json#/$defs/InputField/required"
    )


def test_formats_inside_standard_facets_are_checked_too() -> None:
    event = good_run()
    event["run"]["facets"] = {
        "parent": facet(PARENT_URL, run={"runId": "not-a-uuid"}, job={"namespace": "airflow", "name": "dag"})
    }
    (violation,) = refused(event).violations
    assert violation.instance_path == "run.facets.parent.run.runId"
    assert violation.schema_path.startswith("https://openlineage.io/spec/facets/1-2-0/ParentRunFacet.json#/$defs/")
    assert violation.schema_path.endswith("/runId/format")


def test_a_schema_facet_with_a_field_of_the_wrong_type_is_refused() -> None:
    event = good_run()
    event["outputs"][0]["facets"] = {"schema": facet(SCHEMA_URL, fields=[{"name": 42}])}
    (violation,) = refused(event).violations
    assert violation.instance_path == "outputs[0].facets.schema.fields[0].name"
    assert violation.message == "42 is not of type 'string'"


def test_every_violation_is_reported_in_document_order() -> None:
    error = refused(good_run(eventTime="soon", eventType="STOP", run={"runId": "abc"}))
    assert [v.instance_path for v in error.violations] == ["eventTime", "eventType", "run.runId"]
    assert error.to_dict()["errors"][2]["instance_path"] == "run.runId"  # type: ignore[index]


def test_a_body_declaring_dataset_event_but_carrying_a_run_is_refused_as_a_dataset_event() -> None:
    error = refused(good_run(schemaURL=f"{CORE}#/$defs/DatasetEvent"))
    assert error.kind == "DatasetEvent"
    messages = {v.message for v in error.violations}
    assert "'dataset' is a required property" in messages
    assert "must not have all of ['job', 'run'] together" in messages


def test_a_body_valid_as_two_event_types_is_refused_as_the_spec_requires_exactly_one() -> None:
    ambiguous = {**dataset_event(dataset("raw")), "schemaURL": CORE, "job": {"namespace": "a", "name": "b"}}
    (violation,) = refused(ambiguous).violations
    assert violation.keyword == "oneOf"
    assert "DatasetEvent, JobEvent" in violation.message


# -- facet versions ----------------------------------------------------------------------------------------------------


def test_an_earlier_addition_of_a_shipped_facet_is_checked_against_the_shipped_schema() -> None:
    event = good_run()
    older = NOMINAL_URL.replace("1-0-1", "1-0-0")
    event["run"]["facets"] = {"nominalTime": facet(older, nominalStartTime="tomorrow")}
    (violation,) = refused(event).violations
    assert violation.instance_path == "run.facets.nominalTime.nominalStartTime"


def test_another_revision_of_a_facet_is_accepted_as_custom_with_a_warning_naming_both_versions() -> None:
    event = good_run()
    other = column_lineage({"age": [(NS, "raw", "birth_date")]})
    other["_schemaURL"] = other["_schemaURL"].replace("1-2-0", "1-1-0")
    del other["fields"]
    event["outputs"][0]["facets"] = {"columnLineage": other}
    (warning,) = validate_event(event).warnings
    assert warning.startswith(
        "outputs[0].facets.columnLineage: facet ColumnLineageDatasetFacet was sent at version 1-1-0"
    )
    assert "Charter ships 1-2-0" in warning


def test_an_unknown_standard_facet_is_accepted_with_a_warning() -> None:
    event = good_run()
    event["job"]["facets"] = {
        "fancy": facet("https://openlineage.io/spec/facets/1-0-0/FancyJobFacet.json#/$defs/FancyJobFacet")
    }
    (warning,) = validate_event(event).warnings
    assert "FancyJobFacet 1-0-0 is not shipped with Charter" in warning


def test_a_deleted_facet_is_not_checked_against_its_facet_schema() -> None:
    event = good_run()
    deleted = facet(COLUMN_LINEAGE_URL, _deleted=True)  # no "fields" (required): fine for a deletion marker
    event["outputs"][0]["facets"] = {"columnLineage": deleted}
    assert validate_event(event).kind == "RunEvent"
    event["outputs"][0]["facets"] = {"columnLineage": facet(COLUMN_LINEAGE_URL)}
    assert refused(event).violations[0].message == "'fields' is a required property"


# -- bodies and batches ------------------------------------------------------------------------------------------------


def test_an_array_sent_to_the_single_event_path_is_refused_pointing_at_the_batch_path() -> None:
    with pytest.raises(LineageBodyError, match=r"POST /api/v1/lineage/batch"):
        validate_event([good_run()])
    with pytest.raises(LineageBodyError, match="got a string"):
        validate_event("START")


def test_a_batch_is_validated_all_or_nothing_naming_each_failing_index() -> None:
    events = [good_run(), job_event("etl.clean"), good_run(run={"runId": "abc"}), 7]
    with pytest.raises(LineageBatchError) as caught:
        validate_batch(events)
    assert sorted(caught.value.failures) == [2, 3]
    assert "2 of 4 events in the batch are invalid, nothing was accepted" in str(caught.value)
    assert caught.value.to_dict()["failed"][0]["errors"][0]["instance_path"] == "run.runId"  # type: ignore[index]
    assert [e.kind for e in validate_batch(events[:2])] == ["RunEvent", "JobEvent"]
    with pytest.raises(LineageBodyError, match="a batch must be a JSON array"):
        validate_batch(good_run())


def test_decode_body_reads_gzip_as_the_client_sends_it() -> None:
    event = good_run()
    raw = gzip.compress(json.dumps(event).encode(), compresslevel=3)
    assert decode_body(raw, content_encoding="gzip") == event


@pytest.mark.parametrize(
    ("raw", "encoding", "message"),
    [
        (b'{"eventTime": ', None, "not valid JSON: Expecting value at line 1 column 15"),
        (b'{"x": NaN}', None, "contains NaN"),
        (b"\xff\xfe{}", None, "not UTF-8"),
        (b"{}", "br", "Content-Encoding 'br' is not supported"),
        (b"not gzip", "gzip", "not valid gzip"),
        (gzip.compress(b" " * 5000), "gzip", "inflates past the limit of 4096 bytes"),
        (gzip.compress(b"{}")[:-4], "gzip", "truncated"),
        (b" " * 5000, None, "the limit is 4096 bytes"),
        (b"[" * 4000, None, "nested too deeply"),
    ],
)
def test_bad_bodies_are_refused_with_a_reason(raw: bytes, encoding: str | None, message: str) -> None:
    with pytest.raises(LineageBodyError, match=message):
        decode_body(raw, content_encoding=encoding, max_bytes=4096)


# -- set-up guards ---------------------------------------------------------------------------------------------------


def test_the_validator_refuses_to_start_when_date_time_or_uri_cannot_be_checked() -> None:
    with pytest.raises(LineageSchemaSetupError, match="date-time, uri"):
        _check_formats(FormatChecker(formats=["uuid"]))


def test_the_validator_refuses_to_start_without_the_shipped_schemas(tmp_path: Path) -> None:
    with pytest.raises(LineageSchemaSetupError, match="OpenLineage schemas not found"):
        LineageValidator(tmp_path)


def test_the_shipped_schemas_are_the_unmodified_upstream_files() -> None:
    digest = hashlib.sha256((SCHEMA_DIR / "OpenLineage.json").read_bytes()).hexdigest()
    assert digest == "69f68bee00b9beac88a87059c0102410e7bb05f3f43c46d02a0409831eceb0d2"
    assert len(list((SCHEMA_DIR / "facets").glob("*.json"))) == 38
    assert (SCHEMA_DIR / "NOTICE.txt").is_file() and (SCHEMA_DIR / "LICENSE").is_file()


# -- properties --------------------------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.uuids())
def test_any_uuid_is_a_valid_run_id_in_either_case(value: uuid.UUID) -> None:
    assert validate_event(good_run(run={"runId": str(value).upper()})).kind == "RunEvent"


@settings(max_examples=80, deadline=None)
@given(st.text(max_size=40))
def test_any_string_that_is_not_a_hyphenated_uuid_is_refused_as_a_run_id(text: str) -> None:
    try:
        parsed = uuid.UUID(text)
        hyphenated = all(text[i] == "-" for i in (8, 13, 18, 23))
    except (ValueError, IndexError):
        parsed, hyphenated = None, False
    if parsed is not None and hyphenated:
        return
    (violation,) = refused(good_run(run={"runId": text})).violations
    assert violation.instance_path == "run.runId"


def nested_schema_event(levels: int) -> dict[str, Any]:
    node: dict[str, Any] = {"name": "leaf", "type": "STRING"}
    for level in range(levels):
        node = {"name": f"struct{level}", "type": "STRUCT", "fields": [node]}
    event = good_run()
    event["outputs"][0]["facets"] = {"schema": facet(SCHEMA_URL, fields=[node])}
    return event


def test_nested_struct_columns_validate_and_absurd_nesting_is_refused_before_validation() -> None:
    assert validate_event(nested_schema_event(25)).kind == "RunEvent"
    with pytest.raises(LineageBodyError, match=r"nests 807 levels deep; the limit is 64"):
        validate_event(nested_schema_event(400))
