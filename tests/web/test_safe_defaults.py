"""Safe defaults (issue 13, findings 1 and 8): required choices start blank, forward moves are the default,
demotions are confirmed with a reason, incidents have no default severity, resolving asks what was done."""

from __future__ import annotations

import re

from charter.inventory.queries import get_system
from charter.inventory.schemas import SystemCreate, Transition
from charter.inventory.service import create_system, transition_system


def _selected(page: str, name: str) -> str | None:
    select = re.search(rf'<select id="f-{name}" name="{name}"[^>]*>(.*?)</select>', page, re.S)
    assert select, name
    chosen = re.search(r'<option value="([^"]*)" selected>', select.group(1))
    return chosen.group(1) if chosen else None


def _production_system(actors, session) -> None:  # type: ignore[no-untyped-def]
    ctx = actors.ctx("admin")
    create_system(ctx, SystemCreate(key="support-bot", name="Support Bot", deployment_type="embedded"))
    for version, stage in enumerate(("sandbox", "pilot", "production"), start=1):
        transition_system(ctx, "support-bot", Transition(to=stage, version=version, reason="ok"))
    session.commit()


def test_register_form_starts_with_no_tier_and_no_deployment_type(browser_for) -> None:
    page = browser_for("governance").get("/systems/new").text
    assert _selected(page, "risk_tier") in (None, "")
    assert '<option value="">— not classified yet —</option>' in page
    assert _selected(page, "deployment_type") in (None, "")
    assert "Seed 00" not in page


def test_submitting_the_tier_untouched_registers_an_unclassified_system(browser_for, session) -> None:
    gov = browser_for("governance")
    body = {"key": "chat-bot", "name": "Chat Bot", "deployment_type": "embedded", "risk_tier": ""}
    r = gov.submit("/systems", body)
    assert r.status_code == 303, r.text
    assert get_system(session, "chat-bot").risk_tier == "unclassified"


def test_production_system_offers_no_demotion_by_default(browser_for, actors, session) -> None:
    _production_system(actors, session)
    page = browser_for("admin").get("/systems/support-bot").text
    assert _selected(page, "to") == ""
    assert '<option value="pilot">Back to pilot (demotion)</option>' in page
    assert '<li class="done">Pilot' in page and 'aria-current="step"' in page


def test_a_demotion_is_confirmed_and_needs_a_reason(browser_for, actors, session) -> None:
    _production_system(actors, session)
    admin = browser_for("admin")
    r = admin.submit("/systems/support-bot/transition", {"to": "pilot", "version": "4"})
    assert r.status_code == 200 and "Move Support Bot back to pilot?" in r.text
    assert get_system(session, "support-bot").stage == "production"
    r = admin.submit("/systems/support-bot/transition", {"to": "pilot", "version": "4", "confirm": "yes"})
    assert "say why Support Bot moves back to pilot" in admin.get(r.headers["location"]).text
    session.expire_all()
    assert get_system(session, "support-bot").stage == "production"
    body = {"to": "pilot", "version": "4", "confirm": "yes", "reason": "accuracy below target"}
    assert admin.submit("/systems/support-bot/transition", body).status_code == 303
    session.expire_all()
    assert get_system(session, "support-bot").stage == "pilot"


def test_forward_move_is_the_default_and_needs_no_confirmation(browser_for, actors, session) -> None:
    create_system(
        actors.ctx("engineer"), SystemCreate(key="support-bot", name="Support Bot", deployment_type="embedded")
    )
    session.commit()
    eng = browser_for("engineer")
    assert _selected(eng.get("/systems/support-bot").text, "to") == "sandbox"
    assert eng.submit("/systems/support-bot/transition", {"to": "sandbox", "version": "1"}).status_code == 303


def test_new_incident_has_no_default_severity_and_says_so_when_missing(browser_for, actors, session) -> None:
    create_system(
        actors.ctx("engineer"), SystemCreate(key="support-bot", name="Support Bot", deployment_type="embedded")
    )
    session.commit()
    eng = browser_for("engineer")
    assert _selected(eng.get("/incidents/new").text, "severity") in (None, "")
    r = eng.submit("/incidents", {"system": "support-bot", "title": "Bot is rude"})
    assert r.status_code == 422
    assert '<p class="err" id="severity-err">Severity: choose one</p>' in r.text
    assert 'value="Bot is rude"' in r.text  # what was typed is kept
