"""The one YAML loader (charter.kit.content): errors name the file, the line and the field as written."""

from __future__ import annotations

from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field

from charter.kit.content import ContentInvalid, load_model


class _Regex(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["regex"]
    pattern: str


class _Canary(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["canary"]


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    checks: list[Annotated[_Regex | _Canary, Field(discriminator="type")]]


def _problems(text: str) -> list[str]:
    with pytest.raises(ContentInvalid) as err:
        load_model(text, "doc.yaml", _Doc)
    return [str(p) for p in err.value.problems]


def test_a_field_inside_a_tagged_union_is_named_as_written_not_with_the_tag() -> None:
    text = "name: x\nchecks:\n  - type: canary\n  - type: regex\n    patern: y\n"
    assert _problems(text) == [
        "doc.yaml:4: checks[1].pattern: Field required",
        "doc.yaml:5: checks[1].patern: unknown field (check the spelling; the documentation lists the fields)",
    ]


def test_a_missing_field_is_named_at_its_parents_line_and_duplicate_keys_are_refused() -> None:
    assert _problems("checks: []\n") == ["doc.yaml:1: name: Field required"]
    assert _problems("name: a\nname: b\nchecks: []\n") == ["doc.yaml:2: name: the key appears twice (first on line 1)"]
