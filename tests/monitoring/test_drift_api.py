"""Drift over HTTP: references from files or SDK profiles, checks, stored results, alerts, bad files."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import numpy as np
import pytest

from charter.monitoring.drift.profiles import build_profile

URL = "/api/v1/systems/support-bot"
rng = np.random.default_rng(11)


def csv_bytes(n: int, age_mean: float = 40, plans: tuple[float, float] = (0.5, 0.5)) -> bytes:
    ages = rng.normal(age_mean, 10, n)
    plan = rng.choice(["basic", "pro"], n, p=list(plans))
    return ("age,plan\n" + "".join(f"{a:.2f},{p}\n" for a, p in zip(ages, plan, strict=True))).encode()


@pytest.fixture
def eng(client_for, system):  # type: ignore[no-untyped-def]
    return client_for("engineer")


def upload_reference(client, content: bytes | None = None, name: str = "reference", filename: str = "ref.csv", **form):  # type: ignore[no-untyped-def]
    data = csv_bytes(3000) if content is None else content
    return client.post(f"{URL}/drift/profiles/{name}/dataset", files={"file": (filename, data)}, data=form)


def test_a_dataset_check_finds_drift_stores_it_per_feature_and_fires_the_drift_alert(eng, client_for) -> None:
    assert eng.post(f"{URL}/alert-rules/defaults").status_code == 200
    r = upload_reference(eng)
    assert r.status_code == 200, r.text
    assert r.json()["rows"] == 3000 and r.json()["columns"] == [
        {"name": "age", "type": "numeric"},
        {"name": "plan", "type": "categorical"},
    ]
    r = eng.post(f"{URL}/drift/checks/dataset", files={"file": ("today.csv", csv_bytes(2000, 48, (0.2, 0.8)))})
    assert r.status_code == 201, r.text
    check = r.json()
    assert check["dataset_drift"] is True and check["columns_drifted"] == 2
    features = {f["column"]: f for f in check["features"]}
    assert features["age"]["method"] == "wasserstein" and features["age"]["drifted"]
    assert features["plan"]["method"] == "jensenshannon" and features["plan"]["stats"]["psi"] > 0.1
    assert {"ks_statistic", "ks_p_value", "psi", "jensenshannon"} <= set(features["age"]["stats"])
    health = client_for("viewer").get(f"{URL}/health").json()
    assert health["health"] == "degraded" and health["alerts"][0]["rule"] == "data-drift"
    assert health["drift"]["dataset_drift"] is True
    history = eng.get(f"{URL}/drift/features/age").json()
    assert history[0]["check_id"] == check["id"] and history[0]["drifted"]
    same = eng.post(f"{URL}/drift/checks/dataset", files={"file": ("ok.csv", csv_bytes(2000))})
    assert same.json()["dataset_drift"] is False
    after = client_for("viewer").get(f"{URL}/health").json()
    assert after["alerts"] == [] and after["health"] == "unknown"  # resolved; no metrics were ever pushed


def test_raw_data_can_stay_home_the_sdk_sends_profiles_only(eng) -> None:
    ref = build_profile({"age": rng.normal(40, 10, 800), "plan": rng.choice(["basic", "pro"], 800)})
    r = eng.put(f"{URL}/drift/profiles/reference", json={"profile": ref, "release": "3"})
    assert r.status_code == 200 and r.json()["source"] == "sdk" and r.json()["release"] == "3"
    stored = eng.get(f"{URL}/drift/profiles/reference", params={"release": "3"}).json()["profile"]
    current = build_profile(
        {"age": rng.normal(55, 10, 500), "plan": rng.choice(["basic", "pro"], 500)}, reference=stored
    )
    r = eng.post(f"{URL}/drift/checks", json={"reference": "reference", "release": "3", "current": current})
    assert r.status_code == 201, r.text
    features = {f["column"]: f for f in r.json()["features"]}
    assert features["age"]["method"] == "ks" and features["age"]["drifted"]  # <= 1000 reference rows
    assert features["plan"]["method"] == "z"


def test_windows_are_merged_for_a_check_over_a_time_range(eng, clock) -> None:
    ref = build_profile({"score": rng.normal(0, 1, 5000)})
    eng.put(f"{URL}/drift/profiles/reference", json={"profile": ref})
    start = clock.now() - timedelta(hours=3)
    for h in range(3):
        window = build_profile({"score": rng.normal(0.5, 1, 1000)}, reference=ref)
        body = {
            "start": (start + timedelta(hours=h)).isoformat(),
            "end": (start + timedelta(hours=h + 1)).isoformat(),
            "profile": window,
        }
        assert eng.post(f"{URL}/drift/windows", json=body).status_code == 201
    r = eng.post(f"{URL}/drift/checks", json={"since": start.isoformat()})
    assert r.status_code == 201, r.text
    assert r.json()["rows_current"] == 3000 and r.json()["source"] == "windows" and r.json()["dataset_drift"]
    none = eng.post(f"{URL}/drift/checks", json={"since": (clock.now() + timedelta(minutes=1)).isoformat()})
    assert none.status_code == 422 and "no current windows" in none.json()["detail"]


def test_json_lines_and_parquet_references(eng) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = "".join(json.dumps({"age": float(a), "plan": "pro"}) + "\n" for a in rng.normal(40, 5, 50))
    r = upload_reference(eng, rows.encode(), name="from-jsonl", filename="ref.jsonl")
    assert r.status_code == 200 and r.json()["source"] == "jsonl"
    buf = io.BytesIO()
    pq.write_table(pa.table({"age": rng.normal(40, 5, 50), "plan": ["pro"] * 50}), buf)
    r = upload_reference(eng, buf.getvalue(), name="from-parquet", filename="ref.parquet")
    assert r.status_code == 200 and r.json()["source"] == "parquet"


@pytest.mark.parametrize(
    ("content", "filename", "says"),
    [
        (b"", "ref.csv", "the file is empty"),
        (b"age,plan\n", "ref.csv", "header but no rows"),
        (b"age,plan\n1,a\n2\n", "ref.csv", "line 3 has 1 fields"),
        (b'{"age": 1', "ref.jsonl", "line 1 is not valid JSON"),
        (b"PAR1garbage", "ref.parquet", "not valid Parquet"),
        (b"age\n1\n", "ref.txt", "cannot tell the file's format"),
    ],
)
def test_bad_reference_files_are_refused_and_nothing_is_stored(eng, content, filename, says) -> None:
    r = upload_reference(eng, content, filename=filename)
    assert r.status_code == 422 and says in r.json()["detail"], r.text
    assert eng.get(f"{URL}/drift/profiles").json() == []


def test_current_data_that_does_not_match_the_reference_is_refused(eng) -> None:
    upload_reference(eng)
    r = eng.post(f"{URL}/drift/checks/dataset", files={"file": ("c.csv", b"age,city\n41,Paris\n")})
    assert r.status_code == 422
    assert "missing plan; not in the reference: city" in r.json()["detail"]
    r = eng.post(f"{URL}/drift/checks/dataset", files={"file": ("c.csv", b"age,plan\nold,pro\n")})
    assert r.status_code == 422 and "'age' is numeric in the reference" in r.json()["detail"]
    r = eng.post(f"{URL}/drift/checks/dataset", files={"file": ("c.csv", b"age,plan\n,pro\n")})
    assert r.status_code == 422 and "no values in the current data" in r.json()["detail"]
    bad_edges = build_profile({"age": [1.0, 2.0, 3.0], "plan": ["a", "b", "c"]})
    r = eng.post(f"{URL}/drift/checks", json={"current": bad_edges})
    assert r.status_code == 422 and "reference's edges" in r.json()["detail"]
    assert eng.get(f"{URL}/drift/checks").json() == []


def test_a_reference_is_replaced_only_with_its_version(eng) -> None:
    upload_reference(eng)
    r = upload_reference(eng)
    assert r.status_code == 422 and "send version=1" in r.json()["detail"]
    assert upload_reference(eng, version="7").status_code == 409
    r = upload_reference(eng, version="1", reason="new training data")
    assert r.status_code == 200 and r.json()["version"] == 2


def test_checks_need_a_reference_and_bad_options_are_refused(eng) -> None:
    r = eng.post(f"{URL}/drift/checks/dataset", files={"file": ("c.csv", csv_bytes(10))})
    assert r.status_code == 404 and "no reference profile 'reference'" in r.json()["detail"]
    upload_reference(eng)
    r = eng.post(
        f"{URL}/drift/checks/dataset", files={"file": ("c.csv", csv_bytes(10))}, data={"options": '{"drift_share": 3}'}
    )
    assert r.status_code == 422 and "drift_share" in r.json()["detail"]
    r = eng.post(
        f"{URL}/drift/checks/dataset",
        files={"file": ("c.csv", csv_bytes(10))},
        data={"options": '{"per_column_method": {"plan": "wasserstein"}}'},
    )
    assert r.status_code == 422 and "'plan' is categorical" in r.json()["detail"]
