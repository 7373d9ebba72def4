"""EU AI Act Art. 73 serious-incident clocks: deadlines per case, time left, escalation before expiry."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from charter.incidents import queries, regulatory
from charter.incidents.schemas import ReportedIn, SeriousIn
from charter.incidents.store import automatic
from charter.kit.errors import Conflict, ValidationFailed
from charter.notifications.models import Notification
from tests.incidents.conftest import ledger


def sweep(actors):  # type: ignore[no-untyped-def]
    return regulatory.sweep(automatic(actors.ctx()))


def flag(actors, incident, case: str, aware_at):  # type: ignore[no-untyped-def]
    return regulatory.flag_serious(actors.ctx("engineer"), incident.key, SeriousIn(case=case, aware_at=aware_at))


def deadline_notes(actors, username: str) -> list[str]:  # type: ignore[no-untyped-def]
    return list(
        actors.session.scalars(
            select(Notification.subject)
            .where(
                Notification.user_id == actors.users[username].id,
                Notification.event_type == "incident.regulatory_deadline",
            )
            .order_by(Notification.id)
        )
    )


@pytest.mark.parametrize(
    ("case", "days", "article"),
    [
        ("standard", 15, "Art. 73(2)"),
        ("widespread_or_critical_infrastructure", 2, "Art. 73(3)"),
        ("death", 10, "Art. 73(4)"),
    ],
)
def test_a_serious_incident_on_a_high_risk_system_gets_the_deadline_of_its_case(
    actors, system, open_incident, clock, case: str, days: int, article: str
) -> None:
    assert system.risk_tier == "high"
    incident = open_incident("CRITICAL")
    aware = clock.now() - timedelta(hours=3)
    flag(actors, incident, case, aware)
    reg = queries.read_incident(actors.ctx(), incident.key).regulatory
    assert (reg.serious, reg.case, reg.article, reg.days) == (True, case, article, days)
    assert reg.deadline == aware + timedelta(days=days)
    assert reg.time_left_seconds == int((timedelta(days=days) - timedelta(hours=3)).total_seconds())
    assert not reg.overdue
    assert ledger(actors.session, incident.key)[-1].action == "incident.serious.flagged"


def test_flagging_without_awareness_time_is_refused_clearly(actors, open_incident) -> None:
    incident = open_incident()
    with pytest.raises(ValidationFailed, match=r"aware_at is required: the Art\. 73 reporting deadline runs from"):
        regulatory.flag_serious(actors.ctx("engineer"), incident.key, SeriousIn(case="death"))


def test_unknown_case_and_future_awareness_are_refused(actors, open_incident, clock) -> None:
    incident = open_incident()
    with pytest.raises(ValidationFailed, match="unknown serious-incident case 'injury'"):
        flag(actors, incident, "injury", clock.now())
    with pytest.raises(ValidationFailed, match="aware_at is in the future"):
        flag(actors, incident, "standard", clock.now() + timedelta(minutes=1))


def test_the_clock_escalates_before_expiry_and_once_when_overdue(actors, policy, open_incident, clock) -> None:
    incident = open_incident("CRITICAL")
    start = clock.now()
    flag(actors, incident, "widespread_or_critical_infrastructure", start)  # 2 days
    # reminders: 50% (24 h), 12 h before (36 h), 80% (38 h 24 min); then overdue at 48 h
    assert incident.next_reminder_at == start + timedelta(hours=24)
    assert deadline_notes(actors, "engineer") == [f"{incident.key} is a serious incident: report due in 2 days"]
    assert deadline_notes(actors, "governance") == [f"{incident.key} is a serious incident: report due in 2 days"]

    clock.set(start + timedelta(hours=23, minutes=59))
    assert sweep(actors) == {"reminded": []}
    clock.set(start + timedelta(hours=24))
    assert sweep(actors) == {"reminded": [incident.key]}
    assert deadline_notes(actors, "engineer")[-1] == f"Serious incident {incident.key}: report due in 1d"
    clock.set(start + timedelta(hours=36))
    assert sweep(actors) == {"reminded": [incident.key]}
    assert deadline_notes(actors, "governance")[-1] == f"Serious incident {incident.key}: report due in 12h"
    clock.set(start + timedelta(hours=38, minutes=24))
    assert sweep(actors) == {"reminded": [incident.key]}
    clock.set(start + timedelta(hours=48))
    assert sweep(actors) == {"reminded": [incident.key]}
    assert deadline_notes(actors, "engineer")[-1] == (
        f"OVERDUE: serious incident {incident.key} was not reported by its deadline"
    )
    clock.set(start + timedelta(days=5))
    assert sweep(actors) == {"reminded": []}  # overdue escalates once, not every sweep
    reg = queries.read_incident(actors.ctx(), incident.key).regulatory
    assert reg.overdue and reg.time_left_seconds == -3 * 86400
    assert [e.action for e in ledger(actors.session, incident.key)].count("incident.serious.escalated") == 4


def test_reminders_climb_the_escalation_policy(actors, system, open_incident, clock) -> None:
    from charter.incidents import escalation
    from tests.incidents.conftest import TWO_LEVELS

    levels = [{"notify": [{"system_owner": True}]}, {"notify": [{"user": "approver"}]}, {"notify": [{"user": "admin"}]}]
    escalation.install_policy(actors.ctx("admin"), {**TWO_LEVELS, "levels": levels})
    incident = open_incident("CRITICAL")
    start = clock.now()
    flag(actors, incident, "widespread_or_critical_infrastructure", start)
    assert (len(deadline_notes(actors, "approver")), len(deadline_notes(actors, "admin"))) == (0, 0)
    clock.set(start + timedelta(hours=24))
    sweep(actors)  # first reminder: level 2
    assert (len(deadline_notes(actors, "approver")), len(deadline_notes(actors, "admin"))) == (1, 0)
    clock.set(start + timedelta(hours=36))
    sweep(actors)  # second reminder: level 3
    assert (len(deadline_notes(actors, "approver")), len(deadline_notes(actors, "admin"))) == (1, 1)
    assert len(deadline_notes(actors, "engineer")) == 3  # the commander hears every time


def test_recording_the_report_stops_the_reminders(actors, open_incident, clock) -> None:
    incident = open_incident("CRITICAL")
    start = clock.now()
    flag(actors, incident, "death", start)
    clock.set(start + timedelta(days=3))
    with pytest.raises(ValidationFailed, match="before the organisation became aware"):
        regulatory.record_report(
            actors.ctx("engineer"), incident.key, ReportedIn(reported_at=start - timedelta(days=1))
        )
    regulatory.record_report(actors.ctx("engineer"), incident.key, ReportedIn(reference="MSA-2026-17"))
    assert incident.next_reminder_at is None
    clock.set(start + timedelta(days=11))
    assert sweep(actors) == {"reminded": []}
    reg = queries.read_incident(actors.ctx(), incident.key).regulatory
    assert (reg.reported_at, reg.reference, reg.overdue) == (start + timedelta(days=3), "MSA-2026-17", False)
    assert reg.time_left_seconds == 7 * 86400  # reported with 7 days to spare
    with pytest.raises(Conflict, match="already reported"):
        regulatory.record_report(actors.ctx("engineer"), incident.key, ReportedIn())


def test_a_report_needs_a_flag_first(actors, open_incident) -> None:
    incident = open_incident()
    with pytest.raises(Conflict, match="not flagged as a serious incident"):
        regulatory.record_report(actors.ctx("engineer"), incident.key, ReportedIn())


def test_flagging_late_skips_reminders_already_past(actors, open_incident, clock) -> None:
    incident = open_incident()
    aware = clock.now() - timedelta(hours=30)
    flag(actors, incident, "widespread_or_critical_infrastructure", aware)
    assert incident.next_reminder_at == aware + timedelta(hours=36)


def test_a_deadline_case_can_be_corrected_and_the_clock_moves(actors, open_incident, clock) -> None:
    incident = open_incident()
    aware = clock.now()
    flag(actors, incident, "standard", aware)
    flag(actors, incident, "death", aware)
    assert incident.report_deadline == aware + timedelta(days=10)
