"""FastAPI app factory: mounts every domain router, the console, /metrics and health checks."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from anyio import to_thread
from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from charter import __version__
from charter.http.problems import RequestPlumbing, install_error_handlers, problem_response
from charter.kit import routing
from charter.kit.clock import Clock, SystemClock
from charter.kit.db import make_engine, make_session_factory
from charter.kit.migrate import migration_status
from charter.kit.registry import load_all, load_models
from charter.kit.settings import Settings
from charter.kit.sqlite import checkpoint_wal
from charter.sweeps import start_sweeper
from charter.web.app import install as install_console


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    session_factory: sessionmaker[Session] | None = None,
    clock: Clock | None = None,
    sweeper_interval: float | None = None,
) -> FastAPI:
    """Build the app. With sweeper_interval (seconds), a background thread runs the periodic sweeps
    (escalations, deadlines, alert "no data", notification delivery) while the app is served."""
    settings = settings or Settings()
    if session_factory is None:
        engine = engine or make_engine(settings.db_url)
        session_factory = make_session_factory(engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Everything imported and built so far lives as long as the process: freeze it out of the garbage
        # collector's reach, so a full collection walks only what requests allocate (a full collection of
        # the ~240k start-up objects took ~140 ms and stalled every request in flight; docs/decisions.md).
        gc.collect()
        gc.freeze()
        to_thread.current_default_thread_limiter().total_tokens = settings.worker_threads
        sweeper = start_sweeper(app, interval=sweeper_interval) if sweeper_interval else None
        try:
            yield
        finally:
            if sweeper is not None:
                sweeper.stop()
            checkpoint_wal(session_factory.kw["bind"])  # a clean shutdown leaves no -wal data behind

    app = FastAPI(
        lifespan=lifespan,
        title="Charter",
        version=__version__,
        description="AI governance and operations: policy, risk, controls, releases, monitoring, "
        "incidents — with a tamper-evident audit ledger.",
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.session_factory = session_factory
    app.state.clock = clock or SystemClock()
    registry = CollectorRegistry()
    app.state.metrics_registry = registry
    install_error_handlers(app)
    app.add_middleware(
        RequestPlumbing,
        max_body=settings.max_body_bytes,
        max_upload=settings.max_upload_bytes,
        registry=registry,
    )

    load_models()  # every table known before the first request
    # SQLite reads never wait for a lock: GET endpoints run on the event loop (charter.kit.routing, D10).
    inline_reads = session_factory.kw["bind"].dialect.name == "sqlite"
    app.state.inline_reads = inline_reads
    for module in load_all("api"):
        for router in getattr(module, "routers", (module.router,)):
            routing.add_routes(app.router, router, inline_reads=inline_reads)  # flat: see charter.kit.routing

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], response_model=None)
    def readyz() -> Any:
        try:
            with session_factory() as session:
                session.execute(text("SELECT 1"))
                status = migration_status(session.connection())
        except Exception as exc:  # readiness reports, it does not raise
            return problem_response(503, "Not ready", f"database unreachable: {exc.__class__.__name__}")
        if not status["current"]:
            return problem_response(
                503, "Not ready", "database migrations are not current; run 'charter db upgrade'", **status
            )
        return {"status": "ready", **status}

    @app.get("/metrics", tags=["health"], include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    install_console(app)
    routing.install(app.router)
    return app
