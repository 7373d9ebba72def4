"""Monitoring: health of every system and firing alerts; a system's metric charts (alert thresholds drawn
in), its alerts and its drift per feature."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request, Response

from charter.context import Ctx
from charter.inventory import queries as inventory
from charter.monitoring.alerts import service as alert_rules
from charter.monitoring.drift import service as drift_service
from charter.monitoring.metrics import queries as series
from charter.web.charts import Threshold, compare_bars, line_chart
from charter.web.deps import WebCtx, WebRoute
from charter.web.render import render
from charter.web.views.system_page import system_page

router = APIRouter(route_class=WebRoute, include_in_schema=False)
PERIODS = {"6h": timedelta(hours=6), "24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
MAX_CHARTS = 12
PAGE = 25


@router.get("/monitoring")
def overview(request: Request, ctx: WebCtx) -> Response:
    """Every system ordered by health (one bulk read), the details of one page of them (PAGE at a time)."""
    ctx.require("metrics:read")
    systems = [s for s in inventory.list_systems(ctx, inventory.SystemFilter(), limit=500)[0] if s.stage != "retired"]
    fleet = series.fleet_health(ctx, [s.key for s in systems])
    order = {"critical": 0, "degraded": 1, "unknown": 2, "healthy": 3}
    systems.sort(key=lambda s: (order.get(fleet.health.get(s.key, "unknown"), 9), s.name))
    try:
        page = max(1, int(request.query_params.get("page") or 1))
    except ValueError:
        page = 1
    shown = systems[(page - 1) * PAGE : page * PAGE]
    return render(
        request,
        "monitoring/index.html",
        healths=[(s, series.health(ctx, s.key)) for s in shown],
        firing=fleet.firing[:100],
        page=page,
        more=len(systems) > page * PAGE,
    )


def thresholds_by_metric(ctx: Ctx, key: str) -> dict[str, list[Threshold]]:
    out: dict[str, list[Threshold]] = {}
    for rule in alert_rules.list_rules(ctx, key):
        if rule.enabled and rule.metric and rule.threshold is not None and rule.comparison:
            label = f"{rule.severity}: {rule.comparison}"
            out.setdefault(rule.metric, []).append(Threshold(rule.threshold, label))
    return out


def charts(ctx: Ctx, key: str, period: timedelta) -> list[dict[str, Any]]:
    until = ctx.now()
    limits = thresholds_by_metric(ctx, key)
    names = sorted({s.name for s in series.list_series(ctx, key)})
    out = []
    for name in names:
        for data in series.series_data(ctx, key, name, since=until - period, until=until):
            pts = [(p.ts, p.value) for p in data.points if p.value is not None]
            labels = ", ".join(f"{k}={v}" for k, v in sorted(data.labels.items()))
            title = name + (f" ({labels})" if labels else "")
            out.append(
                {
                    "title": title,
                    "resolution": data.resolution,
                    "svg": line_chart(pts, title=title, unit=data.unit, thresholds=limits.get(name, ())),
                    "has_thresholds": bool(limits.get(name)),
                }
            )
            if len(out) >= MAX_CHARTS:
                return out
    return out


def drift_view(ctx: Ctx, key: str) -> dict[str, Any] | None:
    checks = drift_service.list_checks(ctx, key, 10)
    if not checks:
        return None
    latest = drift_service.read_check(ctx, key, checks[0].id)
    features = latest.features or []
    numeric = [
        (f.column, float(f.stats["mean_reference"]), float(f.stats["mean_current"]))
        for f in features
        if "mean_reference" in f.stats and "mean_current" in f.stats
    ]
    return {
        "checks": checks,
        "latest": latest,
        "features": features,
        "means": compare_bars(numeric, title="Mean per feature: reference vs current") if numeric else None,
    }


@router.get("/systems/{key}/metrics")
def system_tab(request: Request, ctx: WebCtx, key: str) -> Response:
    period_key = request.query_params.get("period", "24h")
    period = PERIODS.get(period_key, PERIODS["24h"])
    return system_page(
        request,
        ctx,
        key,
        "metrics",
        "systems/metrics.html",
        health=series.health(ctx, key),
        charts=charts(ctx, key, period),
        periods=PERIODS,
        period=period_key if period_key in PERIODS else "24h",
        alerts=series.list_alerts(ctx, key, limit=20),
        rules=alert_rules.list_rules(ctx, key),
        drift=drift_view(ctx, key),
    )
