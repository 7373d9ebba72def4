"""Each role's home page answers its first question (issue 13, finding 7)."""

from __future__ import annotations

import re
from datetime import timedelta

from charter.inventory.schemas import SystemCreate
from charter.inventory.service import create_system


def _system(actors, session, key: str = "support-bot", name: str = "Support Bot") -> None:  # type: ignore[no-untyped-def]
    create_system(actors.ctx("engineer"), SystemCreate(key=key, name=name, deployment_type="embedded"))
    session.commit()


def _high_risk(client) -> None:  # type: ignore[no-untyped-def]
    body = {"system": "support-bot", "title": "Leaks personal data", "category": "privacy", "inherent": "4:5"}
    assert client.submit("/risks", body).status_code == 303


def test_governance_home_lists_what_is_out_of_policy_with_links(browser_for, actors, session) -> None:
    _system(actors, session)
    _high_risk(browser_for("engineer"))
    page = browser_for("governance").get("/").text
    assert "<h1>Governance overview</h1>" in page
    posture = page[page.index('id="posture-h"') : page.index('id="since-h"')]
    assert '<a href="/systems/support-bot/edit">Support Bot has no EU AI Act risk tier</a>' in posture
    assert "1 high or critical risk has no treatment yet" in posture
    assert "Nothing is out of policy" not in posture


def test_governance_home_says_when_nothing_is_out_of_policy(browser_for) -> None:
    page = browser_for("governance").get("/").text
    assert "Nothing is out of policy" in page


def test_changes_since_the_last_visit_are_grouped_and_leave_out_bookkeeping(
    browser_for, actors, session, clock
) -> None:
    gov = browser_for("governance")  # a first visit: its session is the previous visit from now on
    clock.advance(timedelta(hours=3))
    _system(actors, session)
    _system(actors, session, "triage", "Claims Triage")
    page = browser_for("governance").get("/").text
    since = page[page.index('id="since-h"') : page.index('id="trend-h"')]
    assert re.search(r"<strong>2</strong> systems registered", since)
    assert "alert_rule" not in since and "policy" not in since
    assert gov.get("/").status_code == 200


def test_trends_count_the_last_30_and_90_days(browser_for, actors, session) -> None:
    _system(actors, session)
    _high_risk(browser_for("engineer"))
    page = browser_for("governance").get("/").text
    row = re.search(r"Risks identified</a></th><td class=\"num\">(\d+)</td><td class=\"num\">(\d+)</td>", page)
    assert row and row.groups() == ("1", "1")
    assert re.search(r"href=\"/risks\?open=1&amp;level=HIGH\">1 High</a>", page)


def test_engineer_home_shows_the_systems_they_own(browser_for, actors, session) -> None:
    _system(actors, session)
    page = browser_for("engineer").get("/").text
    assert "<h1>Your systems</h1>" in page
    assert '<a href="/systems/support-bot">Support Bot</a>' in page
    assert "Out of policy" not in page


def test_auditor_home_shows_the_ledger_state(browser_for, actors, session) -> None:
    _system(actors, session)
    page = browser_for("auditor").get("/").text
    assert "<h1>Audit trail</h1>" in page
    assert re.search(r"<strong>\d+</strong> entries, each chained", page)
    assert "No signed checkpoint yet" in page or "Last signed checkpoint" in page
    assert 'href="/ledger/export"' in page


def test_approver_home_leads_with_their_decisions(browser_for) -> None:
    page = browser_for("approver").get("/").text
    assert "<h1>Your decisions</h1>" in page
    assert page.index("Waiting for me") < page.index("Risk heat map")


def test_no_seed_numbers_in_the_heat_map(browser_for, actors, session) -> None:
    _system(actors, session)
    _high_risk(browser_for("engineer"))
    page = browser_for("governance").get("/").text
    assert "Inherent risk — Risk assessment matrix" in page and "Seed 0" not in page
