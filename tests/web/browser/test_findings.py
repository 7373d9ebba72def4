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
