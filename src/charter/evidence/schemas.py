from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field


class LinkCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    url: AnyHttpUrl = Field(description="an http(s) address of the evidence")
    title: str = Field(min_length=1, max_length=300)
    description: str = Field(default="", max_length=5_000)
    expires_at: datetime | None = Field(default=None, description="after this, items it backs need review")
    run_id: int | None = Field(default=None, description="attach to this procedure run's item (with item_id)")
    item_id: str | None = Field(default=None, max_length=64)


class EvidenceRead(BaseModel):
    id: int
    kind: Literal["file", "link"]
    title: str
    description: str
    sha256: str | None
    size_bytes: int | None
    media_type: str | None
    filename: str | None
    url: str | None
    added_by: str
    added_at: datetime
    expires_at: datetime | None
    expired: bool
    download_path: str | None = Field(description="GET this path (files only) to download the content")
