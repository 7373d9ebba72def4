"""Domain errors. Each maps once (in app.py) to an RFC 9457 problem+json response."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class CharterError(Exception):
    """Base of every error a person can act on."""

    status = 400
    type_slug = "bad-request"
    title = "Bad request"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra

    def problem(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": f"https://charter.dev/problems/{self.type_slug}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        body.update(self.extra)
        return body


class NotFound(CharterError):
    status = 404
    type_slug = "not-found"
    title = "Not found"


class Unauthenticated(CharterError):
    status = 401
    type_slug = "unauthenticated"
    title = "Authentication required"


class PermissionDenied(CharterError):
    status = 403
    type_slug = "forbidden"
    title = "Permission denied"


class Conflict(CharterError):
    status = 409
    type_slug = "conflict"
    title = "Conflict"


class StaleVersion(Conflict):
    type_slug = "stale-version"
    title = "Stale version"

    def __init__(self, entity: str, given: int, current: int) -> None:
        super().__init__(
            f"{entity} was changed by someone else: you sent version {given}, the current version is "
            f"{current}. Reload and apply your change again.",
            current_version=current,
        )


class IllegalTransition(Conflict):
    type_slug = "illegal-transition"
    title = "Illegal transition"

    def __init__(self, entity: str, current: str, requested: str, allowed: Iterable[str]) -> None:
        allowed_list = sorted(allowed)
        allowed_text = ", ".join(allowed_list) if allowed_list else "none (final state)"
        super().__init__(
            f"{entity} cannot move from '{current}' to '{requested}'. Allowed from '{current}': {allowed_text}.",
            current=current,
            requested=requested,
            allowed=allowed_list,
        )


class ValidationFailed(CharterError):
    status = 422
    type_slug = "validation-error"
    title = "Invalid input"

    def __init__(self, detail: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail, errors=errors or [])


class PayloadTooLarge(CharterError):
    status = 413
    type_slug = "payload-too-large"
    title = "Payload too large"
