"""Prompt pages: the list, one prompt with its labels and label history (linking the release), a version, and a
side-by-side diff with word changes marked."""

from __future__ import annotations

from typing import Any

from charter.inventory.schemas import SystemCreate
from charter.inventory.service import create_system
from charter.prompts import service
from charter.prompts.schemas import LabelMove, VersionCreate


def _prompts(actors: Any, session: Any) -> None:
    create_system(
        actors.ctx("engineer"), SystemCreate(key="support-bot", name="Support Bot", deployment_type="embedded")
    )
    ctx = actors.ctx("engineer")
    service.create_version(ctx, "support-bot", VersionCreate(name="greeting", template="Hello {{ name }}, welcome."))
    service.create_version(
        ctx,
        "support-bot",
        VersionCreate(name="greeting", template="Hi {{ name }}, welcome.\nAsk away.", message="warmer"),
    )
    service.move_label(ctx, "support-bot", "greeting", "staging", LabelMove(version=2, reason="try it"))
    session.commit()


def test_the_prompt_list_shows_labels(browser_for: Any, actors: Any, session: Any) -> None:
    _prompts(actors, session)
    page = browser_for("viewer").get("/systems/support-bot/prompts").text
    assert "greeting" in page and "staging → v2" in page and "Protected labels" in page
    overview = browser_for("viewer").get("/prompts").text
    assert "/systems/support-bot/prompts/greeting" in overview


def test_a_prompt_shows_versions_labels_and_history(browser_for: Any, actors: Any, session: Any) -> None:
    _prompts(actors, session)
    page = browser_for("auditor").get("/systems/support-bot/prompts/greeting").text
    assert "v1" in page and "v2" in page and "warmer" in page
    assert "(direct) by user:engineer" in page and "try it" in page


def test_a_version_page_gives_the_release_artifact(browser_for: Any, actors: Any, session: Any) -> None:
    _prompts(actors, session)
    page = browser_for("engineer").get("/systems/support-bot/prompts/greeting/versions/2").text
    assert "greeting@2" in page and "uri=prompt:greeting@2,sha256=" in page and "Hi {{ name }}" in page


def test_the_diff_is_side_by_side_with_word_changes(browser_for: Any, actors: Any, session: Any) -> None:
    _prompts(actors, session)
    page = browser_for("engineer").get("/systems/support-bot/prompts/greeting/diff?from=1&to=2").text
    assert "<del>Hello</del>" in page and "<ins>Hi</ins>" in page
    assert "<ins>Ask away.</ins>" in page


def test_an_unknown_prompt_is_a_404_page(browser_for: Any, actors: Any, session: Any) -> None:
    _prompts(actors, session)
    r = browser_for("engineer").get("/systems/support-bot/prompts/nope")
    assert r.status_code == 404 and "no prompt named" in r.text
