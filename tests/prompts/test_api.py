"""The prompt registry over HTTP: versions, diff, labels, serving with ETag, and every bad input refused whole."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.prompts.conftest import BASE, create

PROBLEM = "application/problem+json"


def test_versions_are_numbered_hashed_and_unchanged_content_creates_none(eng: TestClient) -> None:
    first = create(eng, "greeting", "Hello {{ name }}!", message="first")
    assert (first["version"], first["name_at_version"], first["created"]) == (1, "greeting@1", True)
    assert first["hash"].startswith("sha256:") and first["sha256"] == first["hash"][7:]
    assert first["variables"] == ["name"] and first["author"] == "engineer"
    again = eng.post(f"{BASE}/prompts", json={"name": "greeting", "template": "Hello {{ name }}!"})
    assert again.status_code == 200 and again.json()["created"] is False and again.json()["version"] == 1
    second = create(eng, "greeting", "Hi {{ name }}, how can I help with {{ product }}?", message="warmer")
    assert second["version"] == 2
    versions = eng.get(f"{BASE}/prompts/greeting/versions").json()
    assert [v["version"] for v in versions] == [2, 1]
    assert eng.get(f"{BASE}/prompts/greeting/versions/latest").json()["version"] == 2


def test_diff_shows_words_variables_and_config(eng: TestClient) -> None:
    create(eng, "greeting", "Hello {{ name }}!", config={"model": "gpt-4o", "temperature": 0.2})
    create(eng, "greeting", "Hi {{ name }} from {{ product }}!", config={"model": "gpt-4o", "temperature": 0.5})
    d = eng.get(f"{BASE}/prompts/greeting/diff", params={"from": "1", "to": "2"}).json()
    assert d["variables"] == {"added": ["product"], "removed": []}
    assert d["config"] == [{"key": "temperature", "change": "changed", "old": 0.2, "new": 0.5}]
    assert "[-Hello-]{+Hi+}" in d["text"] and "-Hello {{ name }}!" in d["template"]["unified"]


def test_unprotected_label_moves_and_is_served_with_etag_and_304(eng: TestClient) -> None:
    create(eng, "greeting", "Hello {{ name }}!")
    create(eng, "greeting", "Hi {{ name }}!")
    r = eng.put(f"{BASE}/prompts/greeting/labels/staging", json={"version": 1, "reason": "try it"})
    assert r.status_code == 200, r.text
    assert (r.json()["from_version"], r.json()["to_version"], r.json()["kind"]) == (None, 1, "direct")
    served = eng.get(f"{BASE}/prompts/greeting", params={"label": "staging"})
    assert served.status_code == 200
    assert served.json()["name_at_version"] == "greeting@1" and served.json()["template"] == "Hello {{ name }}!"
    etag = served.headers["etag"]
    assert (
        eng.get(f"{BASE}/prompts/greeting", params={"label": "staging"}, headers={"If-None-Match": etag}).status_code
        == 304
    )
    eng.put(f"{BASE}/prompts/greeting/labels/staging", json={"version": 2, "current": 1})
    moved = eng.get(f"{BASE}/prompts/greeting", params={"label": "staging"}, headers={"If-None-Match": etag})
    assert moved.status_code == 200 and moved.json()["version"] == 2 and moved.headers["etag"] != etag
    history = eng.get(f"{BASE}/prompts/greeting/history").json()
    assert [(h["from_version"], h["to_version"]) for h in history] == [(1, 2), (None, 1)]


def test_a_stale_label_move_is_a_409_naming_the_current_version(eng: TestClient) -> None:
    create(eng, "greeting", "Hello {{ name }}!")
    create(eng, "greeting", "Hi {{ name }}!")
    eng.put(f"{BASE}/prompts/greeting/labels/staging", json={"version": 2})
    r = eng.put(f"{BASE}/prompts/greeting/labels/staging", json={"version": 1, "current": 0})
    assert r.status_code == 409 and r.json()["current_version"] == 2


def test_a_stale_base_version_is_refused(eng: TestClient) -> None:
    create(eng, "greeting", "Hello {{ name }}!")
    create(eng, "greeting", "Hi {{ name }}!", base_version=1)
    r = eng.post(f"{BASE}/prompts", json={"name": "greeting", "template": "Hey {{ name }}", "base_version": 1})
    assert r.status_code == 409 and r.json()["current_version"] == 2
    assert len(eng.get(f"{BASE}/prompts/greeting/versions").json()) == 2


def test_protected_label_moves_only_through_a_release(eng: TestClient) -> None:
    v1 = create(eng, "greeting", "Hello {{ name }}!")
    r = eng.put(f"{BASE}/prompts/greeting/labels/production", json={"version": 1})
    assert r.status_code == 409 and r.headers["content-type"] == PROBLEM
    body = r.json()
    assert "protected" in body["detail"] and "release" in body["detail"]
    assert body["artifact"] == {
        "kind": "prompt",
        "name": "greeting",
        "uri": "prompt:greeting@1",
        "sha256": v1["sha256"],
    }
    assert eng.get(f"{BASE}/prompts/greeting/labels").json() == []
    assert eng.get(f"{BASE}/prompts/greeting/history").json() == []


def test_template_syntax_error_names_line_and_column_and_stores_nothing(eng: TestClient) -> None:
    r = eng.post(f"{BASE}/prompts", json={"name": "broken", "template": "Hello\n{{ name }\n"})
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    body = r.json()
    assert (body["line"], body["column"]) == (2, 9)
    assert body["detail"].startswith("template: line 2, column 9:")
    assert eng.get(f"{BASE}/prompts").json() == []


def test_code_in_a_template_is_refused(eng: TestClient) -> None:
    r = eng.post(f"{BASE}/prompts", json={"name": "evil", "template": "{{ ''.__class__ }}"})
    assert r.status_code == 422 and "not allowed" in r.json()["detail"]


def test_an_include_cycle_is_refused_naming_the_loop(eng: TestClient) -> None:
    create(eng, "a", "A then {% include 'b@latest' %}")
    r = eng.post(f"{BASE}/prompts", json={"name": "b", "template": "B then {% include 'a@latest' %}"})
    assert r.status_code == 422, r.text
    assert "include cycle" in r.json()["detail"] and r.json()["chain"][0] == "b@1"
    assert eng.get(f"{BASE}/prompts/b/versions").status_code == 404


def test_includes_are_resolved_at_serve_time(eng: TestClient) -> None:
    create(eng, "tone", "Be kind.")
    create(eng, "greeting", "Hello {{ name }}. {% include 'tone@latest' %}")
    served = eng.get(f"{BASE}/prompts/greeting", params={"label": "latest"}).json()
    assert served["template"] == "Hello {{ name }}. Be kind."
    assert [i["name_at_version"] for i in served["includes"]] == ["tone@1"]


def test_render_names_missing_and_unknown_variables(eng: TestClient) -> None:
    create(eng, "greeting", "Hello {{ name }} from {{ product }}!")
    ok = eng.post(
        f"{BASE}/prompts/greeting/render", json={"label": "latest", "variables": {"name": "Ada", "product": "X"}}
    )
    assert ok.json()["output"] == "Hello Ada from X!"
    missing = eng.post(f"{BASE}/prompts/greeting/render", json={"label": "latest", "variables": {"name": "Ada"}})
    assert missing.status_code == 422 and missing.json()["missing"] == ["product"]
    unknown = eng.post(
        f"{BASE}/prompts/greeting/render",
        json={"label": "latest", "strict": True, "variables": {"name": "A", "product": "X", "colour": "red"}},
    )
    assert unknown.status_code == 422 and unknown.json()["unknown"] == ["colour"]


def test_bad_config_and_bad_names_are_422(eng: TestClient) -> None:
    r = eng.post(f"{BASE}/prompts", json={"name": "g", "template": "x", "config": {"temperature": 7}})
    assert r.status_code == 422 and "config.temperature" in r.json()["detail"]
    r = eng.post(f"{BASE}/prompts", json={"name": "bad name", "template": "x"})
    assert r.status_code == 422 and "not valid" in r.json()["detail"]
    r = eng.put(f"{BASE}/prompts/g/labels/latest", json={"version": 1})
    assert r.status_code in (404, 422)
    assert eng.get(f"{BASE}/prompts").json() == []


def test_unknown_prompt_label_and_version_are_404s_saying_what_exists(eng: TestClient) -> None:
    create(eng, "greeting", "Hello")
    r = eng.get(f"{BASE}/prompts/greeting", params={"label": "production"})
    assert r.status_code == 404 and "no label 'production'" in r.json()["detail"]
    assert eng.get(f"{BASE}/prompts/greeting", params={"version": 9}).status_code == 404
    assert eng.get(f"{BASE}/prompts/nope").status_code == 404


def test_viewers_read_but_cannot_write(client_for: Any, eng: TestClient) -> None:
    create(eng, "greeting", "Hello")
    viewer = client_for("viewer")
    assert viewer.get(f"{BASE}/prompts").status_code == 200
    assert viewer.post(f"{BASE}/prompts", json={"name": "x", "template": "y"}).status_code == 403
    assert eng.put(f"{BASE}/prompt-settings", json={"protected_labels": ["production", "staging"]}).status_code == 403
    gov = client_for("governance")
    r = gov.put(f"{BASE}/prompt-settings", json={"protected_labels": ["production", "staging"]})
    assert r.status_code == 200 and r.json()["protected_labels"] == ["production", "staging"]
    assert eng.put(f"{BASE}/prompts/greeting/labels/staging", json={"version": 1}).status_code == 409


def test_push_is_idempotent_and_a_bad_file_stores_nothing(eng: TestClient) -> None:
    files: list[dict[str, Any]] = [
        {"name": "greeting", "path": "greeting.prompt.md", "type": "text", "template": "Hello {{ name }}"},
        {"name": "support/faq", "path": "support/faq.prompt.md", "type": "text", "template": "FAQ"},
    ]
    first = eng.post(f"{BASE}/prompt-push", json={"files": files}).json()
    assert first["counts"] == {"new": 2, "changed": 0, "unchanged": 0}
    assert sorted(first["created"]) == ["greeting@1", "support/faq@1"]
    again = eng.post(f"{BASE}/prompt-push", json={"files": files}).json()
    assert again["counts"] == {"new": 0, "changed": 0, "unchanged": 2} and again["created"] == []
    assert eng.get(f"{BASE}/prompts/support/faq/versions").json()[0]["version"] == 1
    bad = [{**files[0], "template": "Hello again"}, {**files[1], "template": "{% if %}"}]
    r = eng.post(f"{BASE}/prompt-push", json={"files": bad})
    assert r.status_code == 422 and r.json()["detail"].startswith("support/faq.prompt.md")
    assert len(eng.get(f"{BASE}/prompts/greeting/versions").json()) == 1


def test_langfuse_import_and_export_round_trip(eng: TestClient) -> None:
    document = [
        {"name": "qa", "version": 1, "type": "text", "prompt": "Answer {{question}}", "labels": ["staging"]},
        {"name": "qa", "version": 2, "type": "text", "prompt": "Answer {{question}} briefly", "labels": ["production"]},
    ]
    r = eng.post(f"{BASE}/prompt-import", json={"format": "langfuse", "document": document})
    assert r.status_code == 200, r.text
    assert r.json()["created"] == ["qa@1", "qa@2"] and r.json()["skipped_protected"] == ["qa@production"]
    exported = eng.get(f"{BASE}/prompt-export", params={"format": "langfuse"}).json()
    assert [(e["version"], e["prompt"], e["labels"]) for e in exported] == [
        (1, "Answer {{question}}", ["staging"]),
        (2, "Answer {{question}} briefly", []),
    ]
