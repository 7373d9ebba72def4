"""Inventory pages: list, register, edit, stage moves — and the refusals a role without permission meets."""

from __future__ import annotations

import re

from charter.inventory.schemas import SystemCreate
from charter.inventory.service import create_system

FORM = {
    "key": "loan-scorer",
    "name": "Loan Scorer",
    "deployment_type": "in_house_model",
    "description": "Scores loan applications.",
    "data_categories": ["personal", "financial"],
    "tags": "credit, ml",
    "users_affected": "5000",
}


def _system(actors, session, key: str = "support-bot", **extra) -> None:  # type: ignore[no-untyped-def]
    create_system(
        actors.ctx("engineer"),
        SystemCreate(key=key, name=extra.pop("name", "Support Bot"), deployment_type="embedded", **extra),
    )
    session.commit()


def test_empty_inventory_tells_an_engineer_how_to_start(browser_for) -> None:
    page = browser_for("engineer").get("/systems")
    assert "No AI systems registered yet." in page.text
    assert 'href="/systems/new"' in page.text


def test_viewer_sees_no_register_action(browser_for) -> None:
    page = browser_for("viewer").get("/systems")
    assert "No AI systems registered yet." in page.text
    assert 'href="/systems/new"' not in page.text


def test_engineer_registers_a_system_and_sees_it(browser_for) -> None:
    client = browser_for("engineer")
    r = client.submit("/systems", FORM)
    assert r.status_code == 303 and r.headers["location"] == "/systems/loan-scorer"
    page = client.get("/systems/loan-scorer")
    assert "Registered &#39;Loan Scorer&#39; in stage proposed." in page.text
    assert "Scores loan applications." in page.text
    assert "5,000" in page.text
    assert client.get("/systems").text.count("/systems/loan-scorer") == 1


def test_register_form_shows_each_problem_beside_the_field_and_keeps_the_input(browser_for) -> None:
    client = browser_for("engineer")
    r = client.submit("/systems", FORM | {"key": "Bad Key!"})
    assert r.status_code == 422
    assert 'id="key-err"' in r.text and 'aria-invalid="true"' in r.text
    assert "Key: use 3 to 64 lowercase letters, digits and dashes" in r.text  # plain language (finding 2)
    assert 'value="Loan Scorer"' in r.text and 'value="financial" checked' in r.text  # input kept
    r = client.submit("/systems", FORM | {"deployment_type": "vendor_api"})
    assert r.status_code == 422
    assert "Vendor: name the vendor: it is required for vendor APIs and vendor SaaS" in r.text
    assert 'id="vendor_name-err"' in r.text  # beside the field it is about


def test_duplicate_key_is_reported_on_the_form(browser_for, actors, session) -> None:
    _system(actors, session, "loan-scorer")
    r = browser_for("engineer").submit("/systems", FORM)
    assert r.status_code == 409
    assert "already exists" in r.text


def test_viewer_posting_the_register_form_directly_gets_403(browser_for) -> None:
    client = browser_for("viewer")
    r = client.submit("/systems", FORM)
    assert r.status_code == 403
    assert "may not register and edit AI systems" in r.text
    assert browser_for("viewer").get("/systems/new").status_code == 403


def test_engineer_cannot_classify_but_governance_can(browser_for) -> None:
    tiered = FORM | {"risk_tier": "high", "risk_tier_reason": "credit scoring (Annex III)"}
    eng = browser_for("engineer")
    assert 'name="risk_tier"' not in eng.get("/systems/new").text
    assert eng.submit("/systems", tiered).status_code == 403
    gov = browser_for("governance")
    assert gov.submit("/systems", tiered).status_code == 303
    assert "credit scoring (Annex III)" in gov.get("/systems/loan-scorer").text


def test_filters_narrow_the_list_and_htmx_gets_only_the_table(browser_for, actors, session) -> None:
    _system(actors, session, "support-bot", tags=["genai"])
    _system(actors, session, "fraud-model", name="Fraud Model", tags=["ml"])
    client = browser_for("viewer")
    page = client.get("/systems?tag=ml")
    assert "/systems/fraud-model" in page.text and "/systems/support-bot" not in page.text
    part = client.get("/systems?q=support", headers={"HX-Request": "true", "HX-Target": "systems-table"})
    assert part.text.lstrip().startswith('<div id="systems-table"')
    assert "<html" not in part.text
    assert "/systems/support-bot" in part.text and "/systems/fraud-model" not in part.text
    assert "No system matches these filters." in client.get("/systems?stage=retired").text


def test_edit_changes_only_what_was_changed_and_records_the_reason(browser_for, actors, session) -> None:
    _system(actors, session)
    client = browser_for("engineer")
    form = client.get("/systems/support-bot/edit").text
    version = re.search(r'name="version" value="(\d+)"', form).group(1)  # type: ignore[union-attr]
    r = client.submit(
        "/systems/support-bot/edit",
        {"version": version, "name": "Support Bot v2", "deployment_type": "embedded", "reason": "rename"},
    )
    assert r.status_code == 303
    assert "Support Bot v2" in client.get("/systems/support-bot").text
    ledger = browser_for("auditor").get("/systems/support-bot/ledger").text
    assert "system.updated" in ledger and "rename" in ledger


def test_stale_edit_is_refused_with_the_current_version(browser_for, actors, session) -> None:
    _system(actors, session)
    client = browser_for("engineer")
    r = client.submit("/systems/support-bot/edit", {"version": "99", "name": "Other", "deployment_type": "embedded"})
    assert r.status_code == 409
    assert "the current version is 1" in r.text


def test_stage_move_and_illegal_move_messages(browser_for, actors, session) -> None:
    _system(actors, session)
    client = browser_for("engineer")
    r = client.submit("/systems/support-bot/transition", {"to": "sandbox", "version": "1", "reason": "try it"})
    assert r.status_code == 303
    assert "moved to stage sandbox" in client.get("/systems/support-bot").text
    r = client.submit("/systems/support-bot/transition", {"to": "production", "version": "2"})
    page = client.get(r.headers["location"])
    assert "cannot move from &#39;sandbox&#39; to &#39;production&#39;" in page.text


def test_retiring_asks_for_confirmation_first(browser_for, actors, session) -> None:
    _system(actors, session)
    client = browser_for("engineer")
    r = client.submit("/systems/support-bot/transition", {"to": "retired", "version": "1"})
    assert r.status_code == 200
    assert "Retiring is final" in r.text and 'name="confirm" value="yes"' in r.text
    assert "Proposed" in client.get("/systems/support-bot").text  # nothing changed yet
    r = client.submit("/systems/support-bot/transition", {"to": "retired", "version": "1", "confirm": "yes"})
    assert r.status_code == 303
    assert "This system is retired" in client.get("/systems/support-bot").text


def test_viewer_sees_no_stage_form_and_is_refused_when_posting(browser_for, actors, session) -> None:
    _system(actors, session)
    client = browser_for("viewer")
    assert "Move stage" not in client.get("/systems/support-bot").text
    r = client.submit("/systems/support-bot/transition", {"to": "sandbox", "version": "1"})
    assert r.status_code == 403


def test_unknown_system_is_a_404_page(browser_for) -> None:
    r = browser_for("viewer").get("/systems/nope-nope")
    assert r.status_code == 404
    assert "no AI system with key &#39;nope-nope&#39;" in r.text


def test_user_text_is_escaped(browser_for, actors, session) -> None:
    _system(actors, session, name="<script>alert(1)</script>")
    page = browser_for("viewer").get("/systems").text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
