"""Escalation: level 1 paged on open, the next level when nobody acknowledges in time, signed ack links."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlparse

import pytest
from sqlalchemy import select

from charter.incidents import escalation, queries, service
from charter.incidents.models import IncidentEscalation
from charter.incidents.schemas import SeverityIn
from charter.incidents.store import automatic
from charter.kit.errors import PermissionDenied, ValidationFailed
from charter.notifications.models import Notification
from tests.incidents.conftest import TWO_LEVELS, ledger


def sweep(actors):  # type: ignore[no-untyped-def]
    """What the periodic sweeper does: run as Charter itself."""
    return escalation.sweep(automatic(actors.ctx()))


def inbox(actors, username: str) -> list[Notification]:  # type: ignore[no-untyped-def]
    return list(
        actors.session.scalars(
            select(Notification).where(Notification.user_id == actors.users[username].id).order_by(Notification.id)
        )
    )


def steps(actors, incident) -> list[tuple[int, int, list[str]]]:  # type: ignore[no-untyped-def]
    rows = actors.session.scalars(
        select(IncidentEscalation).where(IncidentEscalation.incident_id == incident.id).order_by(IncidentEscalation.id)
    )
    return [(r.round, r.level, r.recipients) for r in rows]


def test_opening_pages_the_first_level_with_a_signed_ack_link(actors, policy, open_incident, clock) -> None:
    incident = open_incident("CRITICAL")
    assert incident.escalation_policy == "two-levels"
    assert steps(actors, incident) == [(1, 1, ["engineer"])]
    assert incident.next_escalation_at == clock.now() + timedelta(minutes=15)
    [note] = inbox(actors, "engineer")
    assert note.event_type == "incident.opened"
    assert note.subject == f"[CRITICAL] {incident.key} opened: Model generating harmful content"
    assert "/api/v1/incidents/ack-link/" in note.payload["ack_url"]
    assert inbox(actors, "governance") == []


def test_an_unacknowledged_incident_escalates_to_the_next_level_on_time(actors, policy, open_incident, clock) -> None:
    incident = open_incident("CRITICAL")
    clock.advance(minutes=14, seconds=59)
    assert sweep(actors) == {"escalated": [], "exhausted": []}
    clock.advance(seconds=1)
    assert sweep(actors) == {"escalated": [incident.key], "exhausted": []}
    assert steps(actors, incident) == [(1, 1, ["engineer"]), (1, 2, ["governance"])]
    [note] = inbox(actors, "governance")
    assert note.event_type == "incident.escalated"
    assert "escalated to level 2" in note.subject
    assert incident.next_escalation_at == clock.now() + timedelta(minutes=15)
    assert ledger(actors.session, incident.key)[-1].action == "incident.escalated"
    assert ledger(actors.session, incident.key)[-1].actor == "system:charter"
    assert sweep(actors)["escalated"] == []  # same moment again: nothing twice
    clock.advance(minutes=15)
    assert sweep(actors) == {"escalated": [], "exhausted": [incident.key]}
    assert incident.escalation_exhausted and incident.next_escalation_at is None
    assert queries.read_incident(actors.ctx(), incident.key).escalation.exhausted


def test_acknowledging_in_time_stops_the_escalation(actors, policy, open_incident, clock) -> None:
    incident = open_incident("CRITICAL")
    clock.advance(minutes=10)
    service.acknowledge(actors.ctx("engineer"), incident.key)
    clock.advance(minutes=10)
    assert sweep(actors)["escalated"] == []
    assert steps(actors, incident) == [(1, 1, ["engineer"])]
    assert inbox(actors, "governance") == []


def test_the_ack_timeout_depends_on_severity(actors, policy, open_incident, clock) -> None:
    high = open_incident("HIGH")
    low = open_incident("LOW")
    assert high.next_escalation_at == clock.now() + timedelta(hours=1)
    assert low.next_escalation_at is None  # LOW pages level 1 and stops there
    clock.advance(minutes=59)
    assert sweep(actors)["escalated"] == []
    clock.advance(minutes=1)
    assert sweep(actors)["escalated"] == [high.key]


def test_raising_the_severity_shortens_the_pending_timeout(actors, policy, open_incident, clock) -> None:
    incident = open_incident("MEDIUM")
    assert incident.next_escalation_at == clock.now() + timedelta(hours=4)
    opened = clock.now()
    clock.advance(minutes=20)
    service.change_severity(
        actors.ctx("engineer"), incident.key, SeverityIn(severity="CRITICAL", version=incident.version)
    )
    assert incident.next_escalation_at == opened + timedelta(minutes=15)  # already overdue: the next sweep pages
    assert sweep(actors)["escalated"] == [incident.key]


def test_levels_with_nobody_to_page_are_skipped(actors, system, open_incident) -> None:
    escalation.install_policy(
        actors.ctx("admin"),
        {**TWO_LEVELS, "levels": [{"notify": [{"role": "auditor"}]}, {"notify": [{"role": "governance"}]}]},
    )
    actors.users["auditor"].disabled = True
    incident = open_incident("CRITICAL")
    assert steps(actors, incident) == [(1, 1, []), (1, 2, ["governance"])]  # the empty level is on record
    assert incident.escalation_level == 2


def test_the_shipped_default_policy_pages_the_system_owner_first(actors, open_incident) -> None:
    incident = open_incident("CRITICAL")
    assert incident.escalation_policy == "default"
    assert steps(actors, incident) == [(1, 1, ["engineer"])]


def test_repeat_restarts_the_chain(actors, system, open_incident, clock) -> None:
    escalation.install_policy(actors.ctx("admin"), {**TWO_LEVELS, "repeat": 1})
    incident = open_incident("CRITICAL")
    for _ in range(3):
        clock.advance(minutes=15)
        sweep(actors)
    assert [(r, lv) for r, lv, _ in steps(actors, incident)] == [(1, 1), (1, 2), (2, 1), (2, 2)]


def test_ack_tokens_are_signed_personal_and_expiring(actors, settings, clock) -> None:
    expires = clock.now() + timedelta(hours=24)
    token = escalation.ack_token(settings, "INC-2026-0001", 7, expires)
    assert escalation.verify_ack_token(settings, token, clock.now()) == ("INC-2026-0001", 7)
    body, mac = token.split(".")
    with pytest.raises(ValidationFailed, match="signature is not valid"):
        escalation.verify_ack_token(settings, f"{body}.{'0' * len(mac)}", clock.now())
    forged = escalation.ack_token(settings, "INC-2026-0001", 8, expires).split(".")[0]
    with pytest.raises(ValidationFailed, match="signature is not valid"):
        escalation.verify_ack_token(settings, f"{forged}.{mac}", clock.now())
    with pytest.raises(ValidationFailed, match="has expired"):
        escalation.verify_ack_token(settings, token, expires + timedelta(seconds=1))
    with pytest.raises(ValidationFailed, match="malformed"):
        escalation.verify_ack_token(settings, "garbage", clock.now())


def test_bad_policies_are_refused_with_the_field(actors) -> None:
    bad = [
        ({**TWO_LEVELS, "levels": []}, "levels"),
        ({**TWO_LEVELS, "ack_timeouts": {"SEV1": "5m"}}, "unknown severities SEV1"),
        ({**TWO_LEVELS, "ack_timeouts": {"HIGH": "soon"}}, "not a duration"),
        ({**TWO_LEVELS, "levels": [{"notify": [{"user": "ghost"}]}]}, "no user named 'ghost'"),
        ({**TWO_LEVELS, "levels": [{"notify": [{"role": "boss"}]}]}, "unknown role 'boss'"),
        ({**TWO_LEVELS, "levels": [{"notify": [{"role": "admin", "user": "admin"}]}]}, "exactly one of"),
    ]
    for definition, message in bad:
        with pytest.raises(ValidationFailed, match=message):
            escalation.install_policy(actors.ctx("admin"), definition)
    with pytest.raises(PermissionDenied, match="incidents:manage"):
        escalation.install_policy(actors.ctx("engineer"), TWO_LEVELS)


def test_acknowledging_through_the_signed_link_of_the_notification(
    actors, policy, open_incident, client_for, session
) -> None:
    incident = open_incident("CRITICAL")
    [note] = inbox(actors, "engineer")
    session.commit()
    anonymous = client_for(None)
    path = urlparse(note.payload["ack_url"]).path
    page = anonymous.get(path)
    assert page.status_code == 200 and f"Acknowledge incident {incident.key}?" in page.text
    assert queries.read_incident(actors.ctx(), incident.key).acknowledged_at is None  # a GET changes nothing
    r = anonymous.post(path)
    assert r.status_code == 200, r.text
    assert r.json()["acknowledged_by"] == "engineer" and r.json()["already"] is False
    r = anonymous.post(path, headers={"Accept": "text/html"})
    assert "was already acknowledged by engineer" in r.text
    bad = anonymous.post(path[:-3] + "000")
    assert bad.status_code == 422 and "signature" in bad.json()["detail"]
