"""Monitoring over HTTP: what a serving system, an engineer and a CI pipeline see, bad input included."""

from __future__ import annotations

from datetime import timedelta

import pytest

from .conftest import SEED_HEALTHY, points

URL = "/api/v1/systems/support-bot"
WRITE = ["metrics:write"]
LEDGER = "/api/v1/audit"


def batch(batch_id: str, values: dict[str, float], **labels: str) -> dict:
    return {"batch_id": batch_id, "points": points(values, **labels)}


@pytest.fixture
def pusher(client_for, system):  # type: ignore[no-untyped-def]
    """A serving system's machine token: may push metrics and nothing else."""
    return client_for("engineer", scopes=WRITE)


@pytest.fixture
def reader(client_for, system):  # type: ignore[no-untyped-def]
    return client_for("viewer")


def test_a_serving_system_pushes_the_seed_metrics_and_the_system_is_healthy(pusher, reader) -> None:
    r = pusher.post(f"{URL}/metrics", json=batch("b1", SEED_HEALTHY, release="3", stage="production"))
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 7 and r.json()["alerts"] == []
    health = reader.get(f"{URL}/health").json()
    assert health["health"] == "healthy" and health["minutes_since_last_data"] == 0
    series = {s["name"]: s for s in reader.get(f"{URL}/metrics").json()}
    assert series["latency_ms"]["unit"] == "ms" and series["accuracy"]["last_value"] == 0.92
    assert series["accuracy"]["labels"] == {"release": "3", "stage": "production"}


def test_breaches_fire_two_alerts_once_and_resolve_when_values_recover(pusher, reader, clock) -> None:
    pusher.post(f"{URL}/metrics", json=batch("b1", SEED_HEALTHY))
    bad = {**SEED_HEALTHY, "accuracy": 0.80, "latency_ms": 1500}
    for i in range(3):
        clock.advance(minutes=1)
        r = pusher.post(f"{URL}/metrics", json=batch(f"bad-{i}", bad))
        assert r.status_code == 200
        fired = sorted(a["rule"] for a in r.json()["alerts"])
        assert fired == (["accuracy-low", "latency-high"] if i == 0 else [])
    firing = reader.get(f"{URL}/alerts", params={"state": "firing"}).json()
    assert sorted(a["rule"] for a in firing) == ["accuracy-low", "latency-high"]
    assert reader.get(f"{URL}/health").json()["health"] == "critical"
    clock.advance(minutes=1)
    r = pusher.post(f"{URL}/metrics", json=batch("good", SEED_HEALTHY))
    assert sorted((a["rule"], a["new_state"]) for a in r.json()["alerts"]) == [
        ("accuracy-low", "resolved"),
        ("latency-high", "resolved"),
    ]
    assert reader.get(f"{URL}/alerts", params={"state": "firing"}).json() == []
    assert len(reader.get(f"{URL}/alerts").json()) == 2
    assert reader.get(f"{URL}/health").json()["health"] == "healthy"


def test_a_retry_gets_the_same_answer_and_nothing_is_stored_twice(pusher, reader) -> None:
    body = batch("retry-7", {**SEED_HEALTHY, "accuracy": 0.8})
    first = pusher.post(f"{URL}/metrics", json=body)
    second = pusher.post(f"{URL}/metrics", json=body)
    assert second.status_code == 200 and second.headers["Idempotent-Replayed"] == "true"
    assert {**second.json(), "replayed": False} == first.json()
    assert {s["name"]: s["points"] for s in reader.get(f"{URL}/metrics").json()}["accuracy"] == 1
    assert len(reader.get(f"{URL}/alerts").json()) == 1


def test_reusing_a_batch_id_for_other_points_is_a_conflict(pusher) -> None:
    pusher.post(f"{URL}/metrics", json=batch("same", {"accuracy": 0.9}))
    r = pusher.post(f"{URL}/metrics", json=batch("same", {"accuracy": 0.7}))
    assert r.status_code == 409
    assert "already accepted with different points" in r.json()["detail"]


def _nothing_stored(reader) -> None:  # type: ignore[no-untyped-def]
    assert reader.get(f"{URL}/metrics").json() == []
    assert reader.get(f"{URL}/health").json()["health"] == "unknown"


@pytest.mark.parametrize(
    ("point", "where", "says"),
    [
        ({"name": "accuracy", "value": "0.9"}, "points.1.value", "must be a number (str '0.9')"),
        ({"name": "accuracy", "value": True}, "points.1.value", "must be a number (bool True)"),
        ({"name": "accuracy"}, "points.1.value", "must be a number (missing)"),
        ({"name": 5, "value": 1}, "points.1.name", "is not a metric name"),
        ({"name": "bad name!", "value": 1}, "points.1.name", "is not a metric name"),
        ({"name": "accuracy", "value": 1.5}, "points.1.value", "ratio and cannot be above 1"),
        ({"name": "latency_ms", "value": -3}, "points.1.value", "cannot be below 0"),
        ({"name": "x", "value": 1, "labels": {"release": 3}}, "points.1.labels.release", "label values are text"),
        ({"name": "x", "value": 1, "labels": {"1st": "a"}}, "points.1.labels.1st", "label names"),
        ({"name": "x", "value": 1, "labels": ["a"]}, "points.1.labels", "must be an object"),
        ({"name": "x", "value": 1, "ts": "yesterday"}, "points.1.ts", "not an ISO 8601 timestamp"),
        ({"name": "x", "value": 1, "colour": "red"}, "points.1", "unknown field 'colour'"),
    ],
)
def test_a_batch_with_one_bad_point_is_refused_whole_and_says_where(pusher, reader, point, where, says) -> None:
    body = {"batch_id": "b", "points": [{"name": "accuracy", "value": 0.9}, point]}
    r = pusher.post(f"{URL}/metrics", json=body)
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["detail"].startswith(f"{where}: ") and says in problem["detail"]
    assert "nothing was stored" in problem["detail"]
    assert problem["errors"][0]["loc"] == where.split(".")[:1] + [
        int(p) if p.isdigit() else p for p in where.split(".")[1:]
    ]
    _nothing_stored(reader)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused(pusher, reader, literal) -> None:
    raw = f'{{"batch_id": "b", "points": [{{"name": "accuracy", "value": {literal}}}]}}'
    r = pusher.post(f"{URL}/metrics", content=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == 422
    assert "must be a finite number" in r.json()["detail"]
    _nothing_stored(reader)


def test_timestamps_far_in_the_future_or_past_retention_are_refused(pusher, reader, clock) -> None:
    future = (clock.now() + timedelta(hours=2)).isoformat()
    r = pusher.post(f"{URL}/metrics", json={"batch_id": "f", "points": [{"name": "x", "value": 1, "ts": future}]})
    assert r.status_code == 422 and "in the future" in r.json()["detail"] and "sender's clock" in r.json()["detail"]
    old = (clock.now() - timedelta(days=400)).isoformat()
    r = pusher.post(f"{URL}/metrics", json={"batch_id": "o", "points": [{"name": "x", "value": 1, "ts": old}]})
    assert r.status_code == 422 and "older than the raw retention" in r.json()["detail"]
    skewed = (clock.now() + timedelta(seconds=60)).isoformat()
    ok = pusher.post(f"{URL}/metrics", json={"batch_id": "s", "points": [{"name": "x", "value": 1, "ts": skewed}]})
    assert ok.status_code == 200
    r = pusher.post(f"{URL}/metrics", json={"batch_id": "u", "points": [{"name": "x", "value": 1, "ts": 1.7e9}]})
    assert r.status_code == 422  # Unix seconds are accepted as a form; this one is years old


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"points": [{"name": "x", "value": 1}]}, "batch_id: required"),
        ({"batch_id": "b", "points": []}, "points: required"),
        ({"batch_id": "b"}, "points: required"),
        ({"batch_id": "has space", "points": [{"name": "x", "value": 1}]}, "batch_id"),
        ([1, 2], "body: must be an object"),
    ],
)
def test_a_malformed_batch_is_refused(pusher, reader, body, says) -> None:
    r = pusher.post(f"{URL}/metrics", json=body)
    assert r.status_code == 422 and says in r.json()["detail"]
    _nothing_stored(reader)


def test_broken_json_is_refused(pusher) -> None:
    r = pusher.post(
        f"{URL}/metrics", content=b'{"batch_id": "b", "points": [', headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 422


def test_an_oversized_batch_is_refused_with_the_limit(pusher, app) -> None:
    app.state.settings.metrics_max_batch_points = 3
    r = pusher.post(f"{URL}/metrics", json={"batch_id": "big", "points": [{"name": "x", "value": i} for i in range(4)]})
    assert r.status_code == 422 and "at most 3 points" in r.json()["detail"]


def test_an_unknown_system_is_not_found(pusher) -> None:
    r = pusher.post("/api/v1/systems/nope/metrics", json=batch("b", {"x": 1}))
    assert r.status_code == 404 and "no AI system with key 'nope'" in r.json()["detail"]


def test_who_may_push_and_read(client_for, system) -> None:
    assert client_for("viewer").post(f"{URL}/metrics", json=batch("b", {"x": 1})).status_code == 403
    r = client_for("engineer", scopes=["metrics:read"]).post(f"{URL}/metrics", json=batch("b", {"x": 1}))
    assert r.status_code == 403 and "metrics:write" in r.json()["detail"]
    assert client_for("engineer", scopes=WRITE).get(f"{URL}/health").status_code == 403
    assert client_for(None).post(f"{URL}/metrics", json=batch("b", {"x": 1})).status_code == 401


def test_series_read_raw_and_rolled_up(pusher, reader, clock) -> None:
    start = clock.now() - timedelta(minutes=30)
    pts = [
        {"name": "latency_ms", "value": float(v), "ts": (start + timedelta(seconds=20 * v)).isoformat()}
        for v in range(60)
    ]
    assert pusher.post(f"{URL}/metrics", json={"batch_id": "s", "points": pts}).status_code == 200
    raw = reader.get(f"{URL}/metrics/latency_ms", params={"resolution": "raw"}).json()
    assert len(raw[0]["points"]) == 60
    minutes = reader.get(f"{URL}/metrics/latency_ms", params={"resolution": "1m"}).json()[0]["points"]
    assert len(minutes) == 20 and all(p["count"] == 3 for p in minutes)
    assert minutes[0]["min"] == 0 and minutes[0]["max"] == 2 and minutes[0]["value"] == 1
    hours = reader.get(f"{URL}/metrics/latency_ms", params={"resolution": "1h"}).json()[0]["points"]
    assert sum(p["count"] for p in hours) == 60
    assert reader.get(f"{URL}/metrics/latency_ms", params={"label": "nolabel"}).status_code == 422


# ----------------------------------------------------------------------------- rules


def test_rules_are_editable_versioned_and_in_the_ledger(client_for, pusher, reader) -> None:
    pusher.post(f"{URL}/metrics", json=batch("b1", SEED_HEALTHY))
    eng = client_for("engineer")
    rule = eng.get(f"{URL}/alert-rules/latency-high").json()
    assert rule["source"] == "shipped" and rule["expression"] == "last(latency_ms[1h]) > 1000"
    r = eng.patch(
        f"{URL}/alert-rules/latency-high", json={"version": rule["version"], "threshold": 200, "reason": "SLO"}
    )
    assert r.status_code == 200 and r.json()["version"] == rule["version"] + 1
    stale = eng.patch(f"{URL}/alert-rules/latency-high", json={"version": rule["version"], "threshold": 300})
    assert stale.status_code == 409
    fired = pusher.post(f"{URL}/metrics", json=batch("b2", {"latency_ms": 250})).json()["alerts"]
    assert [a["rule"] for a in fired] == ["latency-high"]
    ledger = client_for("auditor").get(f"{LEDGER}/entries", params={"entity_type": "alert_rule"})
    assert ledger.status_code == 200, ledger.text
    entry = next(e for e in ledger.json()["items"] if e["action"] == "alert_rule.updated")
    assert (entry["before"]["threshold"], entry["after"]["threshold"], entry["reason"]) == (1000, 200, "SLO")
    bad = eng.patch(f"{URL}/alert-rules/latency-high", json={"version": rule["version"] + 1, "comparison": None})
    assert bad.status_code == 422 and "comparison" in bad.json()["detail"]
    assert reader.patch(f"{URL}/alert-rules/latency-high", json={"version": 2, "threshold": 1}).status_code == 403


def test_an_anomaly_rule_alerts_without_a_threshold(client_for, pusher, clock) -> None:
    eng = client_for("engineer")
    r = eng.post(
        f"{URL}/alert-rules",
        json={
            "key": "latency-anomaly",
            "kind": "anomaly",
            "metric": "latency_ms",
            "window": "1h",
            "severity": "warning",
        },
    )
    assert r.status_code == 201, r.text
    start = clock.now() - timedelta(minutes=20)
    calm = [
        {"name": "latency_ms", "value": 250 + (i % 5), "ts": (start + timedelta(minutes=i)).isoformat()}
        for i in range(15)
    ]
    assert pusher.post(f"{URL}/metrics", json={"batch_id": "calm", "points": calm}).json()["alerts"] == []
    spike = pusher.post(f"{URL}/metrics", json={"batch_id": "spike", "points": [{"name": "latency_ms", "value": 900}]})
    assert [(a["rule"], a["new_state"]) for a in spike.json()["alerts"]] == [("latency-anomaly", "firing")]
    assert "robust z" in spike.json()["alerts"][0]["summary"]


def test_rule_input_is_checked(client_for, system) -> None:
    eng = client_for("engineer")
    r = eng.post(f"{URL}/alert-rules", json={"key": "x-rule", "kind": "threshold", "metric": "accuracy"})
    assert r.status_code == 422 and "comparison" in r.json()["detail"]
    r = eng.post(
        f"{URL}/alert-rules", json={"key": "y-rule", "metric": "a", "comparison": "<", "threshold": 1, "window": "soon"}
    )
    assert r.status_code == 422
    r = eng.post(
        f"{URL}/alert-rules", json={"key": "z-rule", "metric": "a", "comparison": "<", "threshold": 1, "window": "60d"}
    )
    assert r.status_code == 422 and "raw retention" in r.json()["detail"]
    assert eng.post(f"{URL}/alert-rules/defaults").status_code == 200
    dup = eng.post(f"{URL}/alert-rules", json={"key": "accuracy-low", "metric": "a", "comparison": "<", "threshold": 1})
    assert dup.status_code == 409


def test_defaults_can_be_installed_explicitly_and_deleted_ones_stay_deleted(client_for, pusher) -> None:
    eng = client_for("engineer")
    created = eng.post(f"{URL}/alert-rules/defaults").json()
    assert {r["key"] for r in created} >= {"accuracy-low", "no-data", "data-drift"}
    assert eng.post(f"{URL}/alert-rules/defaults").json() == []
    version = eng.get(f"{URL}/alert-rules/bias-high").json()["version"]
    assert eng.delete(f"{URL}/alert-rules/bias-high", params={"version": version}).status_code == 204
    pusher.post(f"{URL}/metrics", json=batch("b", {"bias_score": 0.9}))
    assert "bias-high" not in {r["key"] for r in eng.get(f"{URL}/alert-rules").json()}
