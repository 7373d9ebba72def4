"""Compliance console: the coverage dashboard, the gap list, a requirement page, the pack download."""

from __future__ import annotations

from charter.ledger.pack import verify_pack
from tests.compliance.helpers import setup_acme


def test_dashboard_gaps_requirement_and_pack(browser_for, actors, session) -> None:  # type: ignore[no-untyped-def]
    setup_acme(actors.ctx("admin"))
    session.commit()
    auditor = browser_for("auditor")
    index = auditor.get("/compliance")
    assert index.status_code == 200 and 'href="/compliance/chatbot/acme-ai-policy"' in index.text
    page = auditor.get("/compliance/chatbot/acme-ai-policy").text
    assert "ACME AI policy" in page and "none of its 1 controls is in place" in page
    assert "no Charter control is mapped to it" in page
    gaps = auditor.get("/compliance/chatbot/acme-ai-policy?gaps=true").text
    assert "Gaps: partly met or missing" in gaps and "P1.3" in gaps
    req = auditor.get("/compliance/chatbot/acme-ai-policy/requirement?id=P1.2").text
    assert "gate:to-production/not-prohibited" in req and "enforced at the production gate" in req
    pack = auditor.get("/compliance/chatbot/acme-ai-policy/pack")
    assert pack.status_code == 200 and verify_pack(pack.content).ok
    missing = auditor.get("/compliance/chatbot/eu-act")
    assert missing.status_code == 404 and "unknown framework &#39;eu-act&#39;" in missing.text
