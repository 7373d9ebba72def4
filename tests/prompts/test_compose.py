"""Composition: includes resolved at serve time, versions recorded, cycles and depth refused, Jinja semantics kept."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jinja2 import DictLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from charter.prompts.compose import IncludedPrompt, resolve
from charter.prompts.errors import IncludeCycleError, IncludeDepthError, IncludeError, MissingVariablesError
from charter.prompts.templates import PromptContent, PromptRef


class Registry:
    """An in-memory prompt store answering references the way the service will (labels point at versions)."""

    def __init__(self) -> None:
        self.versions: dict[tuple[str, int], tuple[str, str]] = {}
        self.labels: dict[tuple[str, str], int] = {}
        self.calls: list[str] = []

    def add(self, name: str, version: int, template: str, *, labels: tuple[str, ...] = (), kind: str = "text") -> None:
        self.versions[name, version] = (template, kind)
        for label in labels:
            self.labels[name, label] = version

    def __call__(self, ref: PromptRef) -> IncludedPrompt:
        self.calls.append(str(ref))
        version = ref.version if ref.version is not None else self.labels.get((ref.name, ref.label or ""))
        if version is None or (ref.name, version) not in self.versions:
            raise LookupError(f"no version of {ref.name!r} answers {ref}")
        template, kind = self.versions[ref.name, version]
        return IncludedPrompt(ref.name, version, template, f"h-{ref.name}-{version}", kind)


def test_an_include_is_spliced_and_its_version_recorded() -> None:
    reg = Registry()
    reg.add("tone", 2, "Be polite to {{ customer }}.", labels=("production",))
    content = PromptContent.text('{% include "tone@production" %}\nAnswer: {{ question }}')
    resolved = resolve(content, reg, name="support", version=4, ref="support@production")
    assert resolved.content.template == "Be polite to {{ customer }}.\nAnswer: {{ question }}"
    assert resolved.content.variables() == {"customer", "question"}
    assert resolved.content.render({"customer": "Ann", "question": "?"}) == "Be polite to Ann.\nAnswer: ?"
    assert [(i.ref, i.name_at_version, i.included_by, i.depth) for i in resolved.includes] == [
        ("tone@production", "tone@2", "support@production", 1)
    ]
    assert resolved.hash == content.hash
    assert resolved.name_at_version == "support@4"


def test_nested_includes_record_every_version() -> None:
    reg = Registry()
    reg.add("base", 1, "Rules.")
    reg.add("tone", 3, '{% include "base@1" %} Be kind.', labels=("staging",))
    resolved = resolve(PromptContent.text('{% include "tone@staging" %} Go.'), reg, name="p", version=1)
    assert resolved.content.template == "Rules. Be kind. Go."
    assert [(i.name_at_version, i.included_by, i.depth) for i in resolved.includes] == [
        ("tone@3", "p@1", 1),
        ("base@1", "tone@staging", 2),
    ]


def test_chat_messages_can_include_text_prompts() -> None:
    reg = Registry()
    reg.add("persona", 1, "You are {{ name }}.")
    content = PromptContent.chat(
        [{"role": "system", "content": '{% include "persona@1" %} Be brief.'}, {"role": "user", "content": "{{ q }}"}]
    )
    resolved = resolve(content, reg, name="chat", version=2)
    assert resolved.content.render({"name": "Ava", "q": "hi"}) == [
        {"role": "system", "content": "You are Ava. Be brief."},
        {"role": "user", "content": "hi"},
    ]


def test_a_cycle_is_refused_and_named() -> None:
    reg = Registry()
    reg.add("a", 5, 'A {% include "b@3" %}', labels=("production",))
    reg.add("b", 3, 'B {% include "a@production" %}')
    with pytest.raises(IncludeCycleError) as err:
        resolve(PromptContent.text('A {% include "b@3" %}'), reg, name="a", version=5, ref="a@production")
    assert str(err.value).startswith("include cycle: a@production → b@3 → a@production.")
    assert err.value.chain == ["a@production", "b@3", "a@production"]


def test_a_prompt_including_itself_is_a_cycle() -> None:
    reg = Registry()
    reg.add("a", 1, 'x {% include "a@1" %}')
    with pytest.raises(IncludeCycleError, match=r"a@1 → a@1"):
        resolve(PromptContent.text('x {% include "a@1" %}'), reg, name="a", version=1)


def test_includes_deeper_than_the_limit_are_refused() -> None:
    reg = Registry()
    for n in range(1, 6):
        reg.add(f"p{n}", 1, f'{n} {{% include "p{n + 1}@1" %}}')
    reg.add("p6", 1, "end")
    content = PromptContent.text('{% include "p1@1" %}')
    assert resolve(content, reg, name="root", version=1, max_depth=6).content.template == "1 2 3 4 5 end"
    with pytest.raises(IncludeDepthError, match="deeper than 3 levels: root@1 → p1@1 → p2@1 → p3@1 → p4@1"):
        resolve(content, reg, name="root", version=1, max_depth=3)


def test_an_unknown_reference_names_the_chain() -> None:
    reg = Registry()
    reg.add("tone", 1, '{% include "missing@staging" %}', labels=("production",))
    with pytest.raises(IncludeError) as err:
        resolve(PromptContent.text('{% include "tone@production" %}'), reg, name="p", version=7)
    assert str(err.value).startswith("p@7 → tone@production → missing@staging: cannot include missing@staging")


def test_only_text_prompts_can_be_included() -> None:
    reg = Registry()
    reg.add("chatty", 1, "x", kind="chat")
    with pytest.raises(IncludeError, match="chatty@1 is a chat prompt; only text prompts can be included"):
        resolve(PromptContent.text('{% include "chatty@1" %}'), reg, name="p", version=1)


def test_a_syntax_error_in_an_included_prompt_names_it() -> None:
    reg = Registry()
    reg.add("bad", 1, "oops {{ x }")
    with pytest.raises(IncludeError, match=r"bad@1: line 1, column 11"):
        resolve(PromptContent.text('{% include "bad@1" %}'), reg, name="p", version=1)


def test_each_reference_is_resolved_once_per_resolution() -> None:
    reg = Registry()
    reg.add("tone", 1, "T1", labels=("production",))
    content = PromptContent.text('{% include "tone@production" %}/{% include "tone@production" %}')
    assert resolve(content, reg, name="p", version=1).content.template == "T1/T1"
    assert reg.calls == ["tone@production"]


def test_includes_in_raw_blocks_and_comments_are_text() -> None:
    content = PromptContent.text('{% raw %}{% include "x@1" %}{% endraw %}{# {% include "y@1" %} #}ok')
    resolved = resolve(content, Registry(), name="p", version=1)
    assert resolved.includes == ()
    assert resolved.content.render({}) == '{% include "x@1" %}ok'


def test_the_served_hash_changes_when_an_included_version_changes() -> None:
    reg = Registry()
    reg.add("tone", 1, "Same.", labels=("production",))
    reg.add("tone", 2, "Same.")
    content = PromptContent.text('{% include "tone@production" %}')
    first = resolve(content, reg, name="p", version=1)
    reg.labels["tone", "production"] = 2
    second = resolve(content, reg, name="p", version=1)
    assert first.content == second.content
    assert first.resolved_hash != second.resolved_hash
    assert json.loads(json.dumps(second.to_dict()))["includes"][0]["name_at_version"] == "tone@2"


def test_a_resolved_prompt_still_reports_missing_variables_of_includes() -> None:
    reg = Registry()
    reg.add("sig", 1, "-- {{ agent }}")
    resolved = resolve(PromptContent.text('Hi {{ name }} {% include "sig@1" %}'), reg, name="p", version=1)
    with pytest.raises(MissingVariablesError) as err:
        resolved.content.render({})
    assert err.value.names == ["agent", "name"]


PIECES = [
    "text",
    " ",
    "\n",
    "  \n ",
    "{{ v }}",
    "{% if v %}[{{ v }}]{% endif %}",
    "{%- if v %}<{% endif -%}",
    "{#- c -#}",
]
INCLUDE_TAGS = [
    '{% include "child@1" %}',
    '{%- include "child@1" %}',
    '{% include "child@1" -%}',
    '{%- include "child@1" -%}',
]


@settings(max_examples=300, deadline=None)
@given(
    before=st.lists(st.sampled_from(PIECES), max_size=4),
    after=st.lists(st.sampled_from(PIECES), max_size=4),
    child=st.lists(st.sampled_from(PIECES), min_size=1, max_size=4),
    tag=st.sampled_from(INCLUDE_TAGS),
    value=st.sampled_from(["", "x"]),
)
def test_splicing_renders_exactly_like_jinja_include(
    before: list[str], after: list[str], child: list[str], tag: str, value: str
) -> None:
    parent_source = "".join(before) + tag + "".join(after)
    child_source = "".join(child)
    reg = Registry()
    reg.add("child", 1, child_source)
    jinja = SandboxedEnvironment(
        loader=DictLoader({"child@1": child_source}), keep_trailing_newline=True, undefined=StrictUndefined
    )
    expected = jinja.from_string(parent_source).render(v=value)
    resolved = resolve(PromptContent.text(parent_source + "."), reg, name="p", version=1)
    assert resolved.content.render({"v": value}) == expected + "."
