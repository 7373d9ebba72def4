"""What the live server starts with: the demo (charter serve --demo, extended with the console's living
scenario) plus one user per role (username = role name), all through the services."""

from __future__ import annotations

from typing import Any

from charter.access.schemas import UserCreate
from charter.access.service import _create_user
from charter.context import Ctx
from charter.kit.clock import SystemClock
from charter.kit.principal import SYSTEM
from charter.kit.roles import ROLES
from charter.kit.settings import Settings

PASSWORD = "browser-test-password"


def seed(factory: Any, settings: Settings) -> None:
    from charter.demo.seed import seed_demo

    with factory() as session:
        ctx = Ctx(session=session, principal=SYSTEM, clock=SystemClock(), settings=settings, request_id="seed")
        seed_demo(ctx)  # first: its history is backdated, and ledger timestamps stay in order
        for role in ROLES:
            _create_user(
                ctx, UserCreate(username=role, role=role, password=PASSWORD, display_name=f"{role.title()} User")
            )
        session.commit()
