"""Prompt files (prompts as code), the push plan, and Langfuse / MLflow import and export."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from charter.prompts.errors import ExchangeFormatError, PromptDirError, PromptFileError
from charter.prompts.exchange import (
    ExchangeVersion,
    from_langfuse,
    from_mlflow,
    langfuse_text_to_template,
    load_json,
    to_langfuse,
    to_mlflow,
)
from charter.prompts.files import dump_prompt_file, load_prompt_dir, parse_prompt_file, plan_push
from charter.prompts.templates import PromptContent

TEXT_FILE = """---
type: text
config:
  model: gpt-4o
  temperature: 0.2
tags: [support, en]
message: Shorter greeting
---
Hello {{ name }},
how can I help?
"""

CHAT_FILE = """---
type: chat
config: {model: gpt-4o}
messages:
  - role: system
    content: |
      You are a support agent for {{ product }}.
      Be brief.
  - role: user
    content: "{{ question }}"
---
"""

# ---------------------------------------------------------------- parsing


def test_a_text_file_gives_name_template_config_tags_and_message() -> None:
    found = parse_prompt_file(TEXT_FILE, "support/greeting.prompt.md")
    assert found.name == "support/greeting"
    assert found.content.template == "Hello {{ name }},\nhow can I help?"
    assert dict(found.content.config) == {"model": "gpt-4o", "temperature": 0.2}
    assert (found.tags, found.message) == (("support", "en"), "Shorter greeting")


def test_a_chat_file_lists_its_messages_in_the_front_matter() -> None:
    found = parse_prompt_file(CHAT_FILE, "agent.prompt")
    assert found.name == "agent"
    assert found.content.render({"product": "Charter", "question": "Hi?"}) == [
        {"role": "system", "content": "You are a support agent for Charter.\nBe brief.\n"},
        {"role": "user", "content": "Hi?"},
    ]


def test_a_file_without_front_matter_is_a_text_template() -> None:
    found = parse_prompt_file("Summarise {{ text }}\n", "summary.prompt.md")
    assert (found.content.type, found.content.template, found.tags) == ("text", "Summarise {{ text }}", ())


@pytest.mark.parametrize(
    ("text", "where", "fragment"),
    [
        ("---\ntype: text\n---\nHello\n  {{ name }\n", "bad.prompt.md:5:11", "unexpected '}'"),
        ("---\nconfig:\n  model: x\n  temperature: 5\n---\nHi\n", "bad.prompt.md:4", "config.temperature"),
        ("---\ntype: text\nlabel: production\n---\nHi\n", "bad.prompt.md:3", "unknown key 'label'; allowed: type"),
        ("---\ntype: [text\n---\nHi\n", "bad.prompt.md:2:7", "while parsing a flow sequence"),
        ("---\ntype: text\nHi\n", "bad.prompt.md:1", "never closed"),
        ("---\ntype: text\ntype: chat\n---\nHi\n", "bad.prompt.md:3", "type: the key appears twice (first on line 2)"),
        ("---\ntype: html\n---\nHi\n", "bad.prompt.md:2", "allowed: text, chat"),
        ("---\ntags: support\n---\nHi\n", "bad.prompt.md:2", "tags must be a list"),
        ("---\ntype: text\n---\n\n", "bad.prompt.md:4", "body (the template, after the front matter) is empty"),
        (
            "---\ntype: chat\nmessages:\n  - role: system\n    content: |\n      You are {{ persona }}.\n"
            "      Answer {{ q }\n---\n",
            "bad.prompt.md:7:19",
            "message 1 (system): unexpected '}'",
        ),
        (
            '---\ntype: chat\nmessages:\n  - role: user\n    content: "Hi {{ a b }}"\n---\n',
            "bad.prompt.md:5:23",
            "got 'b'",
        ),
        ("---\ntype: chat\nmessages:\n  - role: user\n    content: hi\n---\nextra\n", "bad.prompt.md:7", "body empty"),
        ("---\ntype: chat\nmessages:\n  - role: 'bad role'\n    content: hi\n---\n", "bad.prompt.md:4", "role"),
        ("---\ntype: chat\nmessages:\n  - role: user\n  - content: x\n---\n", "bad.prompt.md:4", "exactly 'role'"),
        ("---\nmessages: []\n---\nHi\n", "bad.prompt.md:2", "messages belong to chat prompts"),
    ],
)
def test_parse_errors_name_file_and_line(text: str, where: str, fragment: str) -> None:
    with pytest.raises(PromptFileError) as err:
        parse_prompt_file(text, "bad.prompt.md")
    assert str(err.value).startswith(where + ": ")
    assert fragment in str(err.value)


def test_a_file_name_that_is_no_prompt_name_is_refused() -> None:
    with pytest.raises(PromptFileError, match=r"^my prompt\.prompt\.md:1: .*rename the file"):
        parse_prompt_file("Hi", "my prompt.prompt.md")


# ---------------------------------------------------------------- folders and the push plan


def _write(root: Path, files: dict[str, str | bytes]) -> None:
    for name, body in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(body, bytes):
            path.write_bytes(body)
        else:
            path.write_text(body, encoding="utf-8")


def test_a_folder_is_read_in_name_order_skipping_other_files(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "support/greeting.prompt.md": TEXT_FILE,
            "agent.prompt": CHAT_FILE,
            "README.md": "# not a prompt",
            ".drafts/wip.prompt.md": "{{ broken",
        },
    )
    assert [(f.name, f.path) for f in load_prompt_dir(tmp_path)] == [
        ("agent", "agent.prompt"),
        ("support/greeting", "support/greeting.prompt.md"),
    ]


def test_every_problem_in_a_folder_is_reported_at_once(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "a.prompt.md": "Hi {{ x }",
            "b.prompt.md": "---\ntype: text\nfoo: 1\n---\nHi\n",
            "c.prompt": "ok",
            "c.prompt.md": "also ok",
            "d.prompt.md": b"\xff\xfe bad bytes",
            "fine.prompt.md": "Fine {{ x }}",
        },
    )
    with pytest.raises(PromptDirError) as err:
        load_prompt_dir(tmp_path)
    reported = [f"{e.path}:{e.line}" for e in err.value.errors]
    assert reported == ["a.prompt.md:1", "b.prompt.md:3", "c.prompt.md:1", "d.prompt.md:1"]
    assert "4 problems in prompt files" in str(err.value)
    assert "as c.prompt does; keep one file per prompt" in str(err.value)
    assert "not UTF-8" in str(err.value)


def test_a_missing_folder_is_reported(tmp_path: Path) -> None:
    with pytest.raises(PromptDirError, match="not a folder"):
        load_prompt_dir(tmp_path / "nope")


def test_the_push_plan_creates_versions_only_for_new_and_changed_prompts(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "new.prompt.md": "Brand new {{ x }}",
            "same.prompt.md": "---\n# a comment and reordered config do not change the content\nconfig: {top_p: 1, "
            "model: m}\n---\nSame {{ x }}\n",
            "edited.prompt.md": "Edited {{ x }}!",
        },
    )
    latest = {
        "same": PromptContent.text("Same {{ x }}", {"model": "m", "top_p": 1.0}).hash,
        "edited": PromptContent.text("Edited {{ x }}").hash,
        "retired": "sha256:" + "0" * 64,
    }
    plan = plan_push(load_prompt_dir(tmp_path), latest)
    assert [(i.name, i.status) for i in plan.items] == [("edited", "changed"), ("new", "new"), ("same", "unchanged")]
    assert plan.not_in_folder == ("retired",)
    assert plan.to_dict()["counts"] == {"new": 1, "changed": 1, "unchanged": 1}
    assert "1 new, 1 changed, 1 unchanged" in plan.render_text()
    again = plan_push(load_prompt_dir(tmp_path), {i.name: i.hash for i in plan.items})
    assert [i.status for i in again.items] == ["unchanged"] * 3


def test_an_exported_file_reads_back_the_same() -> None:
    found = parse_prompt_file(CHAT_FILE, "agent.prompt.md")
    text = dump_prompt_file(found.content, tags=["a", "b"], message="m")
    again = parse_prompt_file(text, "agent.prompt.md")
    assert (again.content, again.tags, again.message) == (found.content, ("a", "b"), "m")


body_text = st.text(alphabet="ab {}\n\t#:-'\"", min_size=1, max_size=40).filter(
    lambda t: t.strip() and "{" not in t and "}" not in t
)


@settings(deadline=None)
@given(
    body=body_text,
    roles=st.lists(st.sampled_from(["system", "user", "assistant"]), min_size=1, max_size=3),
    temperature=st.floats(0, 2),
)
def test_dump_then_parse_is_the_identity(body: str, roles: list[str], temperature: float) -> None:
    for content in (
        PromptContent.text(body, {"temperature": temperature}),
        PromptContent.chat([{"role": r, "content": body} for r in roles], {"temperature": temperature}),
    ):
        assert parse_prompt_file(dump_prompt_file(content, tags=["t"]), "p.prompt.md").content == content


# ---------------------------------------------------------------- Langfuse


LANGFUSE = {
    "data": [
        {
            "name": "movie-critic",
            "type": "text",
            "prompt": "As a {{criticLevel}} critic, do you like {{movie}}? "
            "@@@langfusePrompt:name=tone|label=production@@@",
            "config": {"model": "gpt-4o", "temperature": 0.5, "supported_languages": ["en", "fr"]},
            "version": 2,
            "labels": ["production", "latest"],
            "tags": ["movies"],
            "commitMessage": "sharper",
        },
        {
            "name": "chat-critic",
            "type": "chat",
            "prompt": [
                {"role": "system", "content": "You are a {{criticLevel}} critic"},
                {"type": "chatmessage", "role": "user", "content": "Do you like {{movie}}?"},
            ],
            "config": {},
            "version": 1,
            "labels": [],
            "tags": [],
        },
    ]
}


def test_langfuse_prompts_are_imported_with_labels_tags_and_references() -> None:
    chat, text = from_langfuse(LANGFUSE)
    assert (text.name, text.version, text.labels, text.tags, text.message) == (
        "movie-critic",
        2,
        ("production",),
        ("movies",),
        "sharper",
    )
    assert (
        text.content.template == 'As a {{criticLevel}} critic, do you like {{movie}}? {% include "tone@production" %}'
    )
    assert text.content.config["supported_languages"] == ["en", "fr"]
    assert chat.content.render({"criticLevel": "harsh", "movie": "Dune"}) == [
        {"role": "system", "content": "You are a harsh critic"},
        {"role": "user", "content": "Do you like Dune?"},
    ]


def test_langfuse_export_round_trips() -> None:
    versions = from_langfuse(LANGFUSE)
    exported = [to_langfuse(v) for v in versions]
    assert exported[1]["prompt"] == LANGFUSE["data"][0]["prompt"]
    assert exported[1]["commitMessage"] == "sharper"
    assert from_langfuse(json.loads(json.dumps(exported))) == versions


def _langfuse_compile(text: str, values: dict[str, str]) -> str:
    """Langfuse's substitution: `{{name}}` replaced by its value, everything else literal."""
    return re.sub(r"\{\{\s*([A-Za-z_]\w*)\s*\}\}", lambda m: values[m.group(1)], text)


@settings(deadline=None)
@given(text=st.text(alphabet="ab {}%#-x\n", max_size=40))
def test_imported_langfuse_text_renders_as_langfuse_does(text: str) -> None:
    values = {name: "<" + name + ">" for name in re.findall(r"\{\{\s*([A-Za-z_]\w*)\s*\}\}", text)}
    if not text.strip():
        return
    content = PromptContent.text(langfuse_text_to_template(text))
    assert content.render(values) == _langfuse_compile(text, values)


def test_langfuse_placeholders_are_refused() -> None:
    doc = [{"name": "x", "type": "chat", "prompt": [{"type": "placeholder", "name": "history"}], "version": 1}]
    with pytest.raises(
        ExchangeFormatError, match="item 1 \\(x@1\\): message 1 is a message placeholder \\('history'\\)"
    ):
        from_langfuse(doc)


def test_jinja_that_langfuse_cannot_render_is_refused_on_export() -> None:
    version = ExchangeVersion("x", 1, PromptContent.text("Hi\n  {% if vip %}dear {% endif %}{{ name }}"))
    with pytest.raises(ExchangeFormatError, match=r"x@1: line 2, column 3: '\{%'"):
        to_langfuse(version)
    with pytest.raises(ExchangeFormatError, match="line 1, column 1: Langfuse renders only plain"):
        to_langfuse(ExchangeVersion("y", 1, PromptContent.text("{{ name | upper }}")))


@pytest.mark.parametrize(
    ("document", "fragment"),
    [
        ("just text", "expected a prompt object"),
        ([{"type": "text", "prompt": "hi", "version": 1}], "every prompt needs a 'name'"),
        ([{"name": "x", "type": "text", "prompt": ["a"], "version": 1}], "a text prompt's 'prompt' is text"),
        ([{"name": "x", "type": "text", "prompt": "hi", "version": 0}], "version must be a whole number from 1"),
        ([{"name": "x", "type": "text", "prompt": "hi", "config": {"temperature": 9}}], "config.temperature"),
    ],
)
def test_bad_langfuse_documents_say_what_is_wrong(document: object, fragment: str) -> None:
    with pytest.raises(ExchangeFormatError) as err:
        from_langfuse(document)
    assert fragment in str(err.value)


# ---------------------------------------------------------------- MLflow


MLFLOW = {
    "name": "support",
    "version": "3",
    "template": "Answer {{ question }} for {{ customer.name }}",
    "commit_message": "polite",
    "tags": {"team": "cx", "reviewed": "", "mlflow.prompt.is_prompt": "true"},
    "aliases": ["production"],
    "model_config": {
        "model_name": "gpt-4",
        "temperature": 0.7,
        "stop_sequences": ["\n\n"],
        "extra_params": {"anthropic_version": "2023-06-01"},
    },
    "creation_timestamp": 1_700_000_000_000,
    "user_id": "ann",
}


def test_mlflow_versions_are_imported() -> None:
    (version,) = from_mlflow(MLFLOW)
    assert (version.name, version.version, version.labels, version.message, version.author) == (
        "support",
        3,
        ("production",),
        "polite",
        "ann",
    )
    assert version.tags == ("reviewed", "team=cx")
    assert dict(version.content.config) == {
        "anthropic_version": "2023-06-01",
        "model": "gpt-4",
        "stop": ["\n\n"],
        "temperature": 0.7,
    }
    assert version.created_at is not None and version.created_at.isoformat() == "2023-11-14T22:13:20+00:00"
    assert version.content.render({"question": "why", "customer": {"name": "Ann"}}) == "Answer why for Ann"


def test_mlflow_export_round_trips() -> None:
    versions = from_mlflow({"prompts": [MLFLOW]})
    exported = to_mlflow(versions[0])
    assert exported["model_config"]["model_name"] == "gpt-4" and exported["tags"] == {"reviewed": "", "team": "cx"}
    assert from_mlflow(json.loads(json.dumps(exported))) == versions


def test_the_raw_mlflow_model_version_form_is_read() -> None:
    raw = {
        "name": "agent",
        "version": "4",
        "description": "chat form",
        "tags": [
            {"key": "mlflow.prompt.text", "value": json.dumps([{"role": "user", "content": "{{ q }}"}])},
            {"key": "_mlflow_prompt_type", "value": "chat"},
            {"key": "_mlflow_prompt_model_config", "value": json.dumps({"model_name": "m", "max_tokens": 5})},
        ],
        "aliases": [{"alias": "staging", "version": "4"}],
    }
    (version,) = from_mlflow({"model_versions": [raw]})
    assert version.content.type == "chat" and version.labels == ("staging",) and version.message == "chat form"
    assert dict(version.content.config) == {"max_tokens": 5, "model": "m"}


def test_bad_mlflow_documents_say_what_is_wrong() -> None:
    with pytest.raises(ExchangeFormatError, match="'template' must be text or a list"):
        from_mlflow({"name": "x", "version": 1})
    with pytest.raises(ExchangeFormatError, match=r"support@3\): template: line 1, column 13"):
        from_mlflow({**MLFLOW, "template": "Answer {{ q }"})


def test_json_syntax_errors_name_line_and_column() -> None:
    with pytest.raises(ExchangeFormatError, match=r"^export\.json:2:5: not valid JSON"):
        load_json('{"a": 1,\n    }', "export.json")
