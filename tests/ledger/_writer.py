"""A writer process for the concurrency tests: registers one AI system and changes it, committing each change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from charter.context import Ctx
from charter.inventory import service
from charter.inventory.schemas import SystemCreate, SystemUpdate
from charter.kit.clock import SystemClock
from charter.kit.db import make_engine, make_session_factory
from charter.kit.principal import SYSTEM
from charter.kit.settings import Settings


def write_changes(url: str, worker: int, changes: int, data_dir: str, barrier: Any) -> None:
    """`changes` ledger entries through the inventory service: one registration, then updates."""
    engine = make_engine(url)
    factory = make_session_factory(engine)
    settings = Settings(env="test", data_dir=Path(data_dir), checkpoint_every=100)
    key = f"concurrent-{worker}"
    clock = SystemClock()
    barrier.wait(timeout=60)
    try:
        with factory() as session:
            ctx = Ctx(session=session, principal=SYSTEM, clock=clock, settings=settings, request_id=f"w{worker}")
            service.create_system(ctx, SystemCreate(key=key, name=f"Worker {worker}", deployment_type="embedded"))
            ctx.commit()
        for i in range(changes - 1):
            with factory() as session:
                ctx = Ctx(session=session, principal=SYSTEM, clock=clock, settings=settings, request_id=f"w{worker}")
                version = service.get_system(session, key).version
                service.update_system(ctx, key, SystemUpdate(version=version, description=f"change {i}"))
                ctx.commit()
    finally:
        engine.dispose()
