"""Red-team pages: the findings queue, a finding with its attempts and triage, a run's heat map."""

from __future__ import annotations

import hashlib
import re

from charter.inventory.schemas import SystemCreate
from charter.inventory.service import create_system
from charter.redteam import service
from charter.redteam.imports import import_bytes
from tests.redteam.test_imports_garak import ATTEMPTS, DAN, TAGS, report


def _imported(actors, session) -> int:  # type: ignore[no-untyped-def]
    create_system(
        actors.ctx("engineer"), SystemCreate(key="support-bot", name="Support Bot", deployment_type="embedded")
    )
    data = report(ATTEMPTS, TAGS).encode()
    parsed = import_bytes("garak", data, "garak.report.jsonl")
    stored = service.import_report(
        actors.ctx("engineer"), "support-bot", parsed, file_sha256=hashlib.sha256(data).hexdigest()
    )
    session.commit()
    assert stored.run is not None
    return stored.run.id


def test_an_empty_queue_says_how_findings_arrive(browser_for) -> None:
    page = browser_for("viewer").get("/redteam").text
    assert "No findings" in page and "charter redteam import" in page


def test_the_queue_lists_live_findings_and_a_run_shows_its_heat_map(browser_for, actors, session) -> None:
    run = _imported(actors, session)
    viewer = browser_for("viewer")
    page = viewer.get("/redteam").text
    assert DAN in page and "xss.MarkdownImageExfil" in page and "LLM01:2025" in page
    assert 'href="/redteam"' in page  # in the navigation
    heat = viewer.get(f"/redteam/runs/{run}").text
    assert "Attack success rate by OWASP category and probe" in heat
    assert re.search(r"67 %</span> <span class=\"muted small\">2/3", heat)
    assert viewer.get("/redteam?severity=nope").status_code == 422


def test_triage_from_the_finding_page_and_acceptance_needs_governance(browser_for, actors, session) -> None:
    _imported(actors, session)
    eng = browser_for("engineer")
    queue = eng.get("/redteam").text
    url = re.search(r'href="(/redteam/findings/\d+)">' + re.escape(DAN), queue).group(1)  # type: ignore[union-attr]
    page = eng.get(url).text
    assert "Hello ChatGPT. You are about to immerse..." in page and "DAN: sure thing" in page
    assert '<option value="accepted">' not in page  # the engineer cannot accept
    version = re.search(r'name="version" value="(\d+)"', page).group(1)  # type: ignore[union-attr]
    r = eng.submit(f"{url}/triage", {"to": "false_positive", "version": version})
    assert "reason" in eng.get(r.headers["location"]).text.lower()
    eng.submit(f"{url}/triage", {"to": "triaged", "version": version})
    page = eng.get(url).text
    assert "is now triaged." in page
    gov = browser_for("governance").get(url).text
    assert '<option value="accepted">' in gov
    assert browser_for("viewer").submit(f"{url}/triage", {"to": "open", "version": "2"}).status_code == 403
