"""Who is acting: a user (by password or personal token) or a machine token."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from charter.kit.errors import PermissionDenied
from charter.kit.roles import PERMISSIONS, permissions_for


@dataclass(frozen=True)
class Principal:
    kind: Literal["user", "token", "system"]
    user_id: int | None
    name: str
    role: str
    scopes: frozenset[str] | None = None  # None: all of the role's permissions
    token_id: int | None = None
    permissions: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        perms = permissions_for(self.role)
        if self.scopes is not None:
            perms = perms & self.scopes
        object.__setattr__(self, "permissions", perms)

    @property
    def actor(self) -> str:
        """How the ledger names this principal."""
        if self.kind == "token":
            return f"token:{self.token_id}:{self.name}"
        return f"{self.kind}:{self.name}"

    def can(self, permission: str) -> bool:
        return permission in self.permissions

    def require(self, permission: str) -> None:
        if permission not in PERMISSIONS:
            raise KeyError(f"unknown permission {permission!r}")  # a programming error, not a 403
        if permission not in self.permissions:
            if self.scopes is not None and permission in permissions_for(self.role):
                raise PermissionDenied(
                    f"this token lacks the scope '{permission}' ({PERMISSIONS[permission]}); "
                    f"its scopes are: {', '.join(sorted(self.scopes)) or 'none'}",
                    required=permission,
                )
            raise PermissionDenied(
                f"role '{self.role}' may not {PERMISSIONS[permission]} (needs '{permission}')",
                required=permission,
            )


SYSTEM = Principal(kind="system", user_id=None, name="charter", role="admin")
"""The principal of automatic decisions (sweeps, scheduled jobs)."""


def require_distinct(actor: Principal, other_user_id: int | None, what: str) -> None:
    """Separation of duties: the person who did a thing cannot also approve it."""
    if actor.user_id is not None and other_user_id is not None and actor.user_id == other_user_id:
        raise PermissionDenied(
            f"separation of duties: you cannot {what} your own work; another person must do it",
            rule="separation-of-duties",
        )
