"""Pure alerting rules: aggregations, robust z-scores, the alert state machine, health, rule validation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from charter.kit.errors import IllegalTransition
from charter.monitoring.alerts import rules as R

T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


def series(*values: float) -> list[tuple[datetime, float]]:
    return [(T0 + timedelta(seconds=10 * i), v) for i, v in enumerate(values)]


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("15m", 900), ("1h", 3600), ("7d", 604800), (42, 42), ("0s", 0), ("2.5m", 150)]
)
def test_durations_read_as_people_write_them(text, seconds) -> None:
    assert R.parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["soon", "-5m", "1y", True, -3])
def test_a_duration_that_is_not_one_is_refused_with_the_allowed_forms(bad) -> None:
    with pytest.raises(ValueError, match=r"duration|negative"):
        R.parse_duration(bad)


def test_aggregations_over_a_window() -> None:
    pts = series(3, 1, 4, 1, 5, 9, 2, 6)
    assert R.aggregate("last", pts) == 6
    assert R.aggregate("avg", pts) == pytest.approx(np.mean([3, 1, 4, 1, 5, 9, 2, 6]))
    assert R.aggregate("max", pts) == 9 and R.aggregate("min", pts) == 1
    assert R.aggregate("p95", pts) == pytest.approx(np.percentile([3, 1, 4, 1, 5, 9, 2, 6], 95))
    assert R.aggregate("avg", []) is None


def test_rate_is_the_per_second_increase_of_a_counter_across_resets() -> None:
    # 100 -> 160 (+60), reset to 10 (+10), -> 40 (+30): 100 over 30 s
    assert R.counter_rate(series(100, 160, 10, 40)) == pytest.approx(100 / 30)
    assert R.counter_rate(series(5)) is None


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=200), st.floats(0, 1))
def test_percentile_agrees_with_numpy(values, q) -> None:
    assert R.percentile(values, q) == pytest.approx(float(np.percentile(values, q * 100)), rel=1e-9, abs=1e-6)


def test_robust_z_flags_a_point_far_from_the_baseline_but_not_ordinary_noise() -> None:
    baseline = [250, 240, 260, 255, 245, 250, 252, 248, 251, 249]
    assert abs(R.robust_z(253, baseline).z) < 3.5
    far = R.robust_z(900, baseline)
    assert far.z > 3.5 and far.median == 250
    assert R.anomalous(far.z, 3.5, "above") and not R.anomalous(far.z, 3.5, "below")


def test_robust_z_on_a_constant_baseline_treats_any_change_as_infinitely_far() -> None:
    assert R.robust_z(1.0, [1.0] * 20).z == 0
    assert R.robust_z(1.5, [1.0] * 20).z == float("inf")
    # MAD zero but some spread: the mean absolute deviation stands in
    assert 0 < R.robust_z(2.0, [1.0] * 15 + [2.0] * 5).z < float("inf")


@pytest.mark.parametrize(
    ("current", "breaching", "held", "for_s", "expected"),
    [
        (None, False, 0, 0, None),
        (None, True, 0, 0, "firing"),
        (None, True, 0, 300, "pending"),
        ("pending", True, 100, 300, None),
        ("pending", True, 300, 300, "firing"),
        ("pending", False, 100, 300, "resolved"),
        ("firing", True, 9999, 0, None),
        ("firing", False, 9999, 0, "resolved"),
    ],
)
def test_alert_state_machine_follows_prometheus(current, breaching, held, for_s, expected) -> None:
    since = T0 if current else None
    assert R.next_state(current, breaching, since, for_s, T0 + timedelta(seconds=held)) == expected


@given(st.sampled_from([None, "pending", "firing"]), st.booleans(), st.integers(0, 10_000), st.integers(0, 10_000))
def test_the_state_machine_only_makes_allowed_moves(current, breaching, held, for_s) -> None:
    target = R.next_state(current, breaching, T0, for_s, T0 + timedelta(seconds=held))
    if current is not None and target is not None:
        assert target in R.TRANSITIONS[current]


def test_a_resolved_alert_cannot_move_again() -> None:
    with pytest.raises(IllegalTransition, match="final state"):
        R.check_transition("alert 1", "resolved", "firing")


@pytest.mark.parametrize(
    ("severities", "has_data", "health"),
    [
        ([], False, "unknown"),
        ([], True, "healthy"),
        (["info"], True, "healthy"),
        (["warning", "info"], True, "degraded"),
        (["warning", "critical"], True, "critical"),
    ],
)
def test_health_derives_from_the_most_severe_firing_alert(severities, has_data, health) -> None:
    assert R.health(severities, has_data) == health


def test_label_sets_have_one_canonical_text_whatever_the_order() -> None:
    assert R.labels_key({"stage": "prod", "release": "3"}) == R.labels_key({"release": "3", "stage": "prod"})
    assert R.labels_match({"stage": "prod"}, {"stage": "prod", "release": "3"})
    assert not R.labels_match({"stage": "prod"}, {"release": "3"})


@pytest.mark.parametrize(
    ("kind", "fields", "field"),
    [
        ("threshold", {"metric": None, "comparison": "<", "threshold": 1.0}, "metric"),
        ("threshold", {"metric": "accuracy", "comparison": None, "threshold": 1.0}, "comparison"),
        ("threshold", {"metric": "accuracy", "comparison": "<", "threshold": None}, "threshold"),
        ("anomaly", {"metric": "latency_ms", "params": {"z": -1}}, "params.z"),
        ("anomaly", {"metric": "latency_ms", "params": {"zz": 1}}, "params"),
        ("anomaly", {"metric": "latency_ms", "comparison": ">", "threshold": 3.0}, "threshold"),
        ("drift", {"metric": "accuracy"}, "metric"),
        ("drift", {"params": {"share": 2}}, "params.share"),
    ],
)
def test_rule_problems_name_the_field_to_fix(kind, fields, field) -> None:
    base = {"metric": None, "comparison": None, "threshold": None, "params": {}}
    base.update(fields)
    found = R.rule_problems(kind, base["metric"], "last", 900, base["comparison"], base["threshold"], base["params"])
    assert field in [f for f, _ in found]


def test_a_sound_rule_has_no_problems() -> None:
    assert R.rule_problems("threshold", "accuracy", "avg", 900, "<", 0.85, {}) == []
    assert R.rule_problems("anomaly", "latency_ms", "last", 3600, None, None, {"z": 3.5}) == []
