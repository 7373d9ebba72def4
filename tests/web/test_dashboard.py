"""The dashboard: what waits for each person, the health of the fleet, and the overdue counters."""

from __future__ import annotations

from charter.inventory.schemas import SystemCreate
from charter.inventory.service import create_system
from charter.procedures.service import start_run
from tests.web.test_monitoring import _system_with_metrics


def _system(actors, session) -> int:  # type: ignore[no-untyped-def]
    system = create_system(
        actors.ctx("engineer"), SystemCreate(key="support-bot", name="Support Bot", deployment_type="embedded")
    )
    session.commit()
    return system.id


def _release_requested_for_sandbox(eng) -> None:  # type: ignore[no-untyped-def]
    r = eng.submit(
        "/systems/support-bot/releases",
        {
            "summary": "first model",
            "change_type": "new_model",
            "artifact-0-kind": "model",
            "artifact-0-name": "classifier",
            "artifact-0-uri": "s3://models/classifier",
            "artifact-0-sha256": "a" * 64,
        },
    )
    assert r.status_code == 303, r.text
    assert eng.submit("/systems/support-bot/releases/1/request", {"stage": "sandbox"}).status_code == 303


def _postmortem_in_review_with_an_action_item(eng) -> str:  # type: ignore[no-untyped-def]
    r = eng.submit("/incidents", {"system": "support-bot", "title": "Chatbot gives medical advice", "severity": "HIGH"})
    assert r.status_code == 303, r.text
    pm_url = r.headers["location"] + "/postmortem"
    body = {
        "summary": "The bot answered dosage questions.",
        "impact_harm": "Possible unsafe advice to 12 users.",
        "detection": "A nurse reported it.",
        "root_cause": "No medical-intent filter in the new prompt.",
        "five_whys": "Why did it answer?\nThe prompt allowed it.",
        "went_well": "Fast rollback",
        "action": "submit",
    }
    assert eng.submit(pm_url, body).status_code == 303
    action = {"title": "Add a medical-intent filter", "owner": "engineer", "due_date": "2026-02-01"}
    assert eng.submit(pm_url.replace("/postmortem", "/actions"), action).status_code == 303
    return pm_url


def test_each_person_sees_what_waits_for_them(browser_for, actors, session) -> None:
    system_id = _system(actors, session)
    eng = browser_for("engineer")
    _release_requested_for_sandbox(eng)
    pm_url = _postmortem_in_review_with_an_action_item(eng)
    run = start_run(
        actors.ctx("engineer"), "ethical-review", "system", system_id, assignee_id=actors.users["engineer"].id
    )
    session.commit()

    approver = browser_for("approver").get("/").text
    assert 'href="/systems/support-bot/releases/1/approve?stage=sandbox"' in approver
    assert "support-bot v1 for sandbox: first model" in approver
    assert f'href="{pm_url}"' in approver and "Approve postmortem" in approver

    mine = eng.get("/").text
    assert "Approve release" not in mine and "Approve postmortem" not in mine  # nobody approves their own
    assert "Add a medical-intent filter" in mine and "Action item" in mine
    assert f'href="/reviews/{run.id}#item-' in mine and "Answer review item" in mine
    assert '<span class="n">0</span><span class="t">overdue incident action items</span>' in mine


def test_fleet_health_and_firing_alerts_are_counted(browser_for, actors, session, clock) -> None:
    _system_with_metrics(actors, session, clock)
    page = browser_for("governance").get("/").text
    assert '<span class="n">1</span><span class="t">critical</span>' in page
    assert '<span class="n">1</span><span class="t">alerts firing</span>' in page
    assert 'href="/systems/support-bot/metrics">support-bot</a>' in page
