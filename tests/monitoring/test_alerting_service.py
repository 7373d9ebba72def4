"""Seed 002 end to end through the service layer: defaults, firing once, dedup, recovery, health."""

from __future__ import annotations

from datetime import timedelta

from charter.monitoring.alerts.service import list_rules
from charter.monitoring.metrics import queries as series
from charter.monitoring.models import Alert, MetricPoint

from .conftest import SEED_HEALTHY, count, ledger_actions


def test_seed_example_metrics_give_a_healthy_system_with_the_shipped_rules(actors, push) -> None:
    result = push(SEED_HEALTHY)
    assert result.accepted == 7 and result.alerts == []
    rules = {r.key: r for r in list_rules(actors.ctx("viewer"), "support-bot")}
    assert {"accuracy-low", "error-rate-high", "bias-high", "hallucination-high", "latency-high"} <= set(rules)
    assert rules["accuracy-low"].threshold == 0.85 and rules["accuracy-low"].comparison == "<"
    assert rules["latency-high"].threshold == 1000
    health = series.health(actors.ctx("viewer"), "support-bot")
    assert health.health == "healthy"
    assert health.alerts == []


def test_accuracy_and_latency_breaches_fire_exactly_two_alerts_once_and_resolve(actors, push, clock) -> None:
    push(SEED_HEALTHY)
    clock.advance(minutes=1)
    bad = {**SEED_HEALTHY, "accuracy": 0.80, "latency_ms": 1500}
    first = push(bad)
    fired = sorted((c.rule, c.new_state) for c in first.alerts)
    assert fired == [("accuracy-low", "firing"), ("latency-high", "firing")]

    clock.advance(minutes=1)
    again = push(bad)
    assert again.alerts == []  # still firing: no duplicate
    active = actors.session.query(Alert).filter(Alert.state == "firing").all()
    assert sorted(a.rule_key for a in active) == ["accuracy-low", "latency-high"]
    health = series.health(actors.ctx("viewer"), "support-bot")
    assert health.health == "critical"  # accuracy-low is critical
    assert health.firing == {"info": 0, "warning": 1, "critical": 1}

    clock.advance(minutes=1)
    recovered = push(SEED_HEALTHY)
    assert sorted((c.rule, c.new_state) for c in recovered.alerts) == [
        ("accuracy-low", "resolved"),
        ("latency-high", "resolved"),
    ]
    assert series.health(actors.ctx("viewer"), "support-bot").health == "healthy"
    assert count(actors.session, Alert) == 2
    assert ledger_actions(actors.session, "alert.") == ["alert.firing"] * 2 + ["alert.resolved"] * 2


def test_a_retried_batch_is_answered_again_and_stored_once(actors, push) -> None:
    bad = {**SEED_HEALTHY, "accuracy": 0.80}
    first = push(bad, batch_id="retry-1")
    second = push(bad, batch_id="retry-1")
    assert second.replayed is True
    assert second.model_dump(exclude={"replayed"}) == first.model_dump(exclude={"replayed"})
    assert count(actors.session, MetricPoint) == 7
    assert count(actors.session, Alert) == 1


def test_a_quiet_system_gets_a_no_data_alert_from_the_sweep(actors, push, clock) -> None:
    from charter.context import Ctx
    from charter.kit.principal import SYSTEM
    from charter.monitoring.sweeps import sweep

    push(SEED_HEALTHY)
    clock.advance(timedelta(minutes=61))
    ctx = Ctx(session=actors.session, principal=SYSTEM, clock=clock, settings=actors.settings)
    result = sweep(ctx)
    assert result["alert_changes"] == ["support-bot/no-data: new -> firing"]
    assert series.health(actors.ctx("viewer"), "support-bot").health == "degraded"
    clock.advance(minutes=1)
    push({"accuracy": 0.9})
    assert series.health(actors.ctx("viewer"), "support-bot").health == "healthy"
