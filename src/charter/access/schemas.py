from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from charter.kit.roles import PERMISSIONS, Role

USERNAME = r"^[a-z0-9][a-z0-9._-]{1,79}$"


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(pattern=USERNAME, description="lower-case letters, digits, . _ -")
    role: Role
    password: str = Field(min_length=12, max_length=256)
    display_name: str = Field(default="", max_length=200)
    email: EmailStr | None = None


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int
    role: Role | None = None
    display_name: str | None = Field(default=None, max_length=200)
    email: EmailStr | None = None
    disabled: bool | None = None
    password: str | None = Field(default=None, min_length=12, max_length=256)

    @field_validator("role", "display_name", "disabled")
    @classmethod
    def _not_null(cls, v: object) -> object:
        # Runs only for fields the client sent: an explicit null is refused, an absent field is kept.
        if v is None:
            raise ValueError("cannot be null; leave the field out to keep the current value")
        return v


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    username: str
    display_name: str
    email: str | None
    role: str
    disabled: bool
    created_at: datetime
    version: int


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    scopes: list[str] | None = Field(default=None, description="permissions the token may use; omit for all")
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)
    username: str | None = Field(default=None, description="owner (admins only); default: yourself")

    @field_validator("scopes")
    @classmethod
    def _known_scopes(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return v
        unknown = sorted(set(v) - set(PERMISSIONS))
        if unknown:
            raise ValueError(
                f"unknown scope {', '.join(unknown)}; scopes are permissions: {', '.join(sorted(PERMISSIONS))}"
            )
        return sorted(set(v))


class TokenRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    kind: str
    prefix: str
    scopes: list[str] | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    created_by: str
    username: str | None = None


class TokenIssued(TokenRead):
    token: str = Field(description="shown once; store it now")


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(max_length=80)
    password: str = Field(max_length=256)


class Me(BaseModel):
    username: str
    role: str
    kind: str
    permissions: list[str]
