"""Monitoring pages: health, firing alerts, metric charts with the alert threshold drawn in."""

from __future__ import annotations

from datetime import timedelta

from charter.inventory.schemas import SystemCreate
from charter.inventory.service import create_system
from charter.monitoring.alerts import service as alert_rules
from charter.monitoring.metrics import service as ingest
from charter.monitoring.schemas import RuleCreate
from charter.web.charts import Threshold, line_chart


def _system_with_metrics(actors, session, clock) -> None:  # type: ignore[no-untyped-def]
    ctx = actors.ctx("engineer")
    create_system(ctx, SystemCreate(key="support-bot", name="Support Bot", deployment_type="embedded"))
    alert_rules.create_rule(
        ctx,
        "support-bot",
        RuleCreate.model_validate(
            {
                "key": "accuracy-low",
                "metric": "accuracy",
                "aggregation": "last",
                "window": "5m",
                "comparison": "<",
                "threshold": 0.8,
                "severity": "critical",
            }
        ),
    )
    start = clock.now() - timedelta(hours=2)
    points = [
        {"name": "accuracy", "value": 0.95 - i * 0.01, "ts": (start + timedelta(minutes=5 * i)).isoformat()}
        for i in range(25)
    ]
    ingest.ingest(ctx, "support-bot", {"batch_id": "b1", "points": points})
    session.commit()


def test_chart_draws_the_threshold_and_escapes_text() -> None:
    from datetime import UTC, datetime

    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    svg = str(
        line_chart([(t0, 1.0), (t0 + timedelta(hours=1), 2.0)], title="<x>", thresholds=[Threshold(1.5, "critical: >")])
    )
    assert "<polyline" in svg and 'stroke-dasharray="6 4"' in svg
    assert "critical: &gt; 1.5" in svg and "<x>" not in svg and "&lt;x&gt;" in svg
    empty = str(line_chart([], title="none"))
    assert "No data in this period" in empty


def test_system_metrics_tab_shows_chart_threshold_and_critical_health(browser_for, actors, session, clock) -> None:
    _system_with_metrics(actors, session, clock)
    page = browser_for("viewer").get("/systems/support-bot/metrics").text
    assert "<svg" in page and "accuracy" in page
    assert "critical: &lt; 0.8" in page  # the alert threshold is drawn on the chart
    assert '>Critical</span><span class="t">health' in page


def test_monitoring_overview_lists_firing_alerts(browser_for, actors, session, clock) -> None:
    _system_with_metrics(actors, session, clock)
    page = browser_for("viewer").get("/monitoring").text
    assert "Firing alerts" in page and "support-bot" in page
    assert "No alert is firing." not in page


def test_no_metrics_yet_explains_how_to_push(browser_for, actors, session) -> None:
    create_system(actors.ctx("engineer"), SystemCreate(key="quiet-bot", name="Quiet", deployment_type="embedded"))
    session.commit()
    page = browser_for("viewer").get("/systems/quiet-bot/metrics").text
    assert "No metrics yet." in page and "metrics:write" in page


def test_system_overview_sums_up_health_risks_incidents_and_deployments(browser_for, actors, session, clock) -> None:
    _system_with_metrics(actors, session, clock)
    page = browser_for("viewer").get("/systems/support-bot").text
    kpis = page.split('class="kpis"')[1].split("</div>\n")[0]
    for label in ("health", "open risks", "high or critical", "open incidents", "deployed"):
        assert f'<span class="t">{label}</span>' in kpis
    assert 'href="/systems/support-bot/metrics"><span class="n">Critical</span>' in kpis
