"""The schema every procedure template (SOP YAML) must satisfy. Pure: no DB, no web, no file access.

Structural checks are Pydantic; cross-field checks (unique ids, known roles, a role able to sign off)
are in `semantic_errors`, which returns the location of each problem so the loader can name its line.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from charter.kit.roles import Role

KEY = r"^[a-z0-9][a-z0-9-]{1,62}[a-z0-9]$"
ITEM_ID = r"^[a-z0-9][a-z0-9-]{0,62}$"
TAG = r"^[a-z0-9][a-z0-9:._-]{0,63}$"

Kind = Literal["review", "checklist", "sop", "runbook"]
SubjectType = Literal["system", "release", "incident"]
Severity = Literal["low", "medium", "high", "critical"]

DEFAULT_ANSWER_ROLES: tuple[Role, ...] = ("engineer", "approver", "governance")
DEFAULT_SIGNOFF_ROLES: tuple[Role, ...] = ("approver", "governance")


Loc = tuple[str | int, ...]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


class ItemSpec(_Strict):
    id: str = Field(pattern=ITEM_ID, description="unique within the template; lower-case, digits and '-'")
    question: str = Field(min_length=3, max_length=1_000, description="the question or, in a runbook, the task")
    guidance: str = Field(default="", max_length=5_000)
    required: bool = True
    evidence_required: bool = False
    answer_roles: list[Role] = Field(
        default_factory=list, description="roles that may answer; empty: engineer, approver, governance"
    )
    signoff_roles: list[Role] = Field(
        default_factory=list, description="if set, the run's signer must also hold one of these roles"
    )
    refs: list[str] = Field(default_factory=list, description='framework references, e.g. "EU AI Act Art. 9"')
    tags: list[str] = Field(default_factory=list)
    due_within_minutes: int | None = Field(
        default=None, ge=1, le=525_600, description="runbook tasks: due this long after the run starts"
    )


class SectionSpec(_Strict):
    id: str = Field(pattern=ITEM_ID)
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5_000)
    items: list[ItemSpec] = Field(min_length=1)


class TemplateSpec(_Strict):
    key: str = Field(pattern=KEY, description="slug, e.g. ethical-review")
    version: int = Field(ge=1, description="a whole number; install a higher one to change a template")
    title: str = Field(min_length=1, max_length=200)
    kind: Kind
    applies_to: list[SubjectType] = Field(min_length=1)
    description: str = Field(default="", max_length=20_000)
    source: str = Field(default="", max_length=1_000, description="where the content comes from")
    severities: list[Severity] = Field(
        default_factory=list, description="runbooks: the incident severities this runbook is for"
    )
    tags: list[str] = Field(default_factory=list)
    signoff_roles: list[Role] = Field(default_factory=lambda: list(DEFAULT_SIGNOFF_ROLES))
    sections: list[SectionSpec] = Field(min_length=1)

    def items(self) -> list[tuple[SectionSpec, ItemSpec]]:
        return [(s, i) for s in self.sections for i in s.items]

    def item(self, item_id: str) -> ItemSpec | None:
        return next((i for _, i in self.items() if i.id == item_id), None)


def answer_roles(item: ItemSpec) -> frozenset[str]:
    return frozenset(item.answer_roles or DEFAULT_ANSWER_ROLES)


def signoff_roles(tpl: TemplateSpec) -> frozenset[str]:
    """Roles that may sign off a run: the template's, narrowed by every item that restricts sign-off."""
    allowed = set(tpl.signoff_roles)
    for _, item in tpl.items():
        if item.signoff_roles:
            allowed &= set(item.signoff_roles)
    return frozenset(allowed)


def semantic_errors(tpl: TemplateSpec) -> list[tuple[Loc, str]]:
    """Problems Pydantic cannot see field by field, each with the location it belongs to."""
    errors: list[tuple[Loc, str]] = []
    seen_sections: dict[str, int] = {}
    seen_items: dict[str, Loc] = {}
    for si, section in enumerate(tpl.sections):
        if section.id in seen_sections:
            errors.append(
                (
                    ("sections", si, "id"),
                    f"duplicate section id '{section.id}' (also section {seen_sections[section.id]})",
                )
            )
        seen_sections.setdefault(section.id, si)
        for ii, item in enumerate(section.items):
            loc: Loc = ("sections", si, "items", ii)
            if item.id in seen_items:
                first = seen_items[item.id]
                errors.append(
                    ((*loc, "id"), f"duplicate item id '{item.id}' (first used in section {first[1]}, item {first[3]})")
                )
            seen_items.setdefault(item.id, loc)
            for ti, tag in enumerate(item.tags):
                if not re.fullmatch(TAG, tag):
                    errors.append(((*loc, "tags", ti), f"tag {tag!r} must match {TAG}"))
            for ri, ref in enumerate(item.refs):
                if not ref.strip() or len(ref) > 200:
                    errors.append(((*loc, "refs", ri), "a reference must be 1-200 characters"))
    for ti, tag in enumerate(tpl.tags):
        if not re.fullmatch(TAG, tag):
            errors.append((("tags", ti), f"tag {tag!r} must match {TAG}"))
    if not signoff_roles(tpl):
        errors.append(
            (
                ("signoff_roles",),
                "no role may sign off: the template's signoff_roles and the items' signoff_roles "
                "have no role in common",
            )
        )
    if tpl.severities and tpl.kind != "runbook":
        errors.append((("severities",), "severities are only for kind 'runbook'"))
    return errors
