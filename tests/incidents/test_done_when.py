"""Issue 6, "done when": a CRITICAL incident on a production system — playbook, paging, escalation,
rollback linked both ways — through the real procedures, releases and notifications modules."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from charter.incidents import escalation, queries, releases_link, service
from charter.incidents.schemas import IncidentCreate, RollbackIn
from charter.incidents.store import automatic
from charter.notifications import service as notifications
from charter.notifications.delivery import deliver_pending
from charter.notifications.schemas import ChannelCreate, SubscriptionCreate
from charter.procedures.models import RunItem
from charter.releases import history
from charter.releases.models import Deployment
from tests.incidents.conftest import TWO_LEVELS, ledger
from tests.notifications.receiver import Receiver
from tests.releases.conftest import CHATBOT, governed, make_system, submit, to_production

SEED_CRITICAL_ACTIONS = [
    "Immediately notify leadership",
    "Activate incident response team",
    "Consider system shutdown",
    "Prepare public communication",
]


def two_releases_in_production(actors: Any, clock: Any) -> Any:
    system = make_system(actors, tier="high")
    governed(actors, system)
    submit(actors, tag="v1")
    to_production(actors, clock, system, 1)
    submit(actors, tag="v2")
    to_production(actors, clock, system, 2)
    assert system.stage == "production"
    return system


def pager(actors: Any, username: str, receiver: Receiver) -> str:
    channel = notifications.create_channel(
        actors.ctx(username),
        ChannelCreate(name=f"{username}-pager", kind="webhook", target=f"{receiver.url}/{username}"),
    )
    notifications.subscribe(actors.ctx(username), SubscriptionCreate(event_type="incident.*", channel_id=channel.id))
    return str(channel.secret)


def test_a_critical_incident_on_production_runs_the_whole_response(actors, clock, receiver: Receiver) -> None:
    system = two_releases_in_production(actors, clock)
    escalation.install_policy(actors.ctx("admin"), {**TWO_LEVELS, "systems": [CHATBOT]})
    secrets = {u: pager(actors, u, receiver) for u in ("engineer", "governance")}

    incident = service.open_incident(
        actors.ctx("approver"),
        IncidentCreate(
            title="Model generating harmful content",
            description="Multiple reports of model bypassing safety filters",
            system=CHATBOT,
            severity="CRITICAL",
            harm_category="safety",
            affected_users=1000,
            source="user_feedback",
        ),
    )
    detail = queries.read_incident(actors.ctx("viewer"), incident.key)

    # the release deployed at production when it started is filled in
    assert (detail.system_stage, detail.release) == ("production", f"{CHATBOT}@2 (production)")

    # the CRITICAL playbook runs with the seed's four actions as tasks, owned by the commander, with due times
    [run_link] = [lk for lk in detail.links if lk.kind == "procedure_run"]
    assert run_link.data["template"] == "incident-response-critical"
    items = actors.session.scalars(
        select(RunItem).where(RunItem.run_id == int(run_link.ref)).order_by(RunItem.position)
    ).all()
    from charter.procedures import service as procedures

    run = procedures.read_run(actors.ctx("viewer"), int(run_link.ref))
    questions = [i.question for s in run.sections for i in s.items]
    assert questions == SEED_CRITICAL_ACTIONS
    assert {i.assignee_id for i in items} == {actors.users["approver"].id}  # the commander (the reporter)
    assert [i.due_at - clock.now() for i in items] == [
        timedelta(minutes=15),
        timedelta(minutes=30),
        timedelta(hours=1),
        timedelta(hours=4),
    ]

    # the first escalation level (the system owner) is notified, by a signed webhook with an ack link
    deliver_pending(automatic(actors.ctx()))
    [first] = receiver.received
    assert first.path == "/engineer" and first.json()["event"] == "incident.opened"
    ts = first.headers["x-charter-timestamp"]
    mac = hmac.new(secrets["engineer"].encode(), f"{ts}.".encode() + first.body, hashlib.sha256).hexdigest()
    assert first.headers["x-charter-signature"] == f"v1={mac}"
    assert "/api/v1/incidents/ack-link/" in first.json()["data"]["ack_url"]

    # not acknowledged within 15 minutes: the second level is paged
    clock.advance(minutes=14)
    assert escalation.sweep(automatic(actors.ctx()))["escalated"] == []
    clock.advance(minutes=1)
    assert escalation.sweep(automatic(actors.ctx()))["escalated"] == [incident.key]
    deliver_pending(automatic(actors.ctx()))
    second = receiver.received[-1]
    assert second.path == "/governance" and second.json()["event"] == "incident.escalated"
    assert second.json()["data"]["level"] == 2

    # a rollback started from the incident redeploys the previous approved release, linked both ways
    releases_link.rollback_from_incident(
        actors.ctx("engineer"), incident.key, RollbackIn(reason="harmful outputs since v2")
    )
    assert history.deployed_at(actors.ctx("viewer"), CHATBOT, "production", clock.now()).version == 1
    move = actors.session.scalars(select(Deployment).order_by(Deployment.id.desc())).first()
    assert move is not None and (move.kind, move.incident_key) == ("emergency", incident.key)
    [rollback] = [lk for lk in queries.read_incident(actors.ctx(), incident.key).links if lk.kind == "rollback"]
    assert (rollback.ref, rollback.data["from_version"], rollback.data["to_version"]) == (str(move.id), 2, 1)
    events = [e.body for e in queries.read_timeline(actors.ctx(), incident.key) if e.event == "rollback"]
    assert events == [f"rolled back {CHATBOT} at production: release 2 → 1 (harmful outputs since v2)"]
    assert "incident.rollback" in [e.action for e in ledger(actors.session, incident.key)]
    assert system.stage == "production"


def test_an_incident_started_before_the_last_deployment_names_the_release_then(actors, clock) -> None:
    two_releases_in_production(actors, clock)
    v2_at = history.deployed_at(actors.ctx("viewer"), CHATBOT, "production", clock.now()).since
    assert v2_at is not None
    incident = service.open_incident(
        actors.ctx("engineer"),
        IncidentCreate(title="Bias found", system=CHATBOT, severity="HIGH", started_at=v2_at - timedelta(seconds=1)),
    )
    assert incident.release_label == f"{CHATBOT}@1 (production)"


def test_a_rollback_with_nothing_earlier_is_refused_and_changes_nothing(actors, open_incident) -> None:
    import pytest

    from charter.kit.errors import Conflict

    incident = open_incident("CRITICAL")  # a production system without releases
    with pytest.raises(Conflict, match="nothing is deployed at production"):
        releases_link.rollback_from_incident(actors.ctx("engineer"), incident.key, RollbackIn(reason="try it"))
