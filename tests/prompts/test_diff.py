"""Diff between versions: lines and words, chat messages, variables, config; JSON and text forms."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from charter.prompts.diff import apply_line_ops, diff_prompts, diff_text, diff_words
from charter.prompts.templates import PromptContent

OLD = PromptContent.text(
    "You are a helpful assistant.\nAnswer {{ question }} briefly.\nBye",
    {"model": "gpt-4o", "temperature": 0.2, "response_format": {"type": "text"}},
)
NEW = PromptContent.text(
    "You are a helpful assistant.\nAnswer {{ question }} in a {{ tone }} tone.\nBye",
    {"model": "gpt-4o", "temperature": 0.7, "stop": ["END"], "response_format": {"type": "json_object"}},
)


def test_a_changed_line_shows_in_the_unified_diff_and_word_by_word() -> None:
    diff = diff_prompts(OLD, NEW, old_label="support@1", new_label="support@2")
    assert diff.template is not None
    unified = diff.template.unified.split("\n")
    assert unified[:2] == ["--- support@1", "+++ support@2"]
    assert "-Answer {{ question }} briefly." in unified
    assert "+Answer {{ question }} in a {{ tone }} tone." in unified
    replaced = [op for op in diff.template.ops if op.op == "replace"]
    assert [(op.old_start, op.new_start) for op in replaced] == [(2, 2)]
    changed_words = [(w.old, w.new) for w in replaced[0].words[0] if w.op != "equal"]
    assert changed_words == [("briefly", "in a {{ tone }} tone")]


def test_variables_and_config_changes_are_listed() -> None:
    diff = diff_prompts(OLD, NEW)
    assert (diff.variables_added, diff.variables_removed) == (("tone",), ())
    assert [(c.key, c.change, c.old, c.new) for c in diff.config] == [
        ("response_format.type", "changed", "text", "json_object"),
        ("stop", "added", None, ["END"]),
        ("temperature", "changed", 0.2, 0.7),
    ]
    back = diff_prompts(NEW, OLD)
    assert (back.variables_added, back.variables_removed) == ((), ("tone",))
    assert ("stop", "removed") in [(c.key, c.change) for c in back.config]


def test_the_text_rendering_is_what_the_cli_prints() -> None:
    text = diff_prompts(OLD, NEW, old_label="support@1", new_label="support@2").render_text()
    assert text.startswith("--- support@1\n+++ support@2\ntemplate:\n@@ -1,3 +1,3 @@")
    assert "~ line 2: Answer {{ question }} [-briefly-]{+in a {{ tone }} tone+}." in text
    assert "variables: +tone" in text
    assert "  temperature: 0.2 → 0.7" in text
    assert '  stop: (unset) → ["END"]' in text


def test_identical_versions_have_no_changes() -> None:
    diff = diff_prompts(OLD, PromptContent.text(OLD.template or "", dict(OLD.config)))
    assert diff.identical
    assert diff.config == () and diff.variables_added == () and diff.template and not diff.template.changed
    assert diff.render_text().endswith("no changes")


def test_the_json_form_is_serialisable_and_complete() -> None:
    body = json.loads(json.dumps(diff_prompts(OLD, NEW, old_label="a@1", new_label="a@2").to_dict()))
    assert body["old"] == "a@1" and body["identical"] is False
    assert body["variables"] == {"added": ["tone"], "removed": []}
    assert body["template"]["changed"] is True
    assert {"op": "replace", "old": "briefly", "new": "in a {{ tone }} tone"} in body["template"]["lines"][1]["words"][
        0
    ]
    assert body["config"][2] == {"key": "temperature", "change": "changed", "old": 0.2, "new": 0.7}


def test_chat_messages_are_compared_one_by_one() -> None:
    old = PromptContent.chat(
        [
            {"role": "system", "content": "Be {{ style }}."},
            {"role": "user", "content": "{{ question }}"},
            {"role": "assistant", "content": "Sure."},
        ]
    )
    new = PromptContent.chat(
        [
            {"role": "system", "content": "Be very {{ style }}."},
            {"role": "assistant", "content": "Example answer."},
            {"role": "user", "content": "{{ question }}"},
        ]
    )
    diff = diff_prompts(old, new, old_label="c@1", new_label="c@2")
    assert diff.template is None and diff.messages is not None
    assert [(m.status, m.old_index, m.new_index) for m in diff.messages] == [
        ("changed", 1, 1),
        ("added", None, 2),
        ("unchanged", 2, 3),
        ("removed", 3, None),
    ]
    assert [(w.old, w.new) for w in diff.messages[0].content.ops[0].words[0] if w.op != "equal"] == [("", " very")]
    text = diff.render_text()
    assert "message 1 (system): changed" in text and "message 2 (assistant): added" in text
    assert "message 3 (assistant): removed" in text and "(user)" not in text


def test_a_role_change_is_shown() -> None:
    old = PromptContent.chat([{"role": "user", "content": "Hi"}])
    new = PromptContent.chat([{"role": "system", "content": "Hi"}])
    diff = diff_prompts(old, new)
    assert diff.messages is not None
    assert (diff.messages[0].status, diff.messages[0].old_role, diff.messages[0].new_role) == (
        "changed",
        "user",
        "system",
    )
    assert "message 1 (user → system): changed" in diff.render_text()


def test_a_type_change_compares_the_text_forms() -> None:
    chat = PromptContent.chat([{"role": "user", "content": "Answer {{ question }} briefly."}])
    diff = diff_prompts(OLD, chat)
    assert diff.type_change == ("text", "chat")
    assert diff.template is not None and diff.template.changed
    assert "type: text → chat" in diff.render_text()


lines = st.lists(st.text(alphabet="ab c{}\t", max_size=8), max_size=6).map("\n".join)


@settings(deadline=None)
@given(old=lines, new=lines)
def test_line_ops_rebuild_both_texts(old: str, new: str) -> None:
    diff = diff_text(old, new)
    assert apply_line_ops(diff.ops) == (old, new)
    assert diff.changed == (old != new)


@settings(deadline=None)
@given(old=st.text(alphabet="ab .,x", max_size=20), new=st.text(alphabet="ab .,x", max_size=20))
def test_word_ops_rebuild_both_lines(old: str, new: str) -> None:
    ops = diff_words(old, new)
    assert "".join(op.old for op in ops) == old
    assert "".join(op.new for op in ops) == new
