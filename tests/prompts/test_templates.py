"""Templates: rendering in the sandbox, syntax errors with line and column, variables, config, content hash."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from charter.prompts.config import validate_config
from charter.prompts.errors import (
    ConfigError,
    MissingVariablesError,
    PromptContentError,
    PromptError,
    TemplateSecurityError,
    TemplateSyntaxError,
    UnknownVariablesError,
)
from charter.prompts.templates import PromptContent, check_template, parse_ref, render_template, tokenize, variables

# ---------------------------------------------------------------- rendering


def test_text_prompt_renders_its_variables() -> None:
    content = PromptContent.text("Hello {{ name }}, you asked about {{topic|upper}}.")
    assert content.render({"name": "Ann", "topic": "refunds"}) == "Hello Ann, you asked about REFUNDS."


def test_chat_prompt_renders_each_message() -> None:
    content = PromptContent.chat(
        [{"role": "system", "content": "You help with {{ product }}."}, {"role": "user", "content": "{{ question }}"}]
    )
    assert content.render({"product": "Charter", "question": "What is a label?"}) == [
        {"role": "system", "content": "You help with Charter."},
        {"role": "user", "content": "What is a label?"},
    ]


def test_loops_conditions_and_the_loop_helper_work() -> None:
    content = PromptContent.text(
        "{% for s in steps %}{{ loop.index }}. {{ s }}\n{% endfor %}{% if note %}{{ note }}{% endif %}"
    )
    assert content.render({"steps": ["ask", "answer"], "note": ""}) == "1. ask\n2. answer\n"


def test_dict_values_are_read_with_dots() -> None:
    assert (
        render_template("{{ user.name }} <{{ user['email'] }}>", {"user": {"name": "Ann", "email": "a@x"}})
        == "Ann <a@x>"
    )


def test_a_final_line_break_is_kept() -> None:
    assert render_template("Hi {{ n }}\n", {"n": 1}) == "Hi 1\n"


# ---------------------------------------------------------------- syntax errors with line and column


@pytest.mark.parametrize(
    ("source", "line", "column", "fragment"),
    [
        ("Hello {{ name }", 1, 15, "unexpected '}'"),
        ("line one\n  {{ a b }}", 2, 8, "got 'b'"),
        ("x\n {{ a ! b }}", 2, 7, "unexpected char '!'"),
        ("x {{ 'abc }}", 1, 6, "unexpected char"),
        ("{{ a | nosuch }}", 1, 8, "No filter named 'nosuch'"),
        ("ab\n\n  {% frobnicate %}", 3, 6, "unknown tag 'frobnicate'"),
        ("{% endif %}", 1, 4, "unknown tag 'endif'"),
        ("hi {{ (a }}", 1, 10, "expected ')'"),
        ("Hi\n{% if x %}\nno end", 2, 4, "'endif'"),
        ("{% for %}", 1, 8, "Expected an expression"),
        ("ok\n{{ x }}{% raw %}{{ y }}", 2, 8, "Missing end of raw directive"),
        ("ok {# never closed", 1, 4, "Missing end of comment tag"),
    ],
)
def test_syntax_errors_name_line_and_column(source: str, line: int, column: int, fragment: str) -> None:
    with pytest.raises(TemplateSyntaxError) as err:
        check_template(source)
    assert (err.value.line, err.value.column) == (line, column)
    assert fragment in err.value.problem
    assert f"line {line}, column {column}" in str(err.value)


def test_windows_line_breaks_count_as_one() -> None:
    with pytest.raises(TemplateSyntaxError) as err:
        check_template("a\r\nb\r\n  {{ x y }}")
    assert (err.value.line, err.value.column) == (3, 8)


@settings(deadline=None)
@given(
    lines=st.lists(st.text(alphabet="abc xyz.,!?", max_size=12), max_size=5),
    lead=st.text(alphabet=" ab", max_size=6),
    bad=st.sampled_from(["parser", "lexer"]),
)
def test_the_column_is_where_the_bad_token_is(lines: list[str], lead: str, bad: str) -> None:
    prefix = "".join(line + "\n" for line in lines) + lead
    snippet = "{{ a b }}" if bad == "parser" else "{{ a ! b }}"
    offset = len(prefix) + snippet.index("b" if bad == "parser" else "!")
    with pytest.raises(TemplateSyntaxError) as err:
        check_template(prefix + snippet)
    assert err.value.line == len(lines) + 1
    assert err.value.column == offset - len(prefix) + len(lead) + 1


def test_a_chat_message_error_names_the_message() -> None:
    with pytest.raises(TemplateSyntaxError) as err:
        PromptContent.chat([{"role": "system", "content": "ok"}, {"role": "user", "content": "Hi {{ name }"}])
    assert err.value.where == "message 2 (user)"
    assert (err.value.line, err.value.column) == (1, 12)


@pytest.mark.parametrize(
    ("source", "column", "fragment"),
    [
        ("Say {{ 'x'.upper() }}", 17, "calls are not allowed"),
        ("{{ range(3) }}", 9, "calls are not allowed"),
        ("{{ a.__class__ }}", 6, "starting with '_'"),
        ("{% extends 'base' %}", 4, "'{% extends %}' is not allowed"),
        ("{% import 'm' as m %}", 4, "'{% import %}' is not allowed"),
        ("{% include name %}", 12, "one quoted reference"),
        ("{% include 'tone' %}", 12, "not a prompt reference"),
        ("{% include 'tone@Prod' %}", 12, "after '@' comes a label"),
        ("{% include 'tone@production' ignore missing %}", 12, "one quoted reference"),
    ],
)
def test_constructs_that_could_run_code_are_refused_when_saved(source: str, column: int, fragment: str) -> None:
    with pytest.raises(TemplateSyntaxError) as err:
        check_template(source)
    assert err.value.column == column
    assert fragment in err.value.problem


def test_the_sandbox_refuses_attributes_of_objects_at_render_time() -> None:
    class User:
        name = "Ann"

    with pytest.raises(TemplateSecurityError, match="unsafe"):
        render_template("{{ user.name }}", {"user": User()})


def test_tokens_carry_line_and_column() -> None:
    tokens = [t for t in tokenize("ab\n  {{ x }}") if t.type == "name"]
    assert [(t.value, t.line, t.column) for t in tokens] == [("x", 2, 6)]


# ---------------------------------------------------------------- variables


def test_variables_lists_what_the_template_reads() -> None:
    source = "{% set greeting = 'Hi' %}{{ greeting }} {{ name }}{% for i in items %}{{ i }}{{ loop.index }}{% endfor %}"
    assert variables(source) == {"name", "items"}


def test_every_missing_variable_is_named_at_once() -> None:
    content = PromptContent.text(
        "{{ a }} {% if b %}{{ c }}{% endif %}{% for x in d %}{% endfor %}{{ e | default('-') }}"
    )
    with pytest.raises(MissingVariablesError) as err:
        content.render({})
    assert err.value.names == ["a", "b", "d"]
    assert "missing variables: a, b, d" in str(err.value)


def test_missing_variables_are_named_even_when_rendering_stops_early() -> None:
    with pytest.raises(MissingVariablesError) as err:
        render_template("{{ n + 1 }} {{ other }}", {})
    assert err.value.names == ["n", "other"]


def test_a_missing_key_of_a_given_mapping_is_reported() -> None:
    with pytest.raises(MissingVariablesError) as err:
        render_template("{{ user.name }} {{ user.email }}", {"user": {"name": "Ann"}})
    assert err.value.names == []
    assert "'email'" in str(err.value)


def test_missing_variables_across_chat_messages_are_reported_together() -> None:
    content = PromptContent.chat([{"role": "system", "content": "{{ who }}"}, {"role": "user", "content": "{{ q }}"}])
    with pytest.raises(MissingVariablesError) as err:
        content.render({"who": "agent"})
    assert err.value.names == ["q"]


def test_strict_rendering_refuses_unknown_variables() -> None:
    content = PromptContent.text("Hi {{ name }}")
    assert content.render({"name": "Ann", "nmae": "typo"}) == "Hi Ann"
    with pytest.raises(UnknownVariablesError) as err:
        content.render({"name": "Ann", "nmae": "typo"}, strict=True)
    assert err.value.unknown == ["nmae"]
    assert "the prompt uses: name" in str(err.value)


def test_a_template_with_includes_must_be_resolved_before_rendering() -> None:
    with pytest.raises(PromptError, match=r"includes other prompts \(tone@production\)"):
        PromptContent.text('{% include "tone@production" %}').render({})


# ---------------------------------------------------------------- shape and config


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda: PromptContent("html", template="x"), "allowed: text, chat"),  # type: ignore[arg-type]
        (lambda: PromptContent.text("   "), "template is empty"),
        (lambda: PromptContent.chat([]), "non-empty list of messages"),
        (lambda: PromptContent.chat([{"role": "bad role", "content": "x"}]), "role 'bad role' is not valid"),
        (lambda: PromptContent.chat([{"role": "user", "content": "x", "name": "n"}]), "unknown keys ['name']"),
        (lambda: PromptContent.chat([{"role": "user", "content": 3}]), "content is text"),
    ],
)
def test_bad_prompt_shapes_are_refused(make: object, fragment: str) -> None:
    with pytest.raises(PromptContentError) as err:
        make()  # type: ignore[operator]
    assert fragment in str(err.value)


def test_config_is_validated_and_canonical() -> None:
    assert validate_config({"temperature": 1, "stop": "END", "model": "gpt-4o", "vendor_x": {"a": [1]}}) == {
        "model": "gpt-4o",
        "stop": ["END"],
        "temperature": 1.0,
        "vendor_x": {"a": [1]},
    }


@pytest.mark.parametrize(
    ("config", "field", "fragment"),
    [
        ({"temperature": 3}, "temperature", "less than or equal to 2"),
        ({"temperature": True}, "temperature", "must be a number"),
        ({"temperature": "0.5"}, "temperature", "must be a number"),
        ({"max_tokens": 0}, "max_tokens", "greater than or equal to 1"),
        ({"max_tokens": 1.5}, "max_tokens", "valid integer"),
        ({"top_p": 1.5}, "top_p", "less than or equal to 1"),
        ({"stop": [""]}, "stop[0]", "at least 1 character"),
        ({"model": ""}, "model", "at least 1 character"),
        ({"x": float("nan")}, "x", "finite number"),
        ({"x": {1, 2}}, "x", "must be a JSON value"),
    ],
)
def test_bad_config_names_the_field(config: dict[str, object], field: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as err:
        PromptContent.text("hi", config)
    assert err.value.problems[0][0] == field
    assert fragment in err.value.problems[0][1]
    assert str(err.value).startswith(f"config.{field}: ")


def test_every_bad_config_field_is_reported() -> None:
    with pytest.raises(ConfigError) as err:
        validate_config({"temperature": 9, "top_p": 7})
    assert [field for field, _ in err.value.problems] == ["temperature", "top_p"]


# ---------------------------------------------------------------- content hash


def test_same_content_same_hash() -> None:
    a = PromptContent.text("Hi {{ n }}\r\n", {"temperature": 1, "model": "m"})
    b = PromptContent.text("Hi {{ n }}\n", {"model": "m", "temperature": 1.0})
    assert a.hash == b.hash
    assert a.hash.startswith("sha256:") and len(a.hash) == 7 + 64


def test_any_change_changes_the_hash() -> None:
    base = PromptContent.text("Hi {{ n }}", {"temperature": 0.2})
    assert PromptContent.text("Hi {{ n }}!", {"temperature": 0.2}).hash != base.hash
    assert PromptContent.text("Hi {{ n }}", {"temperature": 0.3}).hash != base.hash
    assert PromptContent.chat([{"role": "user", "content": "Hi {{ n }}"}], {"temperature": 0.2}).hash != base.hash


config_values = st.one_of(st.floats(0, 2), st.integers(1, 10_000), st.text(min_size=1, max_size=5))


@settings(deadline=None)
@given(
    template=st.text(alphabet="abc {}\n", min_size=1, max_size=30).filter(lambda t: "{" not in t and t.strip()),
    extras=st.dictionaries(st.text(alphabet="xyz", min_size=1, max_size=3), config_values, max_size=4),
)
def test_hash_ignores_key_order(template: str, extras: dict[str, object]) -> None:
    forward = PromptContent.text(template, dict(extras))
    backward = PromptContent.text(template, dict(reversed(list(extras.items()))))
    assert forward.hash == backward.hash
    assert PromptContent.from_dict(forward.to_dict()) == forward


def test_parse_ref_reads_labels_and_versions() -> None:
    assert (parse_ref("greet@production").label, parse_ref("greet@12").version) == ("production", 12)
    assert str(parse_ref("support/greet@3")) == "support/greet@3"
    with pytest.raises(PromptContentError, match="name@label or name@version"):
        parse_ref("greet")
    with pytest.raises(PromptContentError, match="version number from 1"):
        parse_ref("greet@0")


def test_trusted_content_equals_checked_content_without_checking_again() -> None:
    checked = PromptContent.chat([{"role": "user", "content": "Hi {{ n }}"}], {"temperature": 0.5})
    trusted = PromptContent.trusted("chat", messages=checked.messages, config=checked.config)
    assert trusted == checked and trusted.hash == checked.hash
    assert trusted.render({"n": 1}) == [{"role": "user", "content": "Hi 1"}]
