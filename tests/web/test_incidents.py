"""Incident pages: open, acknowledge, post an update, resolve; write, submit and approve the postmortem."""

from __future__ import annotations

import re

from charter.inventory.schemas import SystemCreate
from charter.inventory.service import create_system


def _system(actors, session) -> None:  # type: ignore[no-untyped-def]
    create_system(
        actors.ctx("engineer"), SystemCreate(key="support-bot", name="Support Bot", deployment_type="embedded")
    )
    session.commit()


def _version(page: str) -> str:
    return re.search(r'name="version" value="(\d+)"', page).group(1)  # type: ignore[union-attr]


def _open(client):  # type: ignore[no-untyped-def]
    r = client.submit(
        "/incidents",
        {
            "system": "support-bot",
            "title": "Chatbot gives medical advice",
            "severity": "HIGH",
            "harm_category": "safety",
        },
    )
    assert r.status_code == 303, r.text
    return r.headers["location"]


def test_no_incidents_is_a_good_empty_state(browser_for) -> None:
    page = browser_for("engineer").get("/incidents").text
    assert "No incidents. Good." in page and 'href="/incidents/new"' in page
    assert 'href="/incidents/new"' not in browser_for("viewer").get("/incidents").text


def test_open_form_reports_problems(browser_for, actors, session) -> None:
    _system(actors, session)
    r = browser_for("engineer").submit("/incidents", {"system": "support-bot", "title": "x", "severity": "HIGH"})
    assert r.status_code == 422 and 'id="title-err"' in r.text


def test_open_acknowledge_update_resolve(browser_for, actors, session) -> None:
    _system(actors, session)
    eng = browser_for("engineer")
    url = _open(eng)
    page = eng.get(url).text
    key = url.rsplit("/", 1)[1]
    assert f"Incident {key} opened; the on-call is paged." in page
    assert "Acknowledge</button>" in page
    key = url.rsplit("/", 1)[1]
    eng.submit(f"{url}/ack")
    page = eng.get(url).text
    assert f"You acknowledged {key}." in page and "Acknowledge</button>" not in page
    eng.submit(f"{url}/updates", {"body": "Disabled the medical intent; watching."})
    page = eng.get(url).text
    assert "Disabled the medical intent; watching." in page
    eng.submit(f"{url}/transition", {"to": "resolved", "version": _version(page)})
    page = eng.get(url).text
    assert f"Reason: say why you resolve {key}" in page  # resolving asks what was done
    eng.submit(f"{url}/transition", {"to": "resolved", "version": _version(page), "reason": "filter deployed"})
    page = eng.get(url).text
    assert f"{key} is now resolved." in page
    assert "open incident" not in page.lower().split("<main")[1][:200]


def test_viewer_can_read_but_not_handle(browser_for, actors, session) -> None:
    _system(actors, session)
    url = _open(browser_for("engineer"))
    viewer = browser_for("viewer")
    page = viewer.get(url).text
    assert "Acknowledge</button>" not in page and "Change status" not in page
    assert viewer.submit(f"{url}/ack").status_code == 403


def test_postmortem_written_submitted_and_approved_by_someone_else(browser_for, actors, session) -> None:
    _system(actors, session)
    eng = browser_for("engineer")
    url = _open(eng)
    pm_url = f"{url}/postmortem"
    assert "Write the postmortem" in eng.get(pm_url).text
    incomplete = eng.submit(pm_url, {"summary": "The bot answered dosage questions.", "action": "submit"})
    assert incomplete.status_code == 422 and "not complete" in incomplete.text
    body = {
        "summary": "The bot answered dosage questions.",
        "impact_harm": "Possible unsafe advice to 12 users.",
        "detection": "A nurse reported it.",
        "root_cause": "No medical-intent filter in the new prompt.",
        "five_whys": "Why did it answer?\nThe prompt allowed it.",
        "went_well": "Fast rollback",
    }
    r = eng.submit(pm_url, body | {"action": "submit"})
    assert r.status_code == 303, r.text
    page = eng.get(pm_url).text
    assert "Postmortem submitted for review." in page and "Approve postmortem" not in page  # author cannot approve
    eng.submit(
        f"{url}/actions", {"title": "Add a medical-intent filter", "owner": "engineer", "due_date": "2026-02-01"}
    )
    assert "Add a medical-intent filter" in eng.get(pm_url).text
    approver = browser_for("approver")
    page = approver.get(pm_url).text
    assert "Approve postmortem" in page
    approver.submit(f"{pm_url}/review", {"version": _version(page.split('id="rv-h"')[1]), "decision": "approve"})
    assert "Postmortem approved." in approver.get(pm_url).text


def test_system_page_lists_its_incidents(browser_for, actors, session) -> None:
    _system(actors, session)
    url = _open(browser_for("engineer"))
    page = browser_for("viewer").get("/systems/support-bot/incidents").text
    assert url in page
