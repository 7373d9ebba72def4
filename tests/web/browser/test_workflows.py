"""Each console workflow, done entirely in Chromium against the live, seeded server."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from tests.web.browser.conftest import axe_violations

pytestmark = pytest.mark.browser


def alerts(page) -> str:  # type: ignore[no-untyped-def]
    return str(page.inner_text("#alerts"))


def test_add_and_assess_a_risk_with_the_picker_then_accept_it(new_page) -> None:
    page = new_page("engineer")
    page.goto("/systems/support-chatbot/risks")
    page.get_by_role("link", name="Identify a risk").click()
    page.get_by_label("AI system (required)").select_option("support-chatbot")
    page.get_by_label("Title (required)").fill("Answers in the wrong language")
    page.get_by_label("Category (required)").select_option("reputational")
    page.locator("label[for='inherent-3-4']").click()  # likelihood 3, impact 4 on the 5x5 picker
    page.get_by_role("button", name="Identify risk").click()
    assert re.search(r"Risk RISK-\d{4} identified and assessed \w+ \(score 12\)", alerts(page))
    key = page.url.rsplit("/", 1)[1]
    page.locator("label[for='residual-2-2']").click()
    page.get_by_role("button", name="Save assessment").click()
    assert "Assessed" in alerts(page)
    page.get_by_label("Move to").select_option("treating")
    page.get_by_role("button", name="Move", exact=True).click()
    assert "is now treating" in alerts(page)

    until = (date.today() + timedelta(days=180)).isoformat()
    gov = new_page("governance")
    gov.goto(f"/risks/{key}")
    gov.get_by_label("Justification (required)").fill("Low residual; monitored weekly by support leads.")
    gov.get_by_label("Acceptance expires on (required)").fill(until)
    gov.get_by_role("button", name="Accept risk…").click()
    assert gov.get_by_role("heading", name=f"Accept the residual risk of {key}?").is_visible()
    gov.get_by_role("button", name="Yes, accept this risk").click()
    assert f"Risk {key} accepted until {until}." in alerts(gov)


def test_heat_map_toggles_between_inherent_and_residual_without_reload(new_page) -> None:
    page = new_page("viewer")
    page.goto("/risks")
    page.evaluate("window.__marker = 1")
    page.locator("#heatmap").get_by_role("link", name="Residual").click()
    page.locator("#heatmap caption", has_text="Residual risk").wait_for()
    assert page.evaluate("window.__marker") == 1  # swapped by htmx, not a new page


def test_answer_a_review_item_with_evidence_upload(new_page, tmp_path) -> None:
    report = tmp_path / "bias-report.txt"
    report.write_text("demographic parity 0.97 across 6 groups\n")
    page = new_page("engineer")
    page.goto("/systems/claims-triage/reviews")
    page.get_by_role("link", name="Ethical review").first.click()
    item = page.locator("#item-bias-tested")
    item.get_by_text("Pass", exact=True).click()
    item.get_by_label("Response").fill("Tested on six protected groups.")
    item.get_by_label("Evidence file").set_input_files(str(report))
    item.get_by_role("button", name="Save answer").click()
    assert "Saved the answer to bias-tested." in alerts(page)
    assert page.locator("#item-bias-tested").get_by_role("link", name="bias-report.txt").is_visible()


def test_request_approve_with_gate_rules_promote_and_roll_back(new_page) -> None:
    approver = new_page("approver")
    approver.goto("/releases")
    approver.get_by_role("link", name="Review", exact=True).first.click()
    rules = approver.locator("ul.rules")
    rules.wait_for()  # evaluated on load (htmx), every rule with its reason
    assert "has-artifacts" in rules.inner_text() and "not-prohibited" in rules.inner_text()
    assert axe_violations_ok(new_page, approver.url)
    approver.get_by_label("Comment").fill("Escalation path verified.")
    approver.get_by_role("button", name="Approve for sandbox").click()
    assert "You approved release" in alerts(approver)
    url = approver.url

    eng = new_page("engineer")
    eng.goto(url)
    eng.get_by_role("button", name="Promote to sandbox").click()
    assert "is deployed at sandbox; the gate passed" in alerts(eng)
    eng.goto("/systems/support-chatbot/releases")
    eng.get_by_label("Stage", exact=True).select_option("sandbox")
    eng.get_by_role("button", name="Roll back…").click()
    assert eng.get_by_role("heading", name="Roll back sandbox of support-chatbot?").is_visible()
    eng.get_by_label("Reason (required, kept in the ledger)").fill("Legal escalation misroutes VIP customers")
    eng.get_by_role("button", name="Yes, roll back sandbox").click()
    assert "Rolled back sandbox: release 2 runs there now." in alerts(eng)
    assert "Legal escalation misroutes VIP customers" in eng.locator("ol.timeline").inner_text()


def axe_violations_ok(new_page, url: str) -> bool:  # type: ignore[no-untyped-def]
    page = new_page("approver", bypass_csp=True)
    page.goto(url)
    found = axe_violations(page)
    assert found == [], found
    return True


def test_open_acknowledge_update_resolve_an_incident_and_its_postmortem(new_page) -> None:
    page = new_page("engineer")
    page.goto("/incidents")
    page.get_by_role("link", name="Open an incident").click()
    page.get_by_label("AI system (required)").select_option("claims-triage")
    page.get_by_label("What is happening (required)").fill("Claims auto-rejected for one region")
    page.get_by_label("Severity (required)").select_option("HIGH")
    page.get_by_role("button", name="Open incident").click()
    assert "opened; the on-call is paged" in alerts(page)
    key = page.url.rsplit("/", 1)[1]
    page.get_by_role("button", name="Acknowledge").click()
    assert f"You acknowledged {key}." in alerts(page)
    page.get_by_label("Post an update").fill("Region rule disabled; re-running rejected claims.")
    page.get_by_role("button", name="Post update").click()
    assert "Region rule disabled" in page.locator("ol.timeline").inner_text()
    page.get_by_label("Move to").select_option("resolved")
    page.get_by_role("button", name="Change status").click()
    assert f"Reason: say why you resolve {key}" in alerts(page)  # resolving asks what was done (finding 8)
    page.get_by_label("Move to").select_option("resolved")
    page.get_by_label("Reason").fill("Region rule disabled and rejected claims re-run.")
    page.get_by_role("button", name="Change status").click()
    assert f"{key} is now resolved." in alerts(page)

    page.get_by_role("link", name="open the postmortem").click()
    page.get_by_label("Summary (required)").fill("A regional rule rejected valid claims for 2 hours.")
    page.get_by_label("Harm caused (required)").fill("41 claims delayed.")
    page.get_by_label("How it was detected (required)").fill("Complaint spike in the call centre.")
    page.get_by_label("Root cause (required)").fill("Rule deployed without a canary.")
    page.get_by_label("Five whys (required)").fill("Why rejected? The rule matched.\nWhy shipped? No canary.")
    page.get_by_role("button", name="Save and submit for review").click()
    assert "Postmortem submitted for review." in alerts(page)

    approver = new_page("approver")
    approver.goto(page.url)
    approver.get_by_role("button", name="Approve postmortem").click()
    assert "Postmortem approved." in alerts(approver)


def test_verify_the_ledger_and_download_the_export(new_page) -> None:
    page = new_page("auditor")
    page.goto("/ledger")
    page.get_by_role("button", name="Verify ledger").click()
    result = page.locator("#verify-result")
    result.get_by_text("The ledger verifies.").wait_for()
    assert "entries and" in result.inner_text()
    with page.expect_download() as info:
        page.get_by_role("link", name="Download export (JSON Lines)").click()
    path = info.value.path()
    with open(path, encoding="utf-8") as exported:
        assert exported.readline().startswith("{")


@pytest.mark.parametrize(
    "path",
    [
        "/risks",
        "/releases",
        "/incidents",
        "/monitoring",
        "/reviews",
        "/systems/support-chatbot/metrics",
        "/systems/support-chatbot/releases",
    ],
)
def test_area_pages_have_no_serious_accessibility_violations(new_page, path: str) -> None:
    page = new_page("governance", bypass_csp=True)
    page.goto(path)
    assert axe_violations(page) == []
