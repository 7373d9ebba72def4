"""Start-up: migrate, optionally seed the demo, create the first admin while there is no enabled admin."""

from __future__ import annotations

from sqlalchemy import Engine

from charter.access.principal import SYSTEM
from charter.clock import SystemClock
from charter.context import Ctx
from charter.db import make_engine, make_session_factory
from charter.migrate import upgrade
from charter.settings import Settings


def prepare(settings: Settings, *, demo: bool = False) -> tuple[Engine, list[str]]:
    notes: list[str] = []
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.db_url)
    upgrade(engine)
    notes.append(f"database: {engine.url.render_as_string(hide_password=True)} (migrated)")
    factory = make_session_factory(engine)
    with factory() as session:
        from charter.access.service import bootstrap_admin

        ctx = Ctx(session=session, principal=SYSTEM, clock=SystemClock(), settings=settings)
        password = settings.admin_password.get_secret_value() if settings.admin_password else None
        if demo:  # first: the demo's history is backdated, and the ledger's timestamps must stay in order
            from charter.demo import seed_demo

            notes.extend(seed_demo(ctx))
        created = bootstrap_admin(ctx, password)
        ctx.commit()
    if created:
        _user, clear = created
        shown = "(from CHARTER_ADMIN_PASSWORD)" if password else clear
        notes.append(f"created the first administrator: username 'admin', password {shown} — shown once")
    if demo:
        from charter.demo_data import DEMO_PASSWORD

        notes.append(
            f"demo logins (password '{DEMO_PASSWORD}'): grace (governance), alan (approver), ada (engineer), "
            "audrey (auditor)"
        )
    return engine, notes
