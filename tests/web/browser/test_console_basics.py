"""Sign-in, navigation, refusals, CSRF, CSP, accessibility and layout, in Chromium."""

from __future__ import annotations

import re

import pytest

from tests.web.browser.conftest import axe_violations, sign_in

pytestmark = pytest.mark.browser


def test_sign_in_wrong_then_right_then_sign_out(new_page) -> None:
    page = new_page()
    page.goto("/systems")
    assert "/login?next=%2Fsystems" in page.url
    sign_in_page = page
    sign_in_page.get_by_label("Username").fill("engineer")
    sign_in_page.get_by_label("Password").fill("wrong password!")
    sign_in_page.get_by_role("button", name="Sign in").click()
    assert "Unknown user or wrong password" in page.get_by_role("alert").inner_text()
    sign_in(page, "engineer")
    assert page.url.endswith("/systems")  # back where they wanted to go
    assert page.get_by_role("heading", name="AI systems").is_visible()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/login$"))
    assert "You are signed out." in page.inner_text("#alerts")
    page.goto("/")
    assert "/login" in page.url


def test_navigation_shows_only_what_the_role_may_open(new_page) -> None:
    viewer = new_page("viewer")
    viewer.goto("/")
    nav = viewer.get_by_role("navigation", name="Main")
    assert nav.get_by_role("link", name="Systems").is_visible()
    assert nav.get_by_role("link", name="Ledger").count() == 0  # viewers may not read the ledger
    assert nav.get_by_role("link", name="Users").count() == 0
    auditor = new_page("auditor")
    auditor.goto("/")
    assert auditor.get_by_role("navigation", name="Main").get_by_role("link", name="Ledger").is_visible()


def test_register_a_system_in_the_browser(new_page) -> None:
    page = new_page("engineer")
    page.goto("/systems")
    page.get_by_role("link", name="Register a system").click()
    page.get_by_label("Key (required)").fill("browser-made")
    page.get_by_label("Name (required)").fill("Made in the Browser")
    page.get_by_label("Deployment type (required)").select_option("embedded")
    page.get_by_label("Personal").check()
    page.get_by_label("Tags").fill("demo, browser")
    page.get_by_role("button", name="Register").click()
    page.wait_for_url("**/systems/browser-made")
    assert "Registered 'Made in the Browser' in stage proposed." in page.inner_text("#alerts")
    page.get_by_label("Move to stage").select_option("sandbox")
    page.get_by_label("Reason (kept in the ledger)").fill("first experiments")
    page.get_by_role("button", name="Move stage").click()
    assert "moved to stage sandbox" in page.inner_text("#alerts")


def test_viewer_has_no_register_button_and_a_forged_post_is_refused(new_page) -> None:
    page = new_page("viewer")
    page.goto("/systems")
    assert page.get_by_role("link", name="Register a system").count() == 0
    token = page.get_attribute('meta[name="csrf-token"]', "content")
    r = page.request.post(
        "/systems",
        form={"csrf_token": token or "", "key": "forged-one", "name": "Forged", "deployment_type": "embedded"},
    )
    assert r.status == 403
    assert "may not register and edit AI systems" in r.text()


def test_post_without_csrf_token_is_refused(new_page) -> None:
    page = new_page("engineer")
    r = page.request.post("/systems", form={"key": "no-token", "name": "No token", "deployment_type": "embedded"})
    assert r.status == 403
    assert "security token is missing" in r.text()


def test_htmx_filters_work_under_the_content_security_policy(new_page) -> None:
    page = new_page("viewer")
    page.goto("/systems")
    with page.expect_response(lambda r: "/systems?" in r.url and r.request.headers.get("hx-request") == "true"):
        page.get_by_label("Risk tier").select_option("high")
    table = page.locator("#systems-table")
    table.get_by_role("link", name="Insurance Claims Triage").wait_for()
    assert table.get_by_role("link", name="Customer Support Chatbot").count() == 0
    assert "risk_tier=high" in page.url  # hx-push-url keeps the filter in the address
    assert page.console_errors == []  # no CSP violation, no failed asset


@pytest.mark.parametrize("path", ["/", "/systems", "/systems/support-chatbot", "/systems/new", "/ledger", "/users"])
def test_pages_have_no_serious_accessibility_violations(new_page, path: str) -> None:
    page = new_page("admin", bypass_csp=True)  # only to inject axe-core; the app's CSP is tested above
    page.goto(path)
    assert axe_violations(page) == []


def test_login_page_is_accessible(new_page) -> None:
    page = new_page(bypass_csp=True)
    page.goto("/login")
    assert axe_violations(page) == []


def test_layout_fits_a_laptop_and_200_percent_zoom(new_page) -> None:
    for width in (1280, 640):  # 640 CSS px is a 1280 px screen at 200% zoom
        page = new_page("admin", viewport={"width": width, "height": 800})
        for path in ("/", "/systems", "/systems/support-chatbot"):
            page.goto(path)
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{path} scrolls sideways by {overflow}px at {width}px"


def test_keyboard_user_can_skip_to_content(new_page) -> None:
    page = new_page("viewer")
    page.goto("/systems")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent")
    assert focused == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
