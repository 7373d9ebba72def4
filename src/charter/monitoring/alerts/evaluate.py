"""Evaluating alert rules and moving alerts through pending -> firing -> resolved.

Rules are evaluated on ingest (for the series a batch touched) and by the periodic sweep (every rule of every
monitored system: for-durations elapse, windows slide, systems go quiet). One alert per (rule, label set) is
active at a time — the database enforces it through `alerts.active_key`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from charter.context import Ctx
from charter.inventory.models import AISystem
from charter.ledger.chain import snapshot
from charter.monitoring.alerts import rules as R
from charter.monitoring.alerts.hooks import AlertChange, emit
from charter.monitoring.models import Alert, AlertRule, DriftCheck, MetricPoint, MetricSeries, MonitorState
from charter.monitoring.postdeploy import alert_fired
from charter.monitoring.schemas import AlertChangeRead, AlertRead

Series = tuple[str, str]  # (metric name, labels key)
Latest = dict[Series, tuple[datetime, float]]  # the latest point of each series


def active_key(rule_id: int, labels: str) -> str:
    return f"{rule_id}:{hashlib.sha256(labels.encode()).hexdigest()}"


def _change(system: AISystem, alert: Alert, old: str | None, now: datetime) -> AlertChange:
    return AlertChange(
        alert_id=alert.id,
        system_id=system.id,
        system_key=system.key,
        rule_key=alert.rule_key,
        severity=alert.severity,
        labels=json.loads(alert.labels),
        old_state=old,
        new_state=alert.state,
        value=alert.value,
        summary=alert.summary,
        at=now,
    )


def _snap(alert: Alert) -> dict[str, Any]:
    return snapshot(alert, exclude=frozenset({"active_key"}))


def _emit(ctx: Ctx, system: AISystem, alert: Alert, old: str | None) -> AlertChange:
    change = _change(system, alert, old, ctx.now())
    if alert.state == "firing":
        alert_fired(ctx, system, alert)
    emit(ctx, change)
    return change


def open_alert(
    ctx: Ctx, system: AISystem, rule: AlertRule, labels: str, state: str, value: float | None, summary: str
) -> AlertChange:
    now = ctx.now()
    alert = Alert(
        rule_id=rule.id,
        system_id=system.id,
        rule_key=rule.key,
        severity=rule.severity,
        labels=labels,
        active_key=active_key(rule.id, labels),
        state=state,
        value=value,
        summary=summary,
        started_at=now,
        fired_at=now if state == "firing" else None,
        resolved_at=None,
        last_evaluated_at=now,
    )
    ctx.session.add(alert)
    ctx.session.flush()
    ctx.record(f"alert.{state}", "alert", alert.id, after=_snap(alert), reason=summary)
    return _emit(ctx, system, alert, None)


def transition(ctx: Ctx, alert: Alert, target: str, value: float | None, summary: str) -> AlertChange:
    R.check_transition(f"alert {alert.id}", alert.state, target)
    before = _snap(alert)
    old = alert.state
    now = ctx.now()
    alert.state = target
    alert.value = value
    alert.summary = summary
    alert.last_evaluated_at = now
    if target == "firing":
        alert.fired_at = now
    if target == "resolved":
        alert.resolved_at = now
        alert.active_key = None
    ctx.session.flush()
    ctx.record(f"alert.{target}", "alert", alert.id, before=before, after=_snap(alert), reason=summary)
    system = ctx.session.get(AISystem, alert.system_id)
    assert system is not None
    return _emit(ctx, system, alert, old)


def _apply(
    ctx: Ctx,
    system: AISystem,
    rule: AlertRule,
    labels: str,
    active: Alert | None,
    breaching: bool | None,
    value: float | None,
    summary: str,
) -> AlertChange | None:
    """Move the (rule, labels) alert according to the evaluation. breaching None: no data, no change."""
    if breaching is None:
        return None
    now = ctx.now()
    target = R.next_state(
        active.state if active else None, breaching, active.started_at if active else None, rule.for_seconds, now
    )
    if active is not None:
        active.last_evaluated_at = now
        if target is None and breaching:
            active.value = value
    if target is None:
        return None
    if active is None:
        return open_alert(ctx, system, rule, labels, target, value, summary)
    return transition(ctx, active, target, value, summary if breaching else f"recovered: {summary}")


# ----------------------------------------------------------------------------- metric rules


def _series_points(session: Session, system_id: int, name: str, labels: str, since: datetime) -> Any:
    """The select of a series' points after `since` (joined through metric_series)."""
    return (
        select(MetricPoint.ts, MetricPoint.value)
        .join(MetricSeries, MetricSeries.id == MetricPoint.series_id)
        .where(
            MetricSeries.system_id == system_id,
            MetricSeries.name == name,
            MetricSeries.labels == labels,
            MetricPoint.ts > since,
        )
    )


def _window_points(
    session: Session, system_id: int, name: str, labels: str, since: datetime
) -> list[tuple[datetime, float]]:
    stmt = _series_points(session, system_id, name, labels, since).order_by(MetricPoint.ts, MetricPoint.id)
    return [(ts, v) for ts, v in session.execute(stmt)]


def _latest_values(session: Session, system_id: int, name: str, labels: str, since: datetime, n: int) -> list[float]:
    """The newest `n` values of the window, oldest first: read newest first along the (series_id, ts) index,
    so the cost is bounded by `n` whatever the window holds (D110). Values only: no timestamps to convert."""
    series_id = session.execute(
        select(MetricSeries.id).where(
            MetricSeries.system_id == system_id, MetricSeries.name == name, MetricSeries.labels == labels
        )
    ).scalar()
    if series_id is None:
        return []
    newest_first = (
        select(MetricPoint.value)
        .where(MetricPoint.series_id == series_id, MetricPoint.ts > since)
        .order_by(MetricPoint.ts.desc(), MetricPoint.id.desc())
        .limit(n)
    )
    values = list(session.execute(newest_first).scalars())
    values.reverse()
    return values


def _aggregate(
    session: Session, rule: AlertRule, system_id: int, labels: str, now: datetime, latest: Latest | None = None
) -> float | None:
    since = now - timedelta(seconds=rule.window_seconds)
    name = rule.metric or ""
    agg = rule.aggregation
    if agg == "last":
        point = (latest or {}).get((name, labels))
        if point is None:
            row = session.execute(
                select(MetricSeries.last_ts, MetricSeries.last_value).where(
                    MetricSeries.system_id == system_id, MetricSeries.name == name, MetricSeries.labels == labels
                )
            ).first()
            point = None if row is None else (row[0], row[1])
        return None if point is None or point[0] <= since else float(point[1])
    if agg in ("avg", "min", "max"):
        fns: dict[str, Any] = {"avg": func.avg, "min": func.min, "max": func.max}
        fn = fns[agg]
        sub = _series_points(session, system_id, name, labels, since).subquery()
        value = session.execute(select(fn(sub.c.value))).scalar()
        return None if value is None else float(value)
    if agg == "p95":
        values = _latest_values(session, system_id, name, labels, since, R.MAX_WINDOW_POINTS)
        return R.percentile(values, 0.95) if values else None
    return R.aggregate(agg, _window_points(session, system_id, name, labels, since))


def _labels_text(labels: str) -> str:
    parsed = json.loads(labels)
    return "{" + ", ".join(f"{k}={v}" for k, v in parsed.items()) + "}" if parsed else ""


def evaluate_metric_rule(
    ctx: Ctx, system: AISystem, rule: AlertRule, labels: str, active: Alert | None, latest: Latest | None = None
) -> AlertChange | None:
    now = ctx.now()
    assert rule.metric is not None
    series = f"{rule.metric}{_labels_text(labels)}"
    if rule.kind == "threshold":
        value = _aggregate(ctx.session, rule, system.id, labels, now, latest)
        if value is None:
            return None
        assert rule.comparison is not None and rule.threshold is not None
        breaching = R.compare(value, rule.comparison, rule.threshold)
        summary = (
            f"{series}: {rule.aggregation} over {R.format_duration(rule.window_seconds)} = {value:g} "
            f"({rule.comparison} {rule.threshold:g} fires)"
        )
        return _apply(ctx, system, rule, labels, active, breaching, value, summary)
    since = now - timedelta(seconds=rule.window_seconds)
    points = _latest_values(ctx.session, system.id, rule.metric, labels, since, R.MAX_WINDOW_POINTS + 1)
    min_points = int(rule.params.get("min_points", 10))
    if len(points) < min_points + 1:
        return None
    newest = points[-1]
    rz = R.robust_z(newest, points[:-1])
    threshold = float(rule.params.get("z", 3.5))
    breaching = R.anomalous(rz.z, threshold, str(rule.params.get("direction", "both")))
    summary = (
        f"{series} = {newest:g}: robust z {rz.z:.2f} against the median {rz.median:g} of the previous "
        f"{len(points) - 1} points{' (the latest in the window)' if len(points) > R.MAX_WINDOW_POINTS else ''} "
        f"(|z| > {threshold:g} fires)"
    )
    return _apply(ctx, system, rule, labels, active, breaching, newest, summary)


def evaluate_no_data(
    ctx: Ctx, system: AISystem, rule: AlertRule, active: Alert | None, just_received: bool = False
) -> AlertChange | None:
    now = ctx.now()
    last: datetime | None
    if just_received and rule.metric is None:
        last = now  # evaluated on ingest: the system is reporting right now
    elif rule.metric:
        last = ctx.session.execute(
            select(func.max(MetricSeries.last_ts)).where(
                MetricSeries.system_id == system.id, MetricSeries.name == rule.metric
            )
        ).scalar()
    else:
        state = ctx.session.get(MonitorState, system.id)
        last = state.last_data_at if state else None
    if last is None:
        return None
    quiet = max((now - last).total_seconds(), 0.0)
    breaching = quiet > rule.window_seconds
    what = rule.metric or "metrics"
    summary = f"no {what} for {quiet / 60:.0f} min (more than {R.format_duration(rule.window_seconds)} fires)"
    return _apply(ctx, system, rule, "{}", active, breaching, round(quiet / 60, 2), summary)


def _active_alerts(session: Session, rule_ids: Iterable[int]) -> dict[tuple[int, str], Alert]:
    ids = list(rule_ids)
    if not ids:
        return {}
    rows = session.execute(select(Alert).where(Alert.rule_id.in_(ids), Alert.state.in_(R.ACTIVE_STATES))).scalars()
    return {(a.rule_id, a.labels): a for a in rows}


def evaluate_series(ctx: Ctx, system: AISystem, series: set[Series], latest: Latest | None = None) -> list[AlertChange]:
    """On ingest: the rules watching the metrics of this batch, for the series it touched; no-data rules."""
    names = {name for name, _ in series}
    rules = list(
        ctx.session.execute(
            select(AlertRule).where(
                AlertRule.system_id == system.id,
                AlertRule.enabled.is_(True),
                AlertRule.kind.in_(("threshold", "anomaly", "no_data")),
            )
        ).scalars()
    )
    rules = [r for r in rules if r.kind == "no_data" or r.metric in names]
    active = _active_alerts(ctx.session, (r.id for r in rules))
    changes: list[AlertChange] = []
    parsed = {labels: json.loads(labels) for _, labels in series}
    for rule in sorted(rules, key=lambda r: r.key):
        if rule.kind == "no_data":
            if rule.metric is None or rule.metric in names:
                change = evaluate_no_data(ctx, system, rule, active.get((rule.id, "{}")), just_received=True)
                changes.extend([change] if change else [])
            continue
        for name, labels in sorted(series):
            if name == rule.metric and R.labels_match(rule.labels or {}, parsed[labels]):
                change = evaluate_metric_rule(ctx, system, rule, labels, active.get((rule.id, labels)), latest)
                changes.extend([change] if change else [])
    return changes


def evaluate_system(ctx: Ctx, system: AISystem) -> list[AlertChange]:
    """The sweep: every enabled metric rule over the series seen in its window, plus active alerts."""
    now = ctx.now()
    rules = list(
        ctx.session.execute(
            select(AlertRule).where(
                AlertRule.system_id == system.id,
                AlertRule.enabled.is_(True),
                AlertRule.kind.in_(("threshold", "anomaly", "no_data")),
            )
        ).scalars()
    )
    active = _active_alerts(ctx.session, (r.id for r in rules))
    changes: list[AlertChange] = []
    for rule in sorted(rules, key=lambda r: r.key):
        if rule.kind == "no_data":
            change = evaluate_no_data(ctx, system, rule, active.get((rule.id, "{}")))
            changes.extend([change] if change else [])
            continue
        since = now - timedelta(seconds=rule.window_seconds)
        seen = set(
            ctx.session.execute(
                select(MetricSeries.labels).where(
                    MetricSeries.system_id == system.id, MetricSeries.name == rule.metric, MetricSeries.last_ts > since
                )
            ).scalars()
        )
        seen |= {labels for (rid, labels) in active if rid == rule.id}
        for labels in sorted(seen):
            if not R.labels_match(rule.labels or {}, json.loads(labels)):
                continue
            change = evaluate_metric_rule(ctx, system, rule, labels, active.get((rule.id, labels)))
            changes.extend([change] if change else [])
    return changes


def evaluate_drift(ctx: Ctx, system: AISystem, check: DriftCheck) -> list[AlertChange]:
    """After a drift check: the system's drift rules, for the reference profile it used."""
    found = ctx.session.execute(
        select(AlertRule).where(
            AlertRule.system_id == system.id, AlertRule.enabled.is_(True), AlertRule.kind == "drift"
        )
    ).scalars()
    rules = [r for r in found if r.params.get("reference") in (None, check.profile_name)]
    active = _active_alerts(ctx.session, (r.id for r in rules))
    labels = R.labels_key({"reference": check.profile_name})
    changes = []
    for rule in rules:
        share = rule.params.get("share")
        breaching = check.dataset_drift if share is None else check.drift_share >= float(share)
        summary = (
            f"drift check {check.id} against '{check.profile_name}': {check.columns_drifted} of "
            f"{check.columns_total} columns drifted (share {check.drift_share:.2f}"
            + (f", dataset drift at {check.share_threshold:g})" if share is None else f", fires at {share})")
        )
        change = _apply(ctx, system, rule, labels, active.get((rule.id, labels)), breaching, check.drift_share, summary)
        changes.extend([change] if change else [])
    return changes


# ----------------------------------------------------------------------------- reading


def alert_read(alert: Alert, system_key: str) -> AlertRead:
    return AlertRead(
        id=alert.id,
        system=system_key,
        rule=alert.rule_key,
        severity=alert.severity,
        labels=json.loads(alert.labels),
        state=alert.state,
        value=alert.value,
        summary=alert.summary,
        started_at=alert.started_at,
        fired_at=alert.fired_at,
        resolved_at=alert.resolved_at,
        last_evaluated_at=alert.last_evaluated_at,
    )


def change_read(change: AlertChange) -> AlertChangeRead:
    return AlertChangeRead(
        alert_id=change.alert_id,
        rule=change.rule_key,
        severity=change.severity,
        labels=change.labels,
        old_state=change.old_state,
        new_state=change.new_state,
        value=change.value,
        summary=change.summary,
    )


def firing_alerts(session: Session, system_id: int) -> list[Alert]:
    return list(
        session.execute(
            select(Alert).where(Alert.system_id == system_id, Alert.state == "firing").order_by(Alert.id)
        ).scalars()
    )
