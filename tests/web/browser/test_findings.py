"""Issue 13's numbered findings, each checked in Chromium at a phone (390 px) and a desktop (1440 px) width,
with axe-core on the page the finding is about."""

from __future__ import annotations

import pytest

from tests.web.browser.conftest import axe_violations

pytestmark = pytest.mark.browser

WIDTHS = (390, 1440)


def _page(new_page, role: str, width: int):  # type: ignore[no-untyped-def]
    return new_page(role, viewport={"width": width, "height": 900}, bypass_csp=True)  # CSP bypass: axe only


def _no_sideways_scroll(page) -> None:  # type: ignore[no-untyped-def]
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{page.url} scrolls sideways by {overflow}px"


@pytest.mark.parametrize("width", WIDTHS)
def test_7_governance_morning_view_answers_what_is_out_of_policy(new_page, width: int) -> None:
    page = _page(new_page, "governance", width)
    page.goto("/")
    assert page.get_by_role("heading", name="Governance overview", level=1).is_visible()
    posture = page.locator("section", has=page.get_by_role("heading", name="Out of policy"))
    todo = posture.get_by_role("link").first
    assert todo.is_visible()
    href = todo.get_attribute("href")
    todo.click()  # every finding links to where it is fixed
    page.wait_for_url(f"**{href}")
    page.go_back()
    since = page.locator("section", has=page.get_by_role("heading", name="Since your last visit"))
    assert "alert_rule" not in since.inner_text()  # rule bookkeeping is not news
    trend = page.locator("section", has=page.get_by_role("heading", name="Is it getting worse?"))
    assert trend.get_by_role("rowheader", name="Incidents opened").is_visible()
    _no_sideways_scroll(page)
    assert axe_violations(page) == []


@pytest.mark.parametrize("width", WIDTHS)
def test_7_each_role_starts_on_its_own_question(new_page, width: int) -> None:
    for role, heading, first in (
        ("approver", "Your decisions", "Waiting for me"),
        ("engineer", "Your systems", "Systems you own"),
        ("auditor", "Audit trail", "The ledger"),
    ):
        page = _page(new_page, role, width)
        page.goto("/")
        assert page.get_by_role("heading", name=heading, level=1).is_visible()
        assert page.get_by_role("heading", name=first).is_visible()
        _no_sideways_scroll(page)
        assert axe_violations(page) == [], role


@pytest.mark.parametrize("width", WIDTHS)
def test_1_register_form_does_not_preselect_a_tier(new_page, width: int) -> None:
    page = _page(new_page, "governance", width)
    page.goto("/systems/new")
    assert page.get_by_label("Tier", exact=True).input_value() == ""  # "— not classified yet —", not Prohibited
    assert page.get_by_label("Deployment type (required)").input_value() == ""
    _no_sideways_scroll(page)
    assert axe_violations(page) == []


@pytest.mark.parametrize("width", WIDTHS)
def test_8_a_production_system_is_not_demoted_by_default(new_page, width: int) -> None:
    page = _page(new_page, "governance", width)
    page.goto("/systems/support-chatbot")
    move = page.get_by_label("Move to stage")
    assert move.input_value() == ""  # production has no forward move: nothing is preselected
    move.select_option("pilot")
    page.get_by_role("button", name="Move stage").click()
    assert page.get_by_role("heading", name="Move Customer Support Chatbot back to pilot?").is_visible()
    assert page.get_by_label("Reason (required, kept in the ledger)").is_visible()
    _no_sideways_scroll(page)
    page.get_by_role("link", name="Cancel").click()
    assert "Production (current)" in page.locator("ol.stages").inner_text()


@pytest.mark.parametrize("width", WIDTHS)
def test_2_errors_are_written_for_people_and_keep_what_was_typed(new_page, width: int) -> None:
    page = _page(new_page, "engineer", width)
    page.goto("/systems/new")
    page.get_by_label("Key (required)").fill("Support Bot!")
    page.get_by_label("Name (required)").fill("Support Bot")
    page.get_by_label("Deployment type (required)").select_option("vendor_api")
    page.get_by_role("button", name="Register").click()
    errors = page.get_by_role("alert").inner_text()
    assert "Key: use 3 to 64 lowercase letters, digits and dashes" in errors
    assert "String should" not in errors and "Value error" not in errors
    assert page.get_by_label("Name (required)").input_value() == "Support Bot"  # kept
    assert page.get_by_label("Key (required)").get_attribute("aria-invalid") == "true"
    _no_sideways_scroll(page)
    assert axe_violations(page) == []


@pytest.mark.parametrize("width", WIDTHS)
def test_5_navigation_collapses_on_a_phone_and_the_picker_fits(new_page, width: int) -> None:
    page = _page(new_page, "engineer", width)
    page.goto("/risks/new")
    nav = page.get_by_role("navigation", name="Main")
    menu = page.get_by_role("button", name="Menu")
    if width < 720:
        assert not nav.is_visible() and menu.get_attribute("aria-expanded") == "false"
        menu.click()
        assert nav.is_visible() and menu.get_attribute("aria-expanded") == "true"
    else:
        assert nav.is_visible() and not menu.is_visible()
    picker = page.locator("table.picker").first.bounding_box()
    assert picker is not None and picker["x"] + picker["width"] <= width
    _no_sideways_scroll(page)
    assert axe_violations(page) == []
