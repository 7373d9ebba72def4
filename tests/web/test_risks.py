"""Risk pages: identify with the picker, heat map toggle, assess, mitigate, accept with confirmation."""

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


def test_empty_register_invites_the_first_risk(browser_for) -> None:
    page = browser_for("engineer").get("/risks")
    assert "The risk register is empty." in page.text and 'href="/risks/new"' in page.text
    assert 'href="/risks/new"' not in browser_for("viewer").get("/risks").text


def test_identify_with_the_picker_then_see_it_on_the_heat_map(browser_for, actors, session) -> None:
    _system(actors, session)
    client = browser_for("engineer")
    form = client.get("/risks/new?system=support-bot").text
    assert 'name="inherent" value="4:5"' in form  # a 5x5 grid of radios
    r = client.submit(
        "/risks",
        {"system": "support-bot", "title": "Leaks personal data", "category": "privacy", "inherent": "4:5"},
    )
    assert r.status_code == 303, r.text
    page = client.get(r.headers["location"]).text
    assert "Risk RISK-0001 identified and assessed HIGH (score 20)." in page
    heat = client.get("/risks/heatmap?view=inherent", headers={"HX-Request": "true"}).text
    assert heat.startswith('<div id="heatmap"') and "1 risk scored" in heat
    residual = client.get("/risks/heatmap?view=residual", headers={"HX-Request": "true"}).text
    assert "Residual risk" in residual and "0 risks scored" in residual


def test_identify_without_title_shows_the_problem_and_keeps_the_pick(browser_for, actors, session) -> None:
    _system(actors, session)
    r = browser_for("engineer").submit("/risks", {"system": "support-bot", "category": "privacy", "inherent": "2:3"})
    assert r.status_code == 422
    assert 'id="title-err"' in r.text
    assert 'value="2:3" checked' in r.text


def test_forged_cell_is_refused_with_the_allowed_values(browser_for, actors, session) -> None:
    _system(actors, session)
    r = browser_for("engineer").submit(
        "/risks", {"system": "support-bot", "title": "X", "category": "privacy", "inherent": "9:9"}
    )
    assert r.status_code == 422
    assert "not on the" in r.text


def test_full_treatment_then_governance_accepts_after_confirming(browser_for, actors, session) -> None:
    _system(actors, session)
    eng = browser_for("engineer")
    eng.submit("/risks", {"system": "support-bot", "title": "Bias", "category": "fairness", "inherent": "4:4"})
    page = eng.get("/risks/RISK-0001").text
    r = eng.submit("/risks/RISK-0001/assess", {"version": _version(page), "inherent": "4:4", "residual": "3:3"})
    assert r.status_code == 303, r.text
    page = eng.get("/risks/RISK-0001").text
    assert "Assessed" in page
    eng.submit("/risks/RISK-0001/transition", {"version": _version(page), "to": "treating"})
    eng.submit("/risks/RISK-0001/mitigations", {"description": "Add a bias test suite"})
    page = eng.get("/risks/RISK-0001").text
    assert "Mitigation M1 added." in page
    assert "Accept risk" not in page  # engineers may not accept
    gov = browser_for("governance")
    page = gov.get("/risks/RISK-0001").text
    body = {
        "version": _version(page),
        "justification": "Residual is low enough for a pilot with monitoring",
        "expires_at": "2026-06-30",
    }
    confirm = gov.submit("/risks/RISK-0001/accept", body)
    assert confirm.status_code == 200 and "Accept the residual risk of RISK-0001?" in confirm.text
    assert "treating" in gov.get("/risks/RISK-0001").text  # not accepted yet
    done = gov.submit("/risks/RISK-0001/accept", body | {"confirm": "yes"})
    assert done.status_code == 303
    page = gov.get("/risks/RISK-0001").text
    assert "accepted until 2026-06-30" in page and "by governance" in page


def test_short_justification_is_refused_with_the_rule(browser_for, actors, session) -> None:
    _system(actors, session)
    eng = browser_for("engineer")
    eng.submit("/risks", {"system": "support-bot", "title": "Bias", "category": "fairness", "inherent": "4:4"})
    page = eng.get("/risks/RISK-0001").text
    eng.submit("/risks/RISK-0001/assess", {"version": _version(page), "inherent": "4:4", "residual": "2:2"})
    eng.submit("/risks/RISK-0001/transition", {"version": _version(eng.get("/risks/RISK-0001").text), "to": "treating"})
    gov = browser_for("governance")
    v = _version(gov.get("/risks/RISK-0001").text)
    r = gov.submit(
        "/risks/RISK-0001/accept", {"version": v, "justification": "ok", "expires_at": "2026-03-01", "confirm": "yes"}
    )
    assert r.status_code == 422
    assert "at least 20 characters" in r.text


def test_viewer_cannot_identify_risks(browser_for, actors, session) -> None:
    _system(actors, session)
    viewer = browser_for("viewer")
    assert viewer.get("/risks/new").status_code == 403
    r = viewer.submit("/risks", {"system": "support-bot", "title": "X", "category": "privacy"})
    assert r.status_code == 403


def test_system_page_has_a_risks_tab(browser_for, actors, session) -> None:
    _system(actors, session)
    page = browser_for("viewer").get("/systems/support-bot/risks")
    assert page.status_code == 200
    assert 'aria-current="page">Risks</a>' in page.text
