"""Approval notifications: the people who may decide hear of a request, the requester hears the decision."""

from __future__ import annotations

from typing import Any

from charter.notifications.inbox import inbox
from tests.releases.conftest import CHATBOT, approve_procedure, submit


def _inbox(actors: Any, role: str, event_type: str) -> list[Any]:
    return [n for n in inbox(actors.ctx(role)) if n.event_type == event_type]


def test_approvers_hear_a_release_request_and_the_requester_hears_the_decision(
    client_for, actors, system, settings
) -> None:
    submit(actors)  # requested by the engineer
    engineer, approver = client_for("engineer"), client_for("approver")
    base = f"/api/v1/systems/{CHATBOT}/releases/1"
    r = engineer.post(f"{base}/requests", json={"stage": "pilot", "reason": "ready for users"})
    assert r.status_code == 201, r.text
    for role in ("approver", "governance", "admin"):  # every role with releases:approve
        [note] = _inbox(actors, role, "approval.requested")
        assert note.subject == "Customer Support Chatbot: release 1 awaits approval for pilot"
        assert note.payload["url"] == f"{settings.base_url}/systems/{CHATBOT}/releases/1/approve"
        assert "ready for users" in note.body
    assert _inbox(actors, "engineer", "approval.requested") == []  # the requester is not asked
    assert _inbox(actors, "viewer", "approval.requested") == []

    r = approver.post(f"{base}/approvals", json={"stage": "pilot", "decision": "reject", "comment": "no eval yet"})
    assert r.status_code == 201, r.text
    [decided] = _inbox(actors, "engineer", "approval.decided")
    assert decided.subject == "Customer Support Chatbot: release 1 rejected for pilot by approver"
    assert decided.payload["status"] == "rejected" and decided.payload["by"] == "approver"
    assert decided.body.startswith("no eval yet")
    assert _inbox(actors, "approver", "approval.decided") == []


def test_signers_hear_a_submitted_review_and_its_starter_hears_the_sign_off(actors, system) -> None:
    run_id = approve_procedure(actors, "ethical-review", "system", system.id)
    asked = _inbox(actors, "governance", "approval.requested")
    assert [n.payload["run"] for n in asked] == [run_id]
    assert "awaits sign-off" in asked[0].subject
    assert _inbox(actors, "engineer", "approval.requested") == []  # the submitter is not asked
    [decided] = _inbox(actors, "engineer", "approval.decided")
    assert decided.payload["run"] == run_id and decided.payload["decision"] == "approved"
