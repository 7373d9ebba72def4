from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from charter.inventory.rules import DeploymentStage

SLUG = r"^[a-z0-9][a-z0-9-]{0,62}[a-z0-9]$"
RULE_ID = r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"


class RuleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str = Field(pattern=RULE_ID, description="slug, unique in the policy")
    description: str = Field(default="", max_length=2_000, description="what the rule asks, in words")
    expression: str = Field(min_length=1, max_length=4_000, description="a CEL boolean over the gate facts")
    message: str = Field(
        default="",
        max_length=1_000,
        description="the reason shown when the rule fails; '{namespace.field}' is filled from the facts",
    )
    kind: Literal["gate", "approval"] = Field(
        default="gate",
        description="'approval' rules also decide when a release's status at the stage becomes 'approved'",
    )


class PolicySave(BaseModel):
    """A new version of a named policy (the name is in the URL)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    stage: DeploymentStage
    description: str = Field(default="", max_length=5_000)
    enabled: bool = True
    rules: list[RuleSpec] = Field(min_length=1, max_length=100)
    reason: str | None = Field(default=None, max_length=2_000, description="why this version (kept in the ledger)")

    @model_validator(mode="after")
    def _unique_ids(self) -> PolicySave:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.id in seen:
                raise ValueError(f"rule id '{rule.id}' is used twice; rule ids must be unique in a policy")
            seen.add(rule.id)
        return self


class PolicyDocument(PolicySave):
    """A policy as written in YAML (content/policies/*.yaml or `charter policy save FILE`)."""

    name: str = Field(pattern=SLUG)


class PolicyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    version: int
    stage: str
    description: str
    enabled: bool
    source: str
    rules: list[RuleSpec]
    reason: str | None
    created_at: datetime
    created_by: str


class ValidateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rules: list[RuleSpec] = Field(min_length=1, max_length=100)


class FactsProviderRead(BaseModel):
    name: str
    schema_: Any = Field(alias="schema")
    builtin: bool
    registered: bool
