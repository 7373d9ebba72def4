"""Ledger page (filters, verify button, export download), users page, and the dashboard."""

from __future__ import annotations

import json

from charter.inventory.schemas import SystemCreate
from charter.inventory.service import create_system


def _system(actors, session, key: str = "support-bot") -> None:  # type: ignore[no-untyped-def]
    create_system(actors.ctx("engineer"), SystemCreate(key=key, name=key.title(), deployment_type="embedded"))
    session.commit()


def test_ledger_lists_and_filters_entries(browser_for, actors, session) -> None:
    _system(actors, session, "support-bot")
    _system(actors, session, "fraud-model")
    auditor = browser_for("auditor")
    page = auditor.get("/ledger").text
    assert "system.registered" in page and "fraud-model" in page
    part = auditor.get(
        "/ledger?entity_id=fraud-model", headers={"HX-Request": "true", "HX-Target": "ledger-table"}
    ).text
    assert part.lstrip().startswith('<div id="ledger-table"') and "support-bot" not in part
    bad = auditor.get("/ledger?since=yesterday")
    assert bad.status_code == 422 and "is not a date or time" in bad.text


def test_verify_button_reports_an_unbroken_chain(browser_for, actors, session) -> None:
    _system(actors, session)
    auditor = browser_for("auditor")
    assert "Verify ledger" in auditor.get("/ledger").text
    result = auditor.submit("/ledger/verify", headers={"HX-Request": "true"})
    assert result.status_code == 200
    assert "The ledger verifies." in result.text and "<html" not in result.text


def test_export_downloads_json_lines(browser_for, actors, session) -> None:
    _system(actors, session)
    r = browser_for("auditor").get("/ledger/export")
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    lines = [json.loads(line) for line in r.text.splitlines() if line.strip()]
    assert len(lines) >= 2


def test_viewer_has_no_ledger_and_engineer_cannot_verify(browser_for) -> None:
    assert browser_for("viewer").get("/ledger").status_code == 403
    eng = browser_for("engineer")
    assert "Verify ledger" not in eng.get("/ledger").text
    assert eng.submit("/ledger/verify").status_code == 403
    assert eng.get("/ledger/export").status_code == 403


def test_admin_creates_disables_and_reenables_a_user(browser_for) -> None:
    admin = browser_for("admin")
    r = admin.submit(
        "/users", {"username": "newbie", "display_name": "New Person", "role": "viewer", "password": "long enough pass"}
    )
    assert r.status_code == 303, r.text
    page = admin.get("/users").text
    assert "Created user &#39;newbie&#39; with role viewer." in page
    import re

    version = re.search(r'action="/users/newbie".*?name="version" value="(\d+)"', page, re.S).group(1)  # type: ignore[union-attr]
    admin.submit("/users/newbie", {"version": version, "action": "disable"})
    assert "their sessions and tokens stop working now" in admin.get("/users").text


def test_short_password_is_refused_beside_the_field(browser_for) -> None:
    r = browser_for("admin").submit("/users", {"username": "newbie", "role": "viewer", "password": "short"})
    assert r.status_code == 422 and 'id="password-err"' in r.text


def test_auditor_reads_users_but_cannot_manage(browser_for) -> None:
    auditor = browser_for("auditor")
    page = auditor.get("/users").text
    assert "Create a user" not in page and "Change role" not in page
    assert (
        auditor.submit("/users", {"username": "x1", "role": "viewer", "password": "long enough pass"}).status_code
        == 403
    )


def test_dashboard_shows_the_areas_and_what_waits(browser_for, actors, session) -> None:
    _system(actors, session)
    gov = browser_for("governance")
    page = gov.get("/").text
    for heading in ("Waiting for me", "Open incidents", "Risk heat map", "Systems by stage and EU AI Act tier"):
        assert heading in page
    assert "Nothing waits for you." in page


def test_new_installation_dashboard_invites_registration(browser_for) -> None:
    page = browser_for("engineer").get("/").text
    assert "Welcome to Charter." in page and 'href="/systems/new"' in page
