"""The context a use case runs in: session, acting principal, clock, settings, request id."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from charter.access.principal import Principal
    from charter.clock import Clock
    from charter.ledger.models import LedgerEntry
    from charter.settings import Settings


@dataclass
class Ctx:
    session: Session
    principal: Principal
    clock: Clock
    settings: Settings
    request_id: str | None = None

    def require(self, permission: str) -> None:
        self.principal.require(permission)

    def now(self) -> Any:
        return self.clock.now()

    def record(
        self,
        action: str,
        entity_type: str,
        entity_id: str | int,
        before: Any = None,
        after: Any = None,
        reason: str | None = None,
    ) -> LedgerEntry:
        """Append a ledger entry for a change made in this context."""
        from charter.ledger.service import append

        return append(self, action, entity_type, entity_id, before, after, reason)

    def commit(self) -> None:
        """Only the commit owner (request, CLI command, worker job) calls this."""
        self.session.commit()
