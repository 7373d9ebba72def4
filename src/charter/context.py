"""The context a use case runs in: session, acting principal, clock, settings, request id.

`Ctx.record` appends the change to the ledger in the same transaction (charter.ledger.chain.append); the
commit owner (the request, the CLI command, the worker job) calls `commit`. Below every domain, above the
ledger: the ledger never imports this module.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from charter.kit.clock import Clock, SystemClock
from charter.kit.db import make_engine, make_session_factory
from charter.kit.errors import CharterError
from charter.kit.migrate import migration_status
from charter.kit.principal import SYSTEM, Principal
from charter.kit.registry import load_all
from charter.kit.settings import Settings
from charter.ledger.chain import append
from charter.ledger.models import LedgerEntry


@dataclass
class Ctx:
    session: Session
    principal: Principal
    clock: Clock
    settings: Settings
    request_id: str | None = None

    def require(self, permission: str) -> None:
        self.principal.require(permission)

    def now(self) -> datetime:
        return self.clock.now()

    def acting_as(self, principal: Principal) -> Ctx:
        """The same unit of work, acting as another principal (e.g. the system for automatic steps)."""
        return replace(self, principal=principal)

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
        return append(
            self.session,
            actor=self.principal.actor,
            ts=self.clock.now(),
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            before=before,
            after=after,
            reason=reason,
            request_id=self.request_id,
            checkpoint_every=self.settings.checkpoint_every,
            key_path=self.settings.ledger_key_path,
        )

    def commit(self) -> None:
        """Only the commit owner (request, CLI command, worker job) calls this."""
        self.session.commit()


class NotMigrated(CharterError):
    status = 503
    type_slug = "not-migrated"
    title = "Database not migrated"


@contextmanager
def local_context(commit: bool = True) -> Iterator[Ctx]:
    """A context on the local database (CHARTER_DATABASE_URL / CHARTER_DATA_DIR) for admin commands.

    Acts as the built-in 'system' principal named after the operating-system user.
    """
    settings = Settings()
    engine = make_engine(settings.db_url)
    try:
        with engine.connect() as conn:
            if not migration_status(conn)["current"]:
                raise NotMigrated("the database is not migrated; run 'charter db upgrade' first")
    except BaseException:
        engine.dispose()
        raise
    session = make_session_factory(engine)()
    principal = Principal(kind="system", user_id=None, name=f"cli:{getpass.getuser()}", role="admin")
    ctx = Ctx(session=session, principal=principal, clock=SystemClock(), settings=settings)
    try:
        yield ctx
        if commit:
            ctx.commit()
    finally:
        session.rollback()
        session.close()
        engine.dispose()


def install_shipped(ctx: Ctx) -> list[str]:
    """Install every domain's shipped content (its `defaults.py`: gate policies, SOP templates, ...) as the
    system, in ctx's transaction; returns one note per thing installed. Idempotent: what is installed
    already, or was changed by the organisation, is left alone. Run by `charter db upgrade` and at server
    start — reads never install anything."""
    system = ctx.acting_as(SYSTEM)
    notes: list[str] = []
    for module in load_all("defaults"):
        notes.extend(module.install(system))
    return notes
