"""Release pages: submit, request a stage, read every gate rule before approving, decide, promote, roll back."""

from __future__ import annotations

from charter.inventory.schemas import SystemCreate
from charter.inventory.service import create_system

SHA_A = "a" * 64
SHA_B = "b" * 64


def _system(actors, session) -> None:  # type: ignore[no-untyped-def]
    create_system(
        actors.ctx("engineer"), SystemCreate(key="support-bot", name="Support Bot", deployment_type="embedded")
    )
    session.commit()


def _submit(client, sha: str = SHA_A, summary: str = "first model"):  # type: ignore[no-untyped-def]
    return client.submit(
        "/systems/support-bot/releases",
        {
            "summary": summary,
            "change_type": "new_model",
            "artifact-0-kind": "model",
            "artifact-0-name": "classifier",
            "artifact-0-uri": "s3://models/classifier",
            "artifact-0-sha256": sha,
        },
    )


def test_no_releases_yet_explains_what_a_release_is(browser_for, actors, session) -> None:
    _system(actors, session)
    page = browser_for("engineer").get("/systems/support-bot/releases").text
    assert "No releases yet." in page and "Submit a release" in page
    assert "Submit a release" not in browser_for("approver").get("/systems/support-bot/releases").text


def test_submit_shows_field_problems(browser_for, actors, session) -> None:
    _system(actors, session)
    r = _submit(browser_for("engineer"), sha="not-a-hash")
    assert r.status_code == 422
    assert "In row 1, SHA-256: paste the 64 hexadecimal characters of the file&#39;s SHA-256" in r.text
    assert "String should match pattern" not in r.text  # plain language, not the validator's text


def test_request_approve_promote_then_roll_back(browser_for, actors, session) -> None:
    _system(actors, session)
    eng = browser_for("engineer")
    r = _submit(eng)
    assert r.status_code == 303 and r.headers["location"] == "/systems/support-bot/releases/1"
    eng.submit("/systems/support-bot/releases/1/request", {"stage": "sandbox"})
    page = eng.get("/systems/support-bot/releases/1").text
    assert "Requested sandbox for release 1" in page
    assert "Review and decide" not in page  # the requester never decides

    approver = browser_for("approver")
    review = approver.get("/systems/support-bot/releases/1/approve?stage=sandbox").text
    assert "Gate rules for sandbox" in review and 'hx-trigger="load, submit"' in review
    gate = approver.submit(
        "/systems/support-bot/releases/1/gate", {"stage": "sandbox"}, headers={"HX-Request": "true"}
    ).text
    assert "not-prohibited" in gate and "has-artifacts" in gate and "Gate passes" in gate
    r = approver.submit("/systems/support-bot/releases/1/decide", {"stage": "sandbox", "decision": "approve"})
    assert "You approved release 1 for sandbox." in approver.get(r.headers["location"]).text

    r = eng.submit("/systems/support-bot/releases/1/promote", {"stage": "sandbox"})
    assert "Release 1 is deployed at sandbox" in eng.get(r.headers["location"]).text

    _submit(eng, SHA_B, "retrained")
    eng.submit("/systems/support-bot/releases/2/request", {"stage": "sandbox"})
    approver.submit("/systems/support-bot/releases/2/decide", {"stage": "sandbox", "decision": "approve"})
    eng.submit("/systems/support-bot/releases/2/promote", {"stage": "sandbox"})
    tab = eng.get("/systems/support-bot/releases").text
    assert "Stage timeline" in tab and "v1 → v2" in tab

    confirm = eng.submit("/systems/support-bot/rollback", {"stage": "sandbox"})
    assert confirm.status_code == 200 and "Roll back sandbox of support-bot?" in confirm.text
    assert "release 2" in eng.get("/systems/support-bot/releases").text.split("Deployed now")[1][:400]
    done = eng.submit(
        "/systems/support-bot/rollback", {"stage": "sandbox", "reason": "accuracy drop", "confirm": "yes"}
    )
    assert done.status_code == 303
    page = eng.get("/systems/support-bot/releases").text
    assert "Rolled back sandbox: release 1 runs there now." in page
    assert "accuracy drop" in page


def test_rejection_needs_a_comment(browser_for, actors, session) -> None:
    _system(actors, session)
    eng = browser_for("engineer")
    _submit(eng)
    eng.submit("/systems/support-bot/releases/1/request", {"stage": "sandbox"})
    approver = browser_for("approver")
    r = approver.submit("/systems/support-bot/releases/1/decide", {"stage": "sandbox", "decision": "reject"})
    page = approver.get(r.headers["location"]).text
    assert "a rejection needs a comment" in page.lower()


def test_engineer_cannot_approve_even_by_posting(browser_for, actors, session) -> None:
    _system(actors, session)
    eng = browser_for("engineer")
    _submit(eng)
    eng.submit("/systems/support-bot/releases/1/request", {"stage": "sandbox"})
    r = eng.submit("/systems/support-bot/releases/1/decide", {"stage": "sandbox", "decision": "approve"})
    assert r.status_code == 403


def test_gate_refusal_names_the_failing_rules(browser_for, actors, session) -> None:
    _system(actors, session)
    eng = browser_for("engineer")
    _submit(eng)
    eng.submit("/systems/support-bot/releases/1/request", {"stage": "pilot"})
    r = eng.submit("/systems/support-bot/releases/1/promote", {"stage": "pilot"})
    page = eng.get(r.headers["location"]).text
    assert "the gate to pilot refused release 1" in page.lower()


def test_releases_overview_lists_what_waits(browser_for, actors, session) -> None:
    _system(actors, session)
    eng = browser_for("engineer")
    _submit(eng)
    eng.submit("/systems/support-bot/releases/1/request", {"stage": "sandbox"})
    page = browser_for("approver").get("/releases").text
    assert "/systems/support-bot/releases/1/approve?stage=sandbox" in page
