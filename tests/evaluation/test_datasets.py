"""Datasets: round trips through every format, a content hash that ignores the format, and every bad-input path."""

from __future__ import annotations

import io
import itertools
import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from charter.evaluation.dataset_files import FORMATS, format_for, load_dataset, read_samples, write_samples
from charter.evaluation.datasets import DatasetError, DatasetVersion, Sample, content_hash


def dump(samples: list[Sample], fmt: str) -> str:
    out = io.StringIO()
    write_samples(samples, fmt, out)
    return out.getvalue()


def load(text: str, fmt: str, **options: object) -> DatasetVersion:
    return load_dataset(io.StringIO(text), fmt, **options)  # type: ignore[arg-type]


def error(text: str, fmt: str, **options: object) -> DatasetError:
    with pytest.raises(DatasetError) as caught:
        load(text, fmt, **options)
    return caught.value


RICH = [
    Sample(
        id="q1",
        input="What is the capital of France?",
        reference="Paris, on the Seine.",
        expected=["Paris", "paris, france"],
        choices=["Paris", "New York", "Rome"],
        tags=["geo", "easy"],
        metadata={"difficulty": 1.5, "source": {"book": "atlas", "pages": [1, 2]}, "ok": True, "none": None},
    ),
    Sample(
        id="q2",
        input=[
            {"role": "system", "content": "Answer briefly, in English."},
            {"role": "user", "content": 'Say "hi",\nthen stop.'},
        ],
        expected="hi",
    ),
    Sample(id="q3", input="Ünïcödé \u2013 ✓, and a \r\n line break", expected=['["a", "b"]']),
]


# ----------------------------------------------------------------------------- round trips and the hash


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "inspect_json", "inspect_jsonl", "langfuse_json", "langfuse_jsonl"])
def test_rich_samples_round_trip_exactly_through_each_format(fmt: str) -> None:
    version = load(dump(RICH, fmt), fmt)
    assert list(version.samples) == RICH
    assert version.content_hash == DatasetVersion.of(RICH).content_hash


def test_the_hash_is_the_same_whichever_format_the_file_came_in() -> None:
    csv_text = 'id,input,expected,tags,metadata\na,"2+2?",4,"math, easy","{""level"": 1}"\nb,Capital of Italy?,Rome,,\n'
    jsonl_text = (
        '{"id": "b", "input": "Capital of Italy?", "expected": ["Rome"]}\n'
        '{"id": "a", "input": "2+2?", "expected": "4", "tags": ["easy", "math"], "metadata": {"level": 1}}\n'
    )
    inspect_text = (
        '[{"id": "a", "input": "2+2?", "target": "4", "metadata": {"level": 1, "charter": {"tags": ["math", "easy"]}}},'
        ' {"id": "b", "input": "Capital of Italy?", "target": "Rome"}]'
    )
    hashes = {load(csv_text, "csv").content_hash, load(jsonl_text, "jsonl").content_hash}
    hashes.add(load(inspect_text, "inspect_json").content_hash)
    assert len(hashes) == 1


def test_the_hash_ignores_order_but_changes_with_any_content() -> None:
    shuffled = list(reversed(RICH))
    assert content_hash(shuffled) == content_hash(RICH)
    changed = [*RICH[:2], RICH[2].model_copy(update={"reference": "an expert's answer"})]
    assert content_hash(changed) != content_hash(RICH)


texts = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=30)
words = st.text(st.characters(categories=("L", "N")), min_size=1, max_size=8)
json_scalars = (
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.floats(allow_nan=False, allow_infinity=False)
)
json_values = st.recursive(json_scalars | texts, lambda inner: st.lists(inner, max_size=3), max_leaves=6)
messages = st.lists(
    st.fixed_dictionaries(
        {"role": st.sampled_from(["system", "user", "assistant"]), "content": texts.filter(lambda t: t.strip() != "")}
    ),
    min_size=1,
    max_size=3,
)


@st.composite
def samples(draw: st.DrawFn) -> list[Sample]:
    count = draw(st.integers(1, 4))
    ids = draw(st.lists(words, min_size=count, max_size=count, unique_by=str.strip))
    out = []
    for sample_id in ids:
        out.append(
            Sample(
                id=sample_id,
                input=draw(texts.filter(lambda t: t.strip() != "") | messages),
                reference=draw(st.none() | texts),
                expected=draw(st.lists(texts.filter(bool), max_size=3)),
                choices=draw(st.lists(texts.filter(lambda t: t.strip() != ""), max_size=3)),
                tags=draw(st.lists(words, max_size=3)),
                metadata=draw(st.dictionaries(words.filter(lambda k: k != "charter"), json_values, max_size=3)),
            )
        )
    return out


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(samples(), st.sampled_from(FORMATS))
def test_every_format_gives_back_the_same_samples_or_refuses_before_writing(batch: list[Sample], fmt: str) -> None:
    out = io.StringIO()
    try:
        write_samples(batch, fmt, out)
    except DatasetError as refused:
        assert out.getvalue() == ""  # nothing half-written
        assert "use " in str(refused)  # names the format that can carry the sample
        return
    version = load(out.getvalue(), fmt)
    assert list(version.samples) == batch
    assert version.content_hash == content_hash(batch)


def test_inspect_csv_refuses_what_it_cannot_carry_and_says_which_format_can() -> None:
    for sample, reason in [
        (RICH[1], "text inputs only"),
        (RICH[0], "one target"),
        (Sample(id="c", input="x", choices=["a, b", "c"]), "splits choices on commas"),
    ]:
        out = io.StringIO()
        with pytest.raises(DatasetError, match=reason) as caught:
            write_samples([sample], "inspect_csv", out)
        assert "use inspect_jsonl" in str(caught.value)
        assert out.getvalue() == ""


def test_a_text_input_that_reads_as_chat_messages_is_not_exported_to_csv() -> None:
    tricky = Sample(id="t", input='[{"role": "user", "content": "hi"}]')
    with pytest.raises(DatasetError, match="would read back from CSV as chat messages; use jsonl"):
        dump([tricky], "csv")
    assert list(load(dump([tricky], "jsonl"), "jsonl").samples) == [tricky]


def test_reading_is_streamed_one_record_at_a_time() -> None:
    def lines() -> Iterator[str]:
        yield '{"id": "1", "input": "first"}\n'
        yield '{"id": "2", "input": "second"}\n'
        raise AssertionError("read past the records asked for")

    first_two = list(itertools.islice(read_samples(lines(), "jsonl"), 2))
    assert [s.id for s in first_two] == ["1", "2"]


def test_a_dataset_version_is_immutable() -> None:
    version = DatasetVersion.of(RICH)
    with pytest.raises(ValueError):
        version.samples[0].id = "other"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        version.samples = ()  # type: ignore[misc]
    with pytest.raises(DatasetError, match="does not match"):
        DatasetVersion(tuple(RICH), content_hash="sha256:" + "0" * 64)
    assert version.get("q2") is RICH[1]


def test_blank_ids_are_the_record_number() -> None:
    version = load("input,id\nfirst,\nsecond,\n", "csv")
    assert version.ids() == ["1", "2"]


def test_format_for_guesses_only_native_formats() -> None:
    assert format_for("tasks.CSV") == "csv"
    assert format_for("tasks.ndjson") == "jsonl"
    assert format_for("inspect.json") is None


# ----------------------------------------------------------------------------- bad input: CSV


def test_unknown_csv_column_is_refused_naming_the_allowed_ones() -> None:
    caught = error("id,input,answer\n1,hi,there\n", "csv")
    assert (caught.line, caught.column) == (1, 3)
    assert "unknown column 'answer'" in str(caught)
    assert "allowed columns: id, input, reference, expected, choices, tags, metadata" in str(caught)


def test_csv_without_input_column_or_with_a_doubled_column_is_refused() -> None:
    assert "no 'input' column" in str(error("id,expected\n1,x\n", "csv"))
    caught = error("input,id,input\na,1,b\n", "csv")
    assert (caught.line, caught.column) == (1, 3)
    assert "appears twice" in str(caught)


def test_a_ragged_csv_row_names_its_line_and_column() -> None:
    caught = error('id,input,expected\n1,"multi\nline",ok\n2,short\n', "csv")
    assert (caught.line, caught.column) == (4, 3)
    assert "2 fields, the header has 3" in str(caught)


def test_malformed_csv_quoting_names_the_line() -> None:
    caught = error('id,input\n1,ok\n2,"bad"quote\n', "csv")
    assert caught.line == 3
    assert "malformed CSV" in str(caught)


def test_bad_json_in_a_csv_cell_names_line_column_and_field() -> None:
    caught = error('id,input,metadata\n1,hi,"{""a"": }"\n', "csv")
    assert (caught.line, caught.column, caught.field) == (2, 3, "metadata")
    assert "invalid JSON" in str(caught)
    caught = error('id,input,metadata\n1,hi,"[1, 2]"\n', "csv")
    assert "metadata must be a JSON object" in str(caught)
    caught = error('input,choices\nhi,"a, b"\n', "csv")
    assert caught.field == "choices"


def test_empty_input_is_refused_with_its_line_and_column() -> None:
    caught = error("id,input\n1,hello\n2,   \n", "csv")
    assert (caught.line, caught.column, caught.field) == (3, 2, "input")
    assert "the input is empty" in str(caught)


def test_duplicate_ids_are_refused_naming_both_places() -> None:
    caught = error("id,input\nq1,a\nq2,b\nq1,c\n", "csv")
    assert (caught.line, caught.column) == (4, 1)
    assert "duplicate id 'q1' (first at line 2)" in str(caught)
    caught = error('{"id": 7, "input": "a"}\n\n{"id": "7", "input": "b"}\n', "jsonl")
    assert caught.line == 3


def test_a_file_without_samples_is_refused() -> None:
    assert "holds no samples" in str(error("id,input\n", "csv"))
    assert "holds no samples" in str(error("\n\n", "jsonl"))
    assert "must be a header" in str(error("", "csv"))


# ----------------------------------------------------------------------------- bad input: JSON Lines


def test_invalid_json_lines_name_line_and_column() -> None:
    caught = error('{"id": "1", "input": "ok"}\n{"id": "2", "input": }\n', "jsonl")
    assert (caught.line, caught.column) == (2, 22)
    caught = error('{"id": "1", "input": "ok"}\n["not", "an", "object"]\n', "jsonl")
    assert caught.line == 2
    assert "one JSON object" in str(caught)


def test_unknown_jsonl_field_is_refused_naming_the_allowed_ones() -> None:
    caught = error('{"id": "1", "input": "ok", "answer": "x"}\n', "jsonl")
    assert caught.field == "answer"
    assert "allowed fields: id, input, reference, expected, choices, tags, metadata" in str(caught)


def test_chat_messages_are_checked_message_by_message() -> None:
    caught = error('{"input": [{"role": "user", "content": "a"}, {"role": "robot", "content": "b"}]}\n', "jsonl")
    assert "message 2: role must be one of system, developer, user, assistant, tool" in str(caught)
    caught = error('{"input": [{"role": "user"}]}\n', "jsonl")
    assert "message 1: content must be text" in str(caught)
    caught = error('{"input": [{"role": "user", "content": [{"type": "image"}]}]}\n', "jsonl")
    assert "content must be text" in str(caught)
    caught = error('{"input": []}\n', "jsonl")
    assert "no message with content" in str(caught)
    caught = error('{"input": {"q": "x"}}\n', "jsonl")
    assert "input must be text or a list of chat messages" in str(caught)


def test_wrong_types_are_explained() -> None:
    assert "tags must be a list of texts" in str(error('{"input": "x", "tags": "a,b"}\n', "jsonl"))
    assert "metadata must be a JSON object" in str(error('{"input": "x", "metadata": [1]}\n', "jsonl"))
    assert "the id must be text or an integer" in str(error('{"id": 1.5, "input": "x"}\n', "jsonl"))
    assert "reserved" in str(error('{"input": "x", "metadata": {"charter": 1}}\n', "jsonl"))
    assert "unknown dataset format 'xml'" in str(error("", "xml"))


# ----------------------------------------------------------------------------- Inspect AI files


def test_inspect_records_map_target_choices_and_description() -> None:
    text = (
        '{"id": 1, "input": "Pick one", "target": "B", "choices": ["x", "y"], "description": "multiple choice"}\n'
        '{"input": [{"role": "user", "content": "hi", "source": "input", "id": "m1"}], "target": ["a", "b"]}\n'
    )
    first, second = load(text, "inspect_jsonl").samples
    assert (first.id, first.expected, first.choices) == ("1", ("B",), ("x", "y"))
    assert first.metadata == {"description": "multiple choice"}
    assert second.id == "2" and second.expected == ("a", "b")
    assert second.input[0].content == "hi"  # type: ignore[index]


def test_inspect_csv_reads_choices_as_inspect_does() -> None:
    text = 'input,target,choices,metadata\nPick,A,"red, green",\nPick2,B,one two,"{""k"": 1}"\n'
    first, second = load(text, "inspect_csv").samples
    assert first.choices == ("red", "green")
    assert second.choices == ("one", "two") and second.metadata == {"k": 1}


def test_inspect_agent_fields_are_refused_with_the_reason() -> None:
    caught = error('{"input": "x", "sandbox": "docker"}\n', "inspect_jsonl")
    assert caught.field == "sandbox"
    assert "agent tasks in a sandbox, which Charter does not run" in str(caught)
    caught = error("input,target,answer\nx,y,z\n", "inspect_csv")
    assert "allowed columns: input, target, id, choices, metadata, description" in str(caught)


def test_inspect_json_errors_name_the_line_of_the_item() -> None:
    text = '[\n  {"input": "a"},\n  {"input": "b"},\n  {"input": ""}\n]\n'
    caught = error(text, "inspect_json")
    assert caught.line == 4
    caught = error('[\n  {"input": "a"},\n  {"input": }\n]', "inspect_json")
    assert (caught.line, caught.column) == (3, 13)


def test_our_inspect_exports_read_the_same_in_inspect_ai(tmp_path: Path) -> None:
    inspect_dataset = pytest.importorskip("inspect_ai.dataset")
    # (Inspect opens CSV files without newline="", so a "\r\n" inside a cell would reach it as "\n")
    carried = [RICH[0].model_copy(update={"expected": ("Paris",)}), RICH[2].model_copy(update={"input": "Ünï ✓, x"})]
    for fmt, name in [("inspect_jsonl", "d.jsonl"), ("inspect_json", "d.json"), ("inspect_csv", "d.csv")]:
        path = tmp_path / name
        path.write_text(dump(carried, fmt), encoding="utf-8")
        reader = inspect_dataset.csv_dataset if fmt == "inspect_csv" else inspect_dataset.json_dataset
        theirs = list(reader(str(path)))
        assert [s.input for s in theirs] == [s.input for s in carried]
        assert [s.target for s in theirs] == ["Paris", '["a", "b"]']
        assert theirs[0].choices == ["Paris", "New York", "Rome"]
        assert theirs[0].metadata["charter"] == {"reference": "Paris, on the Seine.", "tags": ["easy", "geo"]}
        assert [str(s.id) for s in theirs] == ["q1", "q3"]


# ----------------------------------------------------------------------------- Langfuse exports


LANGFUSE_ITEM = {
    "id": "item-1",
    "datasetId": "ds",
    "datasetName": "support",
    "status": "ACTIVE",
    "input": {"question": "Where is my order?", "locale": "en"},
    "expectedOutput": {"answer": "It ships tomorrow."},
    "metadata": {"channel": "email"},
    "sourceTraceId": None,
    "sourceObservationId": None,
    "createdAt": "2025-01-01T00:00:00.000Z",
    "updatedAt": "2025-01-01T00:00:00.000Z",
}


def test_langfuse_object_inputs_need_to_say_which_key_holds_the_prompt() -> None:
    text = json.dumps(LANGFUSE_ITEM) + "\n"
    caught = error(text, "langfuse_jsonl")
    assert caught.field == "input" and caught.line == 1
    assert "(keys locale, question): pass input_key" in str(caught)
    (sample,) = load(text, "langfuse_jsonl", input_key="question", expected_key="answer").samples
    assert (sample.input, sample.expected, sample.metadata) == (
        "Where is my order?",
        ("It ships tomorrow.",),
        {"channel": "email"},
    )
    (whole,) = load(text, "langfuse_jsonl", input_key="question").samples
    assert whole.expected == ('{"answer": "It ships tomorrow."}',)


def test_langfuse_api_pages_archived_items_and_message_inputs() -> None:
    page = {
        "data": [
            {"id": "a", "input": {"messages": [{"role": "user", "content": "hi"}]}, "status": "ACTIVE"},
            {"id": "b", "input": "old", "status": "ARCHIVED"},
            {"id": "c", "input": "new", "expectedOutput": ["x", "y"]},
        ],
        "meta": {"page": 1, "totalItems": 3},
    }
    text = json.dumps(page)
    assert load(text, "langfuse_json").ids() == ["a", "c"]
    assert load(text, "langfuse_json", include_archived=True).ids() == ["a", "b", "c"]
    page["data"][2]["status"] = "DELETED"  # type: ignore[index]
    caught = error(json.dumps(page), "langfuse_json")
    assert caught.item == 3 and "status 'DELETED' is not one of ACTIVE, ARCHIVED" in str(caught)


def test_unknown_langfuse_fields_are_refused_naming_the_allowed_ones() -> None:
    caught = error(json.dumps([{"id": "a", "input": "x", "score": 1}]), "langfuse_json")
    assert caught.line == 1 and caught.field == "score"
    assert "allowed fields: id, input, expectedOutput, metadata, status" in str(caught)
    caught = error(json.dumps([{"id": "a", "input": "x", "metadata": "note"}]), "langfuse_json")
    assert "metadata must be a JSON object" in str(caught)


def test_a_large_csv_file_is_read_and_hashed_the_same_as_its_jsonl_twin() -> None:
    rng = random.Random(7)
    batch = [Sample(id=f"s{i}", input=f"task {i} " * rng.randint(1, 5), expected=str(i)) for i in range(2000)]
    assert load(dump(batch, "csv"), "csv").content_hash == load(dump(batch, "jsonl"), "jsonl").content_hash
