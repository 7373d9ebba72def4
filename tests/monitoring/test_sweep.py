"""The periodic sweep (for-durations, retention) and the alert-change hooks other modules subscribe to."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from charter.context import Ctx
from charter.kit.principal import SYSTEM
from charter.monitoring.alerts import service as alert_rules
from charter.monitoring.alerts.hooks import AlertChange, on_alert_change, remove_alert_hook
from charter.monitoring.metrics import queries as series
from charter.monitoring.models import MetricBatch, MetricPoint, MetricRollup
from charter.monitoring.schemas import RuleCreate, RuleUpdate
from charter.monitoring.sweeps import sweep


def system_ctx(actors: Any, clock: Any) -> Ctx:
    return Ctx(session=actors.session, principal=SYSTEM, clock=clock, settings=actors.settings)


def test_a_breach_held_for_the_for_duration_fires_from_the_sweep(actors, push, clock) -> None:
    push({"accuracy": 0.9})
    rule = alert_rules.get_rule(actors.session, _system(actors), "accuracy-low")
    alert_rules.update_rule(
        actors.ctx("engineer"), "support-bot", "accuracy-low", RuleUpdate(version=rule.version, **{"for": "5m"})
    )
    first = push({"accuracy": 0.8})
    assert [(c.rule, c.new_state) for c in first.alerts] == [("accuracy-low", "pending")]
    clock.advance(minutes=2)
    assert sweep(system_ctx(actors, clock))["alert_changes"] == []
    clock.advance(minutes=4)
    assert sweep(system_ctx(actors, clock))["alert_changes"] == ["support-bot/accuracy-low: pending -> firing"]
    assert series.health(actors.ctx("viewer"), "support-bot").health == "critical"


def _system(actors: Any) -> Any:
    from charter.inventory.queries import get_system

    return get_system(actors.session, "support-bot")


def test_a_short_breach_that_recovers_within_the_for_duration_never_fires(actors, push, clock) -> None:
    push({"error_rate": 0.01})
    rule = alert_rules.get_rule(actors.session, _system(actors), "error-rate-high")
    alert_rules.update_rule(
        actors.ctx("engineer"), "support-bot", "error-rate-high", RuleUpdate(version=rule.version, **{"for": "10m"})
    )
    push({"error_rate": 0.2})
    clock.advance(minutes=3)
    recovered = push({"error_rate": 0.01})
    assert [(c.rule, c.old_state, c.new_state) for c in recovered.alerts] == [
        ("error-rate-high", "pending", "resolved")
    ]


def test_retention_keeps_roll_ups_after_raw_points_expire(actors, push, clock) -> None:
    push({"latency_ms": 100})
    push({"latency_ms": 300})
    count = lambda model: actors.session.execute(select(func.count()).select_from(model)).scalar_one()  # noqa: E731
    assert count(MetricPoint) == 2
    clock.advance(days=actors.settings.metrics_raw_retention_days + 1)
    result = sweep(system_ctx(actors, clock))["compacted"]
    assert result["points"] == 2 and result["batches"] == 2
    assert count(MetricPoint) == 0 and count(MetricBatch) == 0
    hourly = series.series_data(
        actors.ctx("viewer"), "support-bot", "latency_ms", since=clock.now() - timedelta(days=30), resolution="1h"
    )
    assert hourly[0].points[0].count == 2 and hourly[0].points[0].value == 200
    clock.advance(days=actors.settings.metrics_hour_retention_days)
    sweep(system_ctx(actors, clock))
    assert count(MetricRollup) == 0


def test_subscribers_hear_every_alert_change_and_a_failing_one_harms_nothing(actors, push, clock) -> None:
    heard: list[AlertChange] = []

    def broken(ctx: Ctx, change: AlertChange) -> None:
        raise RuntimeError("incident service down")

    def listener(ctx: Ctx, change: AlertChange) -> None:
        heard.append(change)

    on_alert_change(broken)
    on_alert_change(listener)
    try:
        result = push({"hallucination_rate": 0.3})
        clock.advance(minutes=1)
        push({"hallucination_rate": 0.01})
    finally:
        remove_alert_hook(broken)
        remove_alert_hook(listener)
    assert [c.new_state for c in result.alerts] == ["firing"]
    assert [(c.rule_key, c.old_state, c.new_state, c.system_key) for c in heard] == [
        ("hallucination-high", None, "firing", "support-bot"),
        ("hallucination-high", "firing", "resolved", "support-bot"),
    ]


def test_a_user_rule_with_a_label_filter_only_watches_its_series(actors, push) -> None:
    push({"accuracy": 0.99})
    alert_rules.create_rule(
        actors.ctx("engineer"),
        "support-bot",
        RuleCreate.model_validate(
            {"key": "prod-p95-latency", "metric": "latency_ms", "aggregation": "p95", "window": "1h",
             "comparison": ">", "threshold": 500, "labels": {"stage": "production"}, "severity": "critical"}
        ),
    )  # fmt: skip
    assert [c.rule for c in push({"latency_ms": 800}, stage="pilot").alerts] == []
    fired = push({"latency_ms": 800}, stage="production").alerts
    assert [(c.rule, c.labels) for c in fired if c.rule == "prod-p95-latency"] == [
        ("prod-p95-latency", {"stage": "production"})
    ]
