"""Prompt registry API shapes. Content (template, messages, config) is validated by the prompt core
(charter.prompts.templates), which reports line and column; these schemas check only the envelope."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from charter.prompts.templates import PromptType


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Message(_In):
    role: str = Field(min_length=1, max_length=32)
    content: str = Field(max_length=200_000)


class VersionCreate(_In):
    """A new version of a prompt (the prompt is created with its first version)."""

    name: str = Field(min_length=1, max_length=128)
    type: PromptType = "text"
    template: str | None = Field(default=None, max_length=200_000)
    messages: list[Message] | None = Field(default=None, max_length=200)
    config: dict[str, Any] = Field(default_factory=dict)
    tags: list[str] | None = Field(default=None, max_length=50, description="replaces the prompt's tags when given")
    message: str = Field(default="", max_length=5_000, description="commit message")
    base_version: int | None = Field(
        default=None, ge=0, description="the latest version you edited (0: a new prompt); stale → 409"
    )

    def content_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"type": self.type, "config": self.config}
        if self.type == "chat":
            body["messages"] = [m.model_dump() for m in self.messages] if self.messages is not None else None
        else:
            body["template"] = self.template
        return body


class LabelMove(_In):
    version: int = Field(ge=1)
    reason: str | None = Field(default=None, max_length=2_000)
    current: int | None = Field(
        default=None, ge=0, description="the version you saw the label at (0: unset); a different one → 409"
    )


class SettingsIn(_In):
    protected_labels: list[str] = Field(max_length=20)
    version: int | None = Field(default=None, description="the settings version you read (omit when none is set)")
    reason: str | None = Field(default=None, max_length=2_000)


class RenderIn(_In):
    variables: dict[str, Any] = Field(default_factory=dict)
    label: str | None = None
    version: int | None = Field(default=None, ge=1)
    strict: bool = False


class PushFile(_In):
    name: str = Field(min_length=1, max_length=128)
    path: str = Field(min_length=1, max_length=1_000)
    type: PromptType = "text"
    template: str | None = Field(default=None, max_length=200_000)
    messages: list[Message] | None = Field(default=None, max_length=200)
    config: dict[str, Any] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list, max_length=50)
    message: str | None = Field(default=None, max_length=5_000)


class PushIn(_In):
    files: list[PushFile] = Field(max_length=10_000)
    dry_run: bool = False
    message: str | None = Field(default=None, max_length=5_000, description="commit message for files without one")


class ImportIn(_In):
    format: Literal["langfuse", "mlflow"]
    document: Any


class SettingsRead(BaseModel):
    system: str
    protected_labels: list[str]
    version: int | None
    updated_by: str | None
    updated_at: datetime | None


class PromptRead(BaseModel):
    system: str
    name: str
    type: str
    tags: list[str]
    latest: int
    labels: dict[str, int]
    protected_labels: list[str]
    created_by: str
    created_at: datetime
    updated_at: datetime
    version: int


class VersionRead(BaseModel):
    system: str
    name: str
    version: int
    name_at_version: str
    hash: str
    sha256: str
    type: str
    template: str | None
    messages: list[dict[str, str]] | None
    config: dict[str, Any]
    variables: list[str]
    includes: list[str]
    message: str
    author: str
    created_at: datetime
    labels: list[str]
    created: bool = True


class LabelEventRead(BaseModel):
    id: int
    name: str
    label: str
    from_version: int | None
    to_version: int | None
    kind: str
    actor: str
    at: datetime
    reason: str | None
    release: int | None
    deployment_id: int | None
    gate_evaluation_id: int | None
    approvals: list[dict[str, Any]]
    evaluation: dict[str, Any] | None = None


class LabelRead(BaseModel):
    name: str
    label: str
    version: int
    protected: bool
    updated_by: str
    updated_at: datetime
