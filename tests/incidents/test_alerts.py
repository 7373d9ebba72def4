"""Alerts → incidents: a firing critical alert opens an incident, more firing alerts of the rule join it,
resolutions are noted on the timeline."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from sqlalchemy import func, select

import charter.incidents.alerts  # noqa: F401  (registers the monitoring hook, as the app does)
from charter.incidents import queries, service
from charter.incidents.models import Incident
from charter.incidents.schemas import TransitionIn
from charter.monitoring.metrics import service as ingest
from tests.incidents.conftest import ledger

_ids = itertools.count(1)
HEALTHY = {"accuracy": 0.92, "latency_ms": 250, "error_rate": 0.02}


@pytest.fixture
def push(actors: Any, system: Any) -> Any:
    def send(values: dict[str, float], **labels: str) -> Any:
        points = [{"name": k, "value": v, "labels": dict(labels)} for k, v in values.items()]
        return ingest.ingest(actors.ctx("engineer"), system.key, {"batch_id": f"inc-{next(_ids)}", "points": points})

    return send


def incidents(actors: Any) -> list[Incident]:
    return list(actors.session.scalars(select(Incident).order_by(Incident.id)))


def test_a_firing_critical_alert_opens_an_incident_and_pages_the_owner(actors, push, clock, system) -> None:
    push(HEALTHY)
    clock.advance(minutes=1)
    result = push({**HEALTHY, "accuracy": 0.70})
    assert [(c.rule, c.new_state) for c in result.alerts] == [("accuracy-low", "firing")]
    [incident] = incidents(actors)
    read = queries.read_incident(actors.ctx(), incident.key)
    assert (read.source, read.severity, read.reporter, read.commander) == ("alert", "HIGH", "system:charter", None)
    assert read.title == f"Alert accuracy-low firing on {system.key}"
    assert [lk.kind for lk in read.links if lk.kind == "alert"] == ["alert"]
    assert read.escalation.level == 1  # the system owner was paged


def test_the_system_owner_is_told_about_every_firing_and_resolved_alert(actors, push, clock) -> None:
    from charter.notifications.models import Notification

    push(HEALTHY)
    clock.advance(minutes=1)
    push({**HEALTHY, "latency_ms": 5000})  # a warning: no incident, but the owner hears of it
    clock.advance(minutes=1)
    push(HEALTHY)
    events = actors.session.scalars(
        select(Notification.event_type)
        .where(Notification.user_id == actors.users["engineer"].id, Notification.event_type.like("alert.%"))
        .order_by(Notification.id)
    ).all()
    assert events == ["alert.firing", "alert.resolved"]


def test_warnings_do_not_open_incidents(actors, push, clock) -> None:
    push(HEALTHY)
    clock.advance(minutes=1)
    result = push({**HEALTHY, "latency_ms": 5000})  # latency-high is a warning
    assert [(c.rule, c.new_state) for c in result.alerts] == [("latency-high", "firing")]
    assert incidents(actors) == []


def test_alerts_of_the_same_rule_join_the_ongoing_incident(actors, push, clock) -> None:
    push({"accuracy": 0.70}, region="eu")
    clock.advance(minutes=1)
    push({"accuracy": 0.70}, region="us")  # a second alert of the same rule (other labels)
    [incident] = incidents(actors)
    alerts = [lk for lk in queries.read_incident(actors.ctx(), incident.key).links if lk.kind == "alert"]
    assert len(alerts) == 2
    assert "incident.alert.joined" in [e.action for e in ledger(actors.session, incident.key)]


def test_resolved_alerts_are_noted_and_a_later_firing_after_resolution_opens_a_new_incident(
    actors, push, clock
) -> None:
    push({"accuracy": 0.70})
    clock.advance(minutes=1)
    push({"accuracy": 0.95})
    [incident] = incidents(actors)
    notes = [e.body for e in queries.read_timeline(actors.ctx(), incident.key) if e.event == "alert"]
    assert notes[-1].startswith("alert accuracy-low (critical) resolved")
    clock.advance(minutes=1)
    push({"accuracy": 0.70})  # fires again while the incident is still open: joins it
    assert actors.session.scalar(select(func.count()).select_from(Incident)) == 1
    service.transition(actors.ctx("engineer"), incident.key, TransitionIn(to="resolved", version=incident.version))
    clock.advance(minutes=1)
    push({"accuracy": 0.95})
    clock.advance(minutes=1)
    push({"accuracy": 0.70})  # the old incident is resolved: a new one
    assert [i.status for i in incidents(actors)] == ["resolved", "open"]
