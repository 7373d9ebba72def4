"""Start-up: migrate, install the shipped content, optionally seed the demo, create the first admin while there
is no enabled admin. `charter db upgrade` runs the first two; `charter serve` all of them."""

from __future__ import annotations

from sqlalchemy import Engine

from charter.access.service import bootstrap_admin
from charter.context import Ctx, install_shipped
from charter.demo.data import DEMO_PASSWORD
from charter.demo.seed import seed_demo
from charter.kit.clock import Clock, SystemClock
from charter.kit.db import make_engine, make_session_factory
from charter.kit.migrate import upgrade
from charter.kit.principal import SYSTEM
from charter.kit.settings import Settings


def install_defaults(engine: Engine, settings: Settings, clock: Clock | None = None) -> list[str]:
    """Install every domain's shipped content in one transaction (charter.context.install_shipped)."""
    with make_session_factory(engine)() as session:
        ctx = Ctx(session=session, principal=SYSTEM, clock=clock or SystemClock(), settings=settings)
        notes = install_shipped(ctx)
        ctx.commit()
    return notes


def migrate(engine: Engine, settings: Settings, clock: Clock | None = None) -> list[str]:
    """Migrate the schema to head and install the shipped content (`charter db upgrade`)."""
    upgrade(engine)
    url = engine.url.render_as_string(hide_password=True)
    return [f"database: {url} (migrated)", *install_defaults(engine, settings, clock)]


def prepare(settings: Settings, *, demo: bool = False) -> tuple[Engine, list[str]]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.db_url)
    upgrade(engine)
    notes = [f"database: {engine.url.render_as_string(hide_password=True)} (migrated)"]
    factory = make_session_factory(engine)
    with factory() as session:
        ctx = Ctx(session=session, principal=SYSTEM, clock=SystemClock(), settings=settings)
        password = settings.admin_password.get_secret_value() if settings.admin_password else None
        if demo:  # first: the demo's history is backdated (shipped content included: it installs it at its
            # start), and the ledger's timestamps must stay in order
            notes.extend(seed_demo(ctx))
        notes.extend(install_shipped(ctx))
        created = bootstrap_admin(ctx, password)
        ctx.commit()
    if created:
        _user, clear = created
        shown = "(from CHARTER_ADMIN_PASSWORD)" if password else clear
        notes.append(f"created the first administrator: username 'admin', password {shown} — shown once")
    if demo:
        notes.append(
            f"demo logins (password '{DEMO_PASSWORD}'): grace (governance), alan (approver), ada (engineer), "
            "audrey (auditor)"
        )
    return engine, notes
