"""The incident lifecycle through the service layer: open, move, acknowledge, roles, timeline, bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from charter.incidents import queries, roles, service, timeline
from charter.incidents.models import IncidentStatusChange
from charter.incidents.schemas import IncidentCreate, IncidentUpdate, RoleIn, SeverityIn, TransitionIn
from charter.kit.errors import Conflict, IllegalTransition, NotFound, PermissionDenied, StaleVersion, ValidationFailed
from tests.incidents.conftest import SYSTEM, ledger, make_system


def move(actors, incident, to: str, role: str = "engineer", **kw):  # type: ignore[no-untyped-def]
    return service.transition(actors.ctx(role), incident.key, TransitionIn(to=to, version=incident.version, **kw))


def test_incidents_get_per_year_keys(actors, open_incident, clock) -> None:
    assert open_incident().key == "INC-2026-0001"
    assert open_incident("LOW").key == "INC-2026-0002"
    clock.set(datetime(2027, 1, 1, 0, 0, 1, tzinfo=UTC))
    assert open_incident().key == "INC-2027-0001"


def test_opening_records_who_what_where_and_makes_the_reporter_commander(actors, open_incident, clock) -> None:
    incident = open_incident(
        "HIGH", harm_category="safety", affected_users=1000, started_at=clock.now() - timedelta(minutes=20)
    )
    read = queries.read_incident(actors.ctx("viewer"), incident.key)
    assert (read.system, read.system_stage, read.severity, read.harm_category) == (
        SYSTEM,
        "production",
        "HIGH",
        "safety",
    )
    assert (read.status, read.status_category, read.source) == ("open", "open", "manual")
    assert read.reporter == "user:engineer" and read.commander == "engineer" and read.source == "manual"
    assert read.started_at == clock.now() - timedelta(minutes=20) and read.detected_at == clock.now()
    assert read.durations["time_to_detect"] == 20 * 60
    assert read.severity_rank == 3 and read.severity_colour.startswith("#")
    assert read.allowed_transitions == ["declined", "duplicate", "investigating", "mitigated", "resolved"]
    assert next(e.action for e in ledger(actors.session, incident.key)) == "incident.opened"


def test_bad_input_on_open_is_answered_clearly(actors, open_incident, clock) -> None:
    with pytest.raises(ValidationFailed, match="unknown severity 'SEV1'; allowed: LOW, MEDIUM, HIGH, CRITICAL"):
        open_incident("SEV1")
    with pytest.raises(ValidationFailed, match="unknown harm category 'vibes'"):
        open_incident(harm_category="vibes")
    with pytest.raises(ValidationFailed, match="started_at is in the future"):
        open_incident(started_at=clock.now() + timedelta(hours=1))
    with pytest.raises(ValidationFailed, match="commander: no active user named 'ghost'"):
        open_incident(commander="ghost")
    with pytest.raises(ValidationFailed, match="unknown escalation policy 'nope'"):
        open_incident(escalation_policy="nope")
    with pytest.raises(NotFound, match="no AI system with key 'nope'"):
        service.open_incident(actors.ctx("engineer"), IncidentCreate(title="x x x", system="nope", severity="LOW"))
    with pytest.raises(PermissionDenied, match="incidents:write"):
        open_incident(role="viewer")


def test_every_transition_is_timestamped_and_acknowledges_implicitly(actors, open_incident, clock) -> None:
    incident = open_incident("LOW")
    clock.advance(minutes=5)
    move(actors, incident, "investigating")
    assert incident.acknowledged_at == clock.now() and incident.next_escalation_at is None
    clock.advance(minutes=10)
    move(actors, incident, "mitigated")
    mitigated = clock.now()
    clock.advance(minutes=10)
    move(actors, incident, "resolved")
    clock.advance(minutes=10)
    move(actors, incident, "closed", role="governance")
    assert (incident.mitigated_at, incident.resolved_at, incident.closed_at) == (
        mitigated,
        mitigated + timedelta(minutes=10),
        clock.now(),
    )
    changes = actors.session.scalars(
        select(IncidentStatusChange)
        .where(IncidentStatusChange.incident_id == incident.id)
        .order_by(IncidentStatusChange.id)
    ).all()
    assert [(c.from_status, c.to_status) for c in changes] == [
        (None, "open"),
        ("open", "investigating"),
        ("investigating", "mitigated"),
        ("mitigated", "resolved"),
        ("resolved", "closed"),
    ]
    assert [c.at for c in changes] == sorted(c.at for c in changes)
    actions = [e.action for e in ledger(actors.session, incident.key)]
    for status in ("investigating", "mitigated", "resolved", "closed"):
        assert f"incident.status.{status}" in actions


def test_a_refused_move_names_the_allowed_ones(actors, open_incident) -> None:
    incident = open_incident("LOW")
    with pytest.raises(IllegalTransition) as err:
        move(actors, incident, "closed", role="governance")
    assert err.value.detail == (
        f"incident {incident.key} cannot move from 'open' to 'closed'. "
        "Allowed from 'open': declined, duplicate, investigating, mitigated, resolved."
    )


def test_reopen_and_decline_need_a_reason(actors, open_incident) -> None:
    incident = open_incident("LOW")
    with pytest.raises(ValidationFailed, match="a reason is required to decline"):
        move(actors, incident, "declined")
    move(actors, incident, "declined", reason="test alert, not an incident")
    with pytest.raises(ValidationFailed, match="a reason is required to reopen"):
        move(actors, incident, "open")
    move(actors, incident, "open", reason="it was real after all")
    assert (incident.status, incident.reopen_count) == ("open", 1)
    assert ledger(actors.session, incident.key)[-1].action == "incident.reopened"


def test_a_closed_incident_reopens_to_investigating(actors, open_incident) -> None:
    incident = open_incident("LOW")
    for to in ("resolved",):
        move(actors, incident, to)
    move(actors, incident, "closed", role="governance")
    move(actors, incident, "investigating", reason="harmful outputs seen again")
    assert (incident.status, incident.closed_at, incident.reopen_count) == ("investigating", None, 1)


def test_duplicates_point_at_a_canonical_incident(actors, open_incident) -> None:
    first, second, third = open_incident(), open_incident(), open_incident()
    with pytest.raises(ValidationFailed, match="duplicate_of is required"):
        move(actors, second, "duplicate")
    with pytest.raises(ValidationFailed, match="cannot be a duplicate of itself"):
        move(actors, second, "duplicate", duplicate_of=second.key)
    move(actors, second, "duplicate", duplicate_of=first.key)
    assert queries.read_incident(actors.ctx(), second.key).duplicate_of == first.key
    with pytest.raises(ValidationFailed, match=f"is itself a duplicate of {first.key}"):
        move(actors, third, "duplicate", duplicate_of=second.key)
    with pytest.raises(ValidationFailed, match="duplicate_of is only for"):
        move(actors, third, "investigating", duplicate_of=first.key)


def test_stale_versions_are_refused(actors, open_incident) -> None:
    incident = open_incident("LOW")
    with pytest.raises(StaleVersion, match="you sent version 7"):
        service.transition(actors.ctx("engineer"), incident.key, TransitionIn(to="investigating", version=7))


def test_closing_needs_incidents_manage(actors, open_incident) -> None:
    incident = open_incident("LOW")
    move(actors, incident, "resolved")
    with pytest.raises(PermissionDenied, match="incidents:manage"):
        move(actors, incident, "closed", role="engineer")


def test_acknowledge_stops_escalation_and_makes_a_commander(actors, open_incident) -> None:
    incident = open_incident(role="admin", commander=None)
    roles.renounce_role(actors.ctx("admin"), incident.key, "commander")
    result = service.acknowledge(actors.ctx("approver"), incident.key)
    assert not result.already and result.acknowledged_by == "approver"
    assert incident.next_escalation_at is None
    assert queries.read_incident(actors.ctx(), incident.key).commander == "approver"
    again = service.acknowledge(actors.ctx("engineer"), incident.key)
    assert again.already and again.acknowledged_by == "approver"


def test_acknowledging_a_closed_incident_is_refused_clearly(actors, open_incident) -> None:
    incident = open_incident("LOW")
    move(actors, incident, "resolved")
    move(actors, incident, "closed", role="governance")
    with pytest.raises(
        Conflict, match=f"incident {incident.key} is closed: only ongoing incidents can be acknowledged"
    ):
        service.acknowledge(actors.ctx("engineer"), incident.key)
    with pytest.raises(NotFound, match="no incident with key 'INC-2026-9999'"):
        service.acknowledge(actors.ctx("engineer"), "INC-2026-9999")


def test_severity_changes_are_validated_timelined_and_ledgered(actors, open_incident) -> None:
    incident = open_incident("MEDIUM")
    with pytest.raises(ValidationFailed, match="unknown severity 'URGENT'"):
        service.change_severity(
            actors.ctx("engineer"), incident.key, SeverityIn(severity="URGENT", version=incident.version)
        )
    with pytest.raises(Conflict, match="already MEDIUM"):
        service.change_severity(
            actors.ctx("engineer"), incident.key, SeverityIn(severity="MEDIUM", version=incident.version)
        )
    service.change_severity(
        actors.ctx("engineer"), incident.key, SeverityIn(severity="HIGH", version=incident.version, reason="spreading")
    )
    assert incident.severity == "HIGH"
    events = [e.body for e in timeline.entries(actors.ctx(), incident) if e.event == "severity"]
    assert events == ["severity raised: MEDIUM → HIGH: spreading"]
    playbooks = [lk.data["template"] for lk in queries.read_incident(actors.ctx(), incident.key).links]
    assert playbooks == ["incident-response-standard", "incident-response-high"]  # the new severity's runbook
    assert ledger(actors.session, incident.key)[-1].action == "incident.severity.changed"


def test_roles_are_held_by_one_person_with_assumed_and_renounced_times(actors, open_incident, clock) -> None:
    incident = open_incident()
    clock.advance(minutes=3)
    roles.assign_role(actors.ctx("engineer"), incident.key, RoleIn(role="commander", username="governance"))
    roles.assign_role(actors.ctx("engineer"), incident.key, RoleIn(role="scribe", username="approver"))
    detail = queries.read_incident(actors.ctx(), incident.key)
    assert detail.roles == {"commander": "governance", "scribe": "approver"}
    history = [(r.role, r.username, r.renounced_at is not None) for r in detail.role_history]
    assert history == [
        ("commander", "engineer", True),
        ("commander", "governance", False),
        ("scribe", "approver", False),
    ]
    assert detail.role_history[0].renounced_at == clock.now()
    with pytest.raises(Conflict, match="already is commander"):
        roles.assign_role(actors.ctx("engineer"), incident.key, RoleIn(role="commander", username="governance"))
    with pytest.raises(ValidationFailed, match="unknown incident role 'captain'"):
        roles.assign_role(actors.ctx("engineer"), incident.key, RoleIn(role="captain", username="admin"))
    roles.renounce_role(actors.ctx("engineer"), incident.key, "scribe")
    assert queries.read_incident(actors.ctx(), incident.key).roles == {"commander": "governance"}
    with pytest.raises(Conflict, match="nobody is scribe"):
        roles.renounce_role(actors.ctx("engineer"), incident.key, "scribe")


def test_updates_are_editable_by_their_author_only_and_the_ledger_keeps_the_old_text(actors, open_incident) -> None:
    incident = open_incident()
    entry = timeline.post_update(actors.ctx("engineer"), incident, "Safety filter bypassed via role-play prompts")
    with pytest.raises(PermissionDenied, match="only the author"):
        timeline.edit_update(actors.ctx("admin"), incident, entry.id, "rewritten", entry.version)
    timeline.edit_update(actors.ctx("engineer"), incident, entry.id, "Safety filter bypassed via role-play", 1)
    assert entry.body == "Safety filter bypassed via role-play" and entry.edited_at is not None
    with pytest.raises(StaleVersion):
        timeline.edit_update(actors.ctx("engineer"), incident, entry.id, "again", 1)
    last = ledger(actors.session, incident.key)[-1]
    assert last.action == "incident.update.edited"
    assert last.before["body"] == "Safety filter bypassed via role-play prompts"
    assert last.after["body"] == "Safety filter bypassed via role-play"
    event = next(e for e in timeline.entries(actors.ctx(), incident) if e.kind == "event")
    with pytest.raises(Conflict, match="automatic timeline events cannot be edited"):
        timeline.edit_update(actors.ctx("engineer"), incident, event.id, "x", event.version)


def test_the_timeline_has_automatic_events_and_human_updates_in_order(actors, open_incident, clock) -> None:
    incident = open_incident("LOW")
    clock.advance(minutes=1)
    timeline.post_update(actors.ctx("engineer"), incident, "looking")
    clock.advance(minutes=1)
    move(actors, incident, "investigating")
    rows = queries.read_timeline(actors.ctx("viewer"), incident.key)
    assert [(r.kind, r.event) for r in rows] == [
        ("event", "opened"),
        ("event", "role"),
        ("event", "escalation"),
        ("event", "playbook"),
        ("update", None),
        ("event", "status"),
    ]
    assert rows[4].author == "engineer"


def test_edit_fields_with_version_and_reason(actors, open_incident, clock) -> None:
    incident = open_incident("LOW")
    service.update_incident(
        actors.ctx("engineer"),
        incident.key,
        IncidentUpdate(version=incident.version, affected_users=250, harm_category="privacy", reason="counted"),
    )
    assert (incident.affected_users, incident.harm_category) == (250, "privacy")
    assert ledger(actors.session, incident.key)[-1].reason == "counted"
    with pytest.raises(ValidationFailed, match="started_at cannot be after"):
        service.update_incident(
            actors.ctx("engineer"),
            incident.key,
            IncidentUpdate(version=incident.version, started_at=clock.now() + timedelta(minutes=1)),
        )


def test_incidents_on_a_retired_system_are_refused(actors) -> None:
    system = make_system(actors, "old-bot", stage="production")
    from charter.inventory import service as inventory
    from charter.inventory.schemas import Transition

    inventory.transition_system(actors.ctx(), system.key, Transition(to="retired", version=system.version))
    with pytest.raises(Conflict, match="retired"):
        service.open_incident(actors.ctx("engineer"), IncidentCreate(title="old one", system="old-bot", severity="LOW"))


def test_list_filters(actors, open_incident) -> None:
    a = open_incident("CRITICAL")
    b = open_incident("LOW", title="Latency spike")
    move(actors, b, "investigating")
    flt = queries.IncidentFilter
    keys = lambda f: [i.key for i in queries.list_incidents(actors.ctx("viewer"), f)[0]]  # noqa: E731
    assert keys(flt()) == [b.key, a.key]
    assert keys(flt(severity="critical")) == [a.key]
    assert keys(flt(category="active")) == [b.key]
    assert keys(flt(unacknowledged=True)) == [a.key]
    assert keys(flt(q="latency")) == [b.key]
    assert keys(flt(system="other")) == []
