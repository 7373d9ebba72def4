"""Postmortems: structured, approved by someone else, gate on closing, action items, Markdown, metrics."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from charter.incidents import metrics, queries, service
from charter.incidents.export import postmortem_markdown
from charter.incidents.postmortems import service as postmortem
from charter.incidents.schemas import ActionCreate, ActionUpdate, PostmortemWrite, ReviewIn, TransitionIn
from charter.incidents.store import automatic
from charter.kit.errors import Conflict, IllegalTransition, PermissionDenied, StaleVersion, ValidationFailed
from tests.incidents.conftest import ledger

FULL = {
    "summary": "Role-play prompts bypassed the safety filter for 40 minutes.",
    "impact_users": 1000,
    "impact_duration_minutes": 40,
    "impact_harm": "Harmful instructions shown to ~1000 users.",
    "detection": "User reports, then the toxicity alert.",
    "root_cause": "The new system prompt dropped the refusal clause.",
    "contributing_factors": ["No red-team run on prompt changes"],
    "five_whys": ["Filter bypassed", "Refusal clause missing", "Prompt edited", "No review", "No gate on prompts"],
    "went_well": ["Rollback in 5 minutes"],
    "went_badly": ["Alert fired 20 minutes late"],
}


def move(actors, incident, to: str, role: str = "engineer", **kw):  # type: ignore[no-untyped-def]
    return service.transition(actors.ctx(role), incident.key, TransitionIn(to=to, version=incident.version, **kw))


def approved_postmortem(actors, incident):  # type: ignore[no-untyped-def]
    pm = postmortem.write(actors.ctx("engineer"), incident.key, PostmortemWrite(**FULL))
    postmortem.submit(actors.ctx("engineer"), incident.key, pm.version)
    return postmortem.approve(actors.ctx("governance"), incident.key, ReviewIn(version=pm.version))


def test_high_and_critical_incidents_cannot_close_before_the_postmortem_is_approved(actors, open_incident) -> None:
    incident = open_incident("HIGH")
    move(actors, incident, "resolved")
    with pytest.raises(
        Conflict, match=r"is HIGH: its postmortem must be approved before it can close \(postmortem: not written\)"
    ):
        move(actors, incident, "closed", role="governance")
    pm = postmortem.write(actors.ctx("engineer"), incident.key, PostmortemWrite(**FULL))
    postmortem.submit(actors.ctx("engineer"), incident.key, pm.version)
    with pytest.raises(Conflict, match=r"\(postmortem: in_review\)"):
        move(actors, incident, "closed", role="governance")
    postmortem.approve(actors.ctx("governance"), incident.key, ReviewIn(version=pm.version))
    move(actors, incident, "closed", role="governance")
    assert incident.status == "closed"


def test_low_and_medium_close_without_a_postmortem(actors, open_incident) -> None:
    incident = open_incident("MEDIUM")
    move(actors, incident, "resolved")
    move(actors, incident, "closed", role="governance")
    assert incident.status == "closed"


def test_the_author_cannot_approve_their_own_postmortem(actors, open_incident) -> None:
    incident = open_incident("CRITICAL")
    pm = postmortem.write(actors.ctx("governance"), incident.key, PostmortemWrite(**FULL))
    postmortem.submit(actors.ctx("governance"), incident.key, pm.version)
    with pytest.raises(PermissionDenied, match="separation of duties"):
        postmortem.approve(actors.ctx("governance"), incident.key, ReviewIn(version=pm.version))
    with pytest.raises(PermissionDenied, match="reviews:signoff"):
        postmortem.approve(actors.ctx("engineer"), incident.key, ReviewIn(version=pm.version))
    postmortem.approve(actors.ctx("approver"), incident.key, ReviewIn(version=pm.version))
    assert pm.status == "approved" and pm.approved_by_id == actors.users["approver"].id


def test_an_incomplete_postmortem_cannot_be_submitted_and_says_what_is_missing(actors, open_incident) -> None:
    incident = open_incident("HIGH")
    pm = postmortem.write(actors.ctx("engineer"), incident.key, PostmortemWrite(summary="short"))
    with pytest.raises(ValidationFailed, match="fill in: root_cause, impact_harm, detection, five_whys"):
        postmortem.submit(actors.ctx("engineer"), incident.key, pm.version)


def test_review_sends_back_with_a_note_and_only_drafts_change(actors, open_incident) -> None:
    incident = open_incident("HIGH")
    pm = postmortem.write(actors.ctx("engineer"), incident.key, PostmortemWrite(**FULL))
    postmortem.submit(actors.ctx("engineer"), incident.key, pm.version)
    with pytest.raises(Conflict, match="only a draft can change"):
        postmortem.write(actors.ctx("engineer"), incident.key, PostmortemWrite(version=pm.version, summary="x"))
    with pytest.raises(ValidationFailed, match="note is required"):
        postmortem.send_back(actors.ctx("approver"), incident.key, ReviewIn(version=pm.version))
    postmortem.send_back(actors.ctx("approver"), incident.key, ReviewIn(version=pm.version, note="add the timeline"))
    assert (pm.status, pm.review_note) == ("draft", "add the timeline")
    with pytest.raises(StaleVersion):
        postmortem.write(actors.ctx("engineer"), incident.key, PostmortemWrite(version=1, summary="x"))
    postmortem.write(actors.ctx("engineer"), incident.key, PostmortemWrite(version=pm.version, summary="better"))
    with pytest.raises(IllegalTransition, match="Allowed from 'draft': in_review"):
        postmortem.approve(actors.ctx("approver"), incident.key, ReviewIn(version=pm.version))
    actions = [e.action for e in ledger(actors.session, incident.key)]
    assert [a for a in actions if a.startswith("incident.postmortem.") and a != "incident.postmortem.updated"] == [
        "incident.postmortem.created",
        "incident.postmortem.in_review",
        "incident.postmortem.draft",
    ]


def test_durations_come_from_the_timeline(actors, open_incident, clock) -> None:
    incident = open_incident("HIGH", started_at=clock.now() - timedelta(minutes=10))
    clock.advance(minutes=4)
    service.acknowledge(actors.ctx("engineer"), incident.key)
    clock.advance(minutes=16)
    move(actors, incident, "mitigated")
    clock.advance(hours=1)
    move(actors, incident, "resolved")
    postmortem.write(actors.ctx("engineer"), incident.key, PostmortemWrite(**FULL))
    read = postmortem.read(actors.ctx("viewer"), incident.key)
    assert read.durations == {
        "time_to_detect": 600,
        "time_to_acknowledge": 240,
        "time_to_mitigate": 30 * 60,
        "time_to_resolve": 90 * 60,
    }


def test_action_items_close_the_loop_and_go_overdue(actors, open_incident, clock) -> None:
    incident = open_incident("CRITICAL")  # starts the critical playbook: its template exists to link to
    postmortem.write(actors.ctx("engineer"), incident.key, PostmortemWrite(**FULL))
    item = postmortem.add_action(
        actors.ctx("engineer"),
        incident.key,
        ActionCreate(
            title="Red-team every prompt change",
            owner="approver",
            due_date=date(2026, 1, 10),
            link_type="procedure",
            link_ref="incident-response-critical",
        ),
    )
    with pytest.raises(ValidationFailed, match="no risk with key 'RISK-9999'"):
        postmortem.add_action(
            actors.ctx("engineer"),
            incident.key,
            ActionCreate(
                title="x x x", owner="approver", due_date=date(2026, 2, 1), link_type="risk", link_ref="RISK-9999"
            ),
        )
    run_id = next(
        lk.ref for lk in queries.read_incident(actors.ctx(), incident.key).links if lk.kind == "procedure_run"
    )
    by_run = postmortem.add_action(
        actors.ctx("engineer"),
        incident.key,
        ActionCreate(
            title="Add shutdown drill to the runbook",
            owner="engineer",
            due_date=date(2026, 3, 1),
            link_type="procedure_run",
            link_ref=run_id,
        ),
    )
    assert by_run.link_ref == run_id
    with pytest.raises(ValidationFailed, match="no procedure run '99999'"):
        postmortem.add_action(
            actors.ctx("engineer"),
            incident.key,
            ActionCreate(
                title="x x x", owner="engineer", due_date=date(2026, 3, 1), link_type="procedure_run", link_ref="99999"
            ),
        )
    with pytest.raises(ValidationFailed, match="owner: no active user named 'ghost'"):
        postmortem.add_action(
            actors.ctx("engineer"), incident.key, ActionCreate(title="x x x", owner="ghost", due_date=date(2026, 2, 1))
        )
    assert metrics.overdue_actions(actors.ctx("viewer")) == []
    clock.advance(days=10)  # 2026-01-11
    [overdue] = metrics.overdue_actions(actors.ctx("viewer"))
    assert (overdue.id, overdue.owner, overdue.overdue) == (item.id, "approver", True)
    assert metrics.sweep_overdue_actions(automatic(actors.ctx())) == {"notified": [item.id]}
    assert metrics.sweep_overdue_actions(automatic(actors.ctx())) == {"notified": []}  # told once
    postmortem.update_action(actors.ctx("approver"), item.id, ActionUpdate(version=item.version, status="done"))
    assert item.completed_at == clock.now()
    assert metrics.overdue_actions(actors.ctx("viewer")) == []
    with pytest.raises(IllegalTransition):
        postmortem.update_action(actors.ctx("approver"), item.id, ActionUpdate(version=item.version, status="wont_do"))


def test_markdown_export_has_every_section(actors, open_incident) -> None:
    incident = open_incident("CRITICAL", harm_category="safety")
    approved_postmortem(actors, incident)
    postmortem.add_action(
        actors.ctx("engineer"),
        incident.key,
        ActionCreate(title="Gate prompt changes", owner="engineer", due_date=date(2026, 2, 1)),
    )
    text = postmortem_markdown(actors.ctx("viewer"), incident.key)
    assert text.startswith(f"# Postmortem: {incident.key} — Model generating harmful content\n")
    for heading in ("## Summary", "## Impact", "## Detection", "## Root cause", "### Five whys", "## What went well",
                    "## What went badly", "## Action items"):  # fmt: skip
        assert f"\n{heading}\n" in text
    assert "- **Status**: approved (approved by governance" in text
    assert "1. Filter bypassed\n2. Refusal clause missing" in text
    assert "| Time to detect | 0s |" in text
    assert "| Gate prompt changes | engineer | 2026-02-01 | open | — |" in text


def test_metrics_mtta_mttr_and_counts(actors, open_incident, clock, system) -> None:
    a = open_incident("CRITICAL")
    b = open_incident("LOW")
    clock.advance(minutes=10)
    service.acknowledge(actors.ctx("engineer"), a.key)
    clock.advance(minutes=20)
    service.acknowledge(actors.ctx("engineer"), b.key)
    move(actors, a, "resolved")
    c = open_incident("LOW")
    move(actors, c, "declined", reason="noise")
    m = metrics.compute(actors.ctx("viewer"))
    assert m.incidents == 2  # the declined one does not count
    assert m.mtta_seconds == (10 * 60 + 30 * 60) / 2 and m.mtta == "20m"
    assert m.mttr_seconds == 30 * 60
    assert m.by_system == {system.key: 2}
    assert m.by_severity == {"CRITICAL": 1, "LOW": 1}
    assert m.by_system_severity == {system.key: {"CRITICAL": 1, "LOW": 1}}
    assert m.open_by_severity == {"LOW": 1}
    assert metrics.compute(actors.ctx("viewer"), since=clock.now() + timedelta(days=1)).incidents == 0
