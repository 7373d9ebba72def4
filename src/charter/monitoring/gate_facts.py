"""Monitoring facts for deployment gates (the `monitoring` namespace of charter.policy.facts).

monitoring.firing_critical == 0 && monitoring.minutes_since_last_data < 60.0
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from charter.monitoring.alerts import rules as R
from charter.monitoring.alerts.evaluate import firing_alerts
from charter.monitoring.metrics.queries import drift_status
from charter.monitoring.models import MonitorState, PostDeployWatch
from charter.policy.facts import FactsRequest, register_facts_provider

SCHEMA: Final[dict[str, str]] = {
    "open_alerts": "int",
    "firing_critical": "int",
    "firing_warning": "int",
    "firing_info": "int",
    "firing_rules": "list(string)",
    "health": "string",
    "has_data": "bool",
    "minutes_since_last_data": "double",
    "drift_checked": "bool",
    "drift_detected": "bool",
    "drift_share": "double",
    "releases_at_risk": "int",
}


def gate_facts(session: Session, system_id: int, now: datetime) -> dict[str, Any]:
    """Firing alerts by severity, health, drift status and time since the last data, for gate rules.

    minutes_since_last_data is -1.0 when the system never sent metrics (has_data is then false).
    """
    firing = firing_alerts(session, system_id)
    severities = [a.severity for a in firing]
    state = session.get(MonitorState, system_id)
    last = state.last_data_at if state else None
    drift = drift_status(session, system_id)
    at_risk = session.execute(
        select(func.count()).where(PostDeployWatch.system_id == system_id, PostDeployWatch.status == "at_risk")
    ).scalar_one()
    return {
        "open_alerts": len(firing),
        "firing_critical": severities.count("critical"),
        "firing_warning": severities.count("warning"),
        "firing_info": severities.count("info"),
        "firing_rules": sorted({a.rule_key for a in firing}),
        "health": R.health(severities, last is not None),
        "has_data": last is not None,
        "minutes_since_last_data": round((now - last).total_seconds() / 60, 2) if last else -1.0,
        "drift_checked": drift is not None,
        "drift_detected": bool(drift and drift["dataset_drift"]),
        "drift_share": float(drift["drift_share"]) if drift else 0.0,
        "releases_at_risk": int(at_risk),
    }


def provide(request: FactsRequest) -> dict[str, Any]:
    return gate_facts(request.session, request.system.id, request.now)


def _register() -> None:
    # Alerts and drift change only through ledger-recorded changes; minutes_since_last_data may be a few
    # seconds old: gate checks may reuse these facts briefly (charter.policy.facts, cacheable).
    register_facts_provider("monitoring", provide, schema=SCHEMA, cacheable=True)


_register()
