"""`charter metrics ...` against a real HTTP server: push files, read health, rules, drift with local profiling."""

from __future__ import annotations

import json

import numpy as np

from tests.releases.conftest import cli  # noqa: F401  (the real-server CLI fixture)

WRITE = ["metrics:write"]


def test_push_a_wide_csv_like_seed_002_then_read_health_and_alerts(cli, system, tmp_path) -> None:  # noqa: F811
    f = tmp_path / "metrics.csv"
    f.write_text(
        "timestamp,accuracy,latency_ms,error_rate,bias_score,hallucination_rate,release\n"
        "2026-01-01T08:58:00Z,0.92,250,0.02,0.15,0.05,3\n"
        "2026-01-01T08:59:00Z,0.80,1500,0.02,0.15,0.05,3\n"
    )
    r = cli("engineer", "metrics", "push", "support-bot", str(f), scopes=WRITE)
    assert r.exit_code == 0, r.output
    assert "10 points accepted in 1 batch(es)" in r.output
    assert "alert accuracy-low (critical): new -> firing" in r.output
    r = cli("viewer", "metrics", "health", "support-bot")
    assert r.exit_code == 0 and "support-bot: critical" in r.output and "latency-high" in r.output
    r = cli("viewer", "metrics", "alerts", "support-bot", "--state", "firing", "--json")
    assert sorted(a["rule"] for a in json.loads(r.output)) == ["accuracy-low", "latency-high"]


def test_push_long_json_lines_in_batches_and_rerun_safely(cli, system, tmp_path) -> None:  # noqa: F811
    f = tmp_path / "m.jsonl"
    f.write_text("".join(json.dumps({"name": "throughput_qps", "value": 100 + i}) + "\n" for i in range(25)))
    first = cli("engineer", "metrics", "push", "support-bot", str(f), "--batch-size", "10", "--batch-id", "nightly-1")
    assert first.exit_code == 0 and "25 points accepted in 3 batch(es)" in first.output
    again = cli("engineer", "metrics", "push", "support-bot", str(f), "--batch-size", "10", "--batch-id", "nightly-1")
    assert again.exit_code == 0 and "a replay, nothing new stored" in again.output
    assert "already pushed: a replay, nothing new stored" in again.output
    assert "25 points in 3 batch(es) were stored earlier" in again.output
    assert "points accepted" not in again.output
    series = json.loads(cli("viewer", "metrics", "series", "support-bot", "--json").output)
    assert series[0]["points"] == 25  # the re-run stored nothing twice


def test_bad_files_and_bad_values_fail_with_one_line(cli, system, tmp_path) -> None:  # noqa: F811
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    r = cli("engineer", "metrics", "push", "support-bot", str(empty))
    assert r.exit_code == 1 and "is empty" in r.output
    nan = tmp_path / "nan.csv"
    nan.write_text("name,value\naccuracy,nan\n")
    r = cli("engineer", "metrics", "push", "support-bot", str(nan))
    assert r.exit_code == 1 and "not a finite number" in r.output
    bad = tmp_path / "bad.csv"
    bad.write_text("name,value\naccuracy,1.7\n")
    r = cli("engineer", "metrics", "push", "support-bot", str(bad))
    assert r.exit_code == 2 and "cannot be above 1" in r.output and "Traceback" not in r.output


def test_rules_from_the_cli(cli, system) -> None:  # noqa: F811
    assert cli("engineer", "metrics", "defaults", "support-bot").exit_code == 0
    r = cli("engineer", "metrics", "rule-set", "support-bot", "latency-high", "--threshold", "800", "--reason", "SLO")
    assert r.exit_code == 0 and "last(latency_ms[1h]) > 800" in r.output
    r = cli(
        "engineer", "metrics", "rule-add", "support-bot", "latency-anomaly", "--kind", "anomaly",
        "--metric", "latency_ms", "--window", "1h", "--param", "z=4",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "robust z of latency_ms" in cli("viewer", "metrics", "rules", "support-bot").output


def test_drift_with_local_profiles_sends_no_rows(cli, system, tmp_path) -> None:  # noqa: F811
    rng = np.random.default_rng(5)
    ref, cur = tmp_path / "ref.csv", tmp_path / "cur.csv"
    ref.write_text("age\n" + "\n".join(f"{v:.3f}" for v in rng.normal(40, 10, 2000)))
    cur.write_text("age\n" + "\n".join(f"{v:.3f}" for v in rng.normal(52, 10, 2000)))
    r = cli("engineer", "metrics", "reference", "support-bot", str(ref), "--local")
    assert r.exit_code == 0 and "sdk" in r.output
    r = cli("engineer", "metrics", "drift", "support-bot", str(cur), "--local")
    assert r.exit_code == 0, r.output
    assert r.output.startswith("DRIFT: 1 of 1 columns drifted") and "wasserstein" in r.output
    r = cli("engineer", "metrics", "drift", "support-bot", str(ref))  # uploaded, same data: no drift
    assert r.output.startswith("no dataset drift")
