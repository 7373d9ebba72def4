"""Review pages: start the ethical review, answer an item with an evidence upload, download it back."""

from __future__ import annotations

import re

from charter.inventory.schemas import SystemCreate
from charter.inventory.service import create_system


def _system(actors, session) -> None:  # type: ignore[no-untyped-def]
    create_system(
        actors.ctx("engineer"), SystemCreate(key="support-bot", name="Support Bot", deployment_type="embedded")
    )
    session.commit()


def _start(client) -> str:  # type: ignore[no-untyped-def]
    r = client.submit("/systems/support-bot/reviews", {"template": "ethical-review"})
    assert r.status_code == 303, r.text
    return r.headers["location"]


def test_empty_reviews_explain_what_to_do(browser_for, actors, session) -> None:
    _system(actors, session)
    page = browser_for("engineer").get("/systems/support-bot/reviews").text
    assert "No reviews yet." in page and "Start review" in page
    assert "Start review" not in browser_for("viewer").get("/systems/support-bot/reviews").text


def test_answer_an_item_with_evidence_upload_and_download_it(browser_for, actors, session) -> None:
    _system(actors, session)
    eng = browser_for("engineer")
    url = _start(eng)
    page = eng.get(url).text
    assert "Has the system been tested for bias across protected groups?" in page
    version = re.search(r'action="[^"]*/items/bias-tested".*?name="version" value="(\d+)"', page, re.S).group(1)  # type: ignore[union-attr]
    r = eng.post(
        f"{url}/items/bias-tested",
        data={"csrf_token": eng.csrf, "version": version, "status": "pass", "response": "Tested on 6 groups."},
        files={"file": ("bias-report.txt", b"demographic parity 0.97\n", "text/plain")},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    page = eng.get(url).text
    assert "Saved the answer to bias-tested." in page
    assert "Tested on 6 groups." in page and "bias-report.txt" in page
    link = re.search(r'href="(/evidence/\d+/download)"', page).group(1)  # type: ignore[union-attr]
    download = browser_for("viewer").get(link)
    assert download.status_code == 200 and download.content == b"demographic parity 0.97\n"
    assert "attachment" in download.headers["content-disposition"]


def test_not_applicable_without_justification_is_refused(browser_for, actors, session) -> None:
    _system(actors, session)
    eng = browser_for("engineer")
    url = _start(eng)
    page = eng.get(url).text
    version = re.search(r'action="[^"]*/items/bias-tested".*?name="version" value="(\d+)"', page, re.S).group(1)  # type: ignore[union-attr]
    r = eng.submit(f"{url}/items/bias-tested", {"version": version, "status": "not_applicable"})
    assert "justification" in eng.get(r.headers["location"]).text.lower()


def test_viewer_cannot_answer(browser_for, actors, session) -> None:
    _system(actors, session)
    url = _start(browser_for("engineer"))
    viewer = browser_for("viewer")
    assert "Save answer" not in viewer.get(url).text
    assert viewer.submit(f"{url}/items/bias-tested", {"version": "1", "status": "pass"}).status_code == 403
