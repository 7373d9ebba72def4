from __future__ import annotations

import re
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from charter.inventory.rules import DataCategory, DeploymentType, LifecycleStage, RiskTier

KEY = r"^[a-z0-9][a-z0-9-]{1,62}[a-z0-9]$"
TAG = r"^[a-z0-9][a-z0-9:._-]{0,63}$"


class _Fields(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("tags", check_fields=False)
    @classmethod
    def _dedupe_tags(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else sorted(set(v))

    @field_validator("data_categories", check_fields=False)
    @classmethod
    def _dedupe_categories(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else sorted(set(v))


class SystemCreate(_Fields):
    key: str = Field(pattern=KEY, description="slug: lower-case letters, digits and '-', 3-64 characters")
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=20_000)
    problem_statement: str = Field(default="", max_length=20_000, description="seed 003: define the problem")
    owner: str | None = Field(default=None, description="username of the system owner; default: you")
    business_unit: str = Field(default="", max_length=200)
    deployment_type: DeploymentType
    vendor_name: str | None = Field(default=None, max_length=200)
    data_categories: list[DataCategory] = Field(default_factory=list)
    users_affected: int | None = Field(default=None, ge=0)
    risk_tier: RiskTier = "unclassified"
    risk_tier_reason: str = Field(default="", max_length=5_000)
    tags: list[str] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _vendor_rules(self) -> SystemCreate:
        if self.deployment_type in ("vendor_api", "vendor_saas") and not self.vendor_name:
            raise ValueError("vendor_name is required for deployment_type vendor_api and vendor_saas")
        if self.risk_tier != "unclassified" and not self.risk_tier_reason:
            raise ValueError("risk_tier_reason is required when risk_tier is set")
        for tag in self.tags:
            _check_tag(tag)
        return self


class SystemUpdate(_Fields):
    version: int = Field(description="the version you read; a stale version is refused with 409")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=20_000)
    problem_statement: str | None = Field(default=None, max_length=20_000)
    owner: str | None = None
    business_unit: str | None = Field(default=None, max_length=200)
    deployment_type: DeploymentType | None = None
    vendor_name: str | None = Field(default=None, max_length=200)
    data_categories: list[DataCategory] | None = None
    users_affected: int | None = Field(default=None, ge=0)
    risk_tier: RiskTier | None = None
    risk_tier_reason: str | None = Field(default=None, max_length=5_000)
    tags: list[str] | None = Field(default=None, max_length=50)
    reason: str | None = Field(default=None, max_length=2_000)

    @field_validator(
        "name",
        "description",
        "problem_statement",
        "business_unit",
        "deployment_type",
        "data_categories",
        "risk_tier",
        "risk_tier_reason",
        "tags",
    )
    @classmethod
    def _not_null(cls, v: object) -> object:
        # Runs only for fields the client sent: an explicit null is refused, an absent field is kept.
        if v is None:
            raise ValueError("cannot be null; leave the field out to keep the current value")
        return v

    @model_validator(mode="after")
    def _tags(self) -> SystemUpdate:
        for tag in self.tags or []:
            _check_tag(tag)
        if self.risk_tier is not None and not self.risk_tier_reason:
            raise ValueError("risk_tier_reason is required when changing risk_tier")
        return self


def _check_tag(tag: str) -> None:
    if not re.fullmatch(TAG, tag):
        raise ValueError(f"tag {tag!r} must match {TAG}")


class Transition(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to: LifecycleStage
    version: int
    reason: str | None = Field(default=None, max_length=2_000)


class SystemRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    key: str
    name: str
    description: str
    problem_statement: str
    owner: str | None
    business_unit: str
    deployment_type: str
    vendor_name: str | None
    data_categories: list[str]
    users_affected: int | None
    stage: str
    risk_tier: str
    risk_tier_reason: str
    tags: list[str]
    created_at: datetime
    updated_at: datetime
    stage_changed_at: datetime
    version: int
    allowed_transitions: list[str]
