"""Profiles: built where the data lives, mergeable, validated; dataset readers with clear errors."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest

from charter.monitoring.drift import rules as drift
from charter.monitoring.drift.datasets import detect_format, read_columns
from charter.monitoring.drift.profiles import ProfileError, build_profile, merge_profiles, validate_profile

rng = np.random.default_rng(7)


def test_the_profile_builder_imports_without_the_server() -> None:
    code = (
        "import sys; import charter.monitoring.drift.profiles, charter.monitoring.drift.datasets; "
        "bad = [m for m in ('sqlalchemy', 'fastapi', 'scipy', 'charter.kit.db') if m in sys.modules]; "
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_windows_merge_into_exactly_the_profile_of_all_their_rows() -> None:
    ref = build_profile({"x": rng.normal(0, 1, 5000), "c": rng.choice(["a", "b", "c"], 5000)})
    x, c = rng.normal(0.2, 1, 3000), rng.choice(["a", "b", "c", "d"], 3000)
    parts = [build_profile({"x": x[i : i + 1000], "c": c[i : i + 1000]}, reference=ref) for i in (0, 1000, 2000)]
    whole = build_profile({"x": x, "c": c}, reference=ref)
    merged = merge_profiles(parts)
    for key in ("counts", "eq", "edges", "min", "max", "count", "distinct"):
        assert merged["columns"]["x"][key] == whole["columns"]["x"][key]
    for key in ("mean", "m2"):
        assert merged["columns"]["x"][key] == pytest.approx(whole["columns"]["x"][key], rel=1e-9)
    assert np.allclose(merged["columns"]["x"]["sums"], whole["columns"]["x"]["sums"])
    assert merged["columns"]["c"] == whole["columns"]["c"]
    assert drift.check(ref, merged).columns[0].value == pytest.approx(drift.check(ref, whole).columns[0].value)


def test_profiles_on_other_edges_do_not_merge() -> None:
    a = build_profile({"x": rng.normal(0, 1, 100)})
    b = build_profile({"x": rng.normal(0, 1, 100)})
    with pytest.raises(ProfileError, match="different bin edges"):
        merge_profiles([a, b])


def test_missing_values_are_counted_not_profiled() -> None:
    p = build_profile({"x": ["1.5", "", "NaN", "2", "inf", None], "c": ["a", "", None, "b", "N/A", "a"]})
    assert (p["columns"]["x"]["count"], p["columns"]["x"]["missing"]) == (2, 4)
    assert p["columns"]["c"]["values"] == {"a": 2, "b": 1} and p["columns"]["c"]["missing"] == 3


def test_types_are_inferred_and_can_be_overridden() -> None:
    p = build_profile({"zip": ["75001", "10115"], "name": ["ann", "bo"]}, column_types={"zip": "categorical"})
    assert p["columns"]["zip"]["type"] == "categorical" and p["columns"]["name"]["type"] == "categorical"
    assert build_profile({"zip": ["75001", "10115"]})["columns"]["zip"]["type"] == "numeric"


def test_current_data_must_fit_the_reference() -> None:
    ref = build_profile({"age": [30.0, 40.0, 50.0], "country": ["fr", "de", "fr"]})
    with pytest.raises(ProfileError, match="missing country; not in the reference: city"):
        build_profile({"age": [1.0], "city": ["x"]}, reference=ref)
    with pytest.raises(ProfileError, match="'age' is numeric in the reference but holds 'old'"):
        build_profile({"age": ["old"], "country": ["fr"]}, reference=ref)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "no columns"),
        ({"x": []}, "no rows"),
        ({"x": [1, 2], "y": [1]}, "different lengths"),
        ({"x": [None, ""]}, "has no values"),
    ],
)
def test_unusable_data_is_refused_with_the_reason(data, message) -> None:
    with pytest.raises(ProfileError, match=message):
        build_profile(data)


def test_a_tampered_profile_is_refused_field_by_field() -> None:
    p = build_profile({"x": rng.normal(0, 1, 100), "c": ["a", "b"] * 50})
    assert validate_profile(p, reference=True) == []
    p["columns"]["x"]["counts"][3] += 5
    p["columns"]["x"]["edges"][2] = p["columns"]["x"]["edges"][1]
    p["columns"]["c"]["values"]["a"] = -1
    problems = validate_profile(p, reference=True)
    assert any("strictly increasing" in q for q in problems)
    assert any("bin counts must add up" in q for q in problems)
    assert any("column 'c'" in q for q in problems)
    assert validate_profile({"format": "x"}, reference=False)[0].startswith("format must be")


def test_csv_json_lines_and_parquet_give_the_same_profile() -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    csv_bytes = b"age,country\n31,fr\n45,de\n52,fr\n"
    jsonl = b'{"age": 31, "country": "fr"}\n{"age": 45, "country": "de"}\n\n{"age": 52, "country": "fr"}\n'
    buf = io.BytesIO()
    pq.write_table(pa.table({"age": [31, 45, 52], "country": ["fr", "de", "fr"]}), buf)
    profiles = [
        build_profile(read_columns(csv_bytes, "csv")),
        build_profile(read_columns(jsonl, "jsonl")),
        build_profile(read_columns(buf.getvalue(), detect_format("x.bin", None, buf.getvalue()))),
    ]
    assert profiles[0] == profiles[1] == profiles[2]


@pytest.mark.parametrize(
    ("content", "fmt", "message"),
    [
        (b"", "csv", "empty"),
        (b"a,b\n", "csv", "header but no rows"),
        (b"a,b\n1,2\n3\n", "csv", "line 3 has 1 fields; the header has 2"),
        (b"a,a\n1,2\n", "csv", "duplicate column names a"),
        (b'{"a": 1}\n{"a": \n', "jsonl", "line 2 is not valid JSON"),
        (b"[1, 2]\n", "jsonl", "line 1 must be a JSON object"),
        (b'{"a": {"b": 1}}\n', "jsonl", "nested dict"),
        (b"PAR1 not really parquet", "parquet", "not valid Parquet"),
        (b"\xff\xfe\x00a", "csv", "not UTF-8"),
    ],
)
def test_broken_files_are_refused_with_where_and_what(content, fmt, message) -> None:
    with pytest.raises(ProfileError, match=message):
        read_columns(content, fmt)


def test_the_format_comes_from_the_name_or_must_be_given() -> None:
    assert detect_format("ref.CSV", None, b"a\n1") == "csv"
    assert detect_format(None, "application/x-ndjson", b"{}") == "jsonl"
    with pytest.raises(ProfileError, match=r"name it \.csv, \.jsonl or \.parquet"):
        detect_format("data.txt", "text/plain", b"a\n1")
