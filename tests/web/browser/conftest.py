"""Browser tests: the real server (uvicorn on a free localhost port, its own fresh database) driven by
Debian's Chromium through Playwright. One server and one browser per test session; a new browser context
(cookies, storage) per test.

Skipped, with the reason, only when Chromium or the playwright package is missing on this machine
(`apt-get install chromium`; never `playwright install`). CI installs Chromium, so they run there.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHARTER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE = Path(__file__).parent.parent / "axe.min.js"


def _missing() -> str | None:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"Chromium not found at {CHROMIUM} (install it: apt-get install -y chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    reason = _missing()
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    session_factory: object


@pytest.fixture(scope="session")
def live_db_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database of the live server's own (never the suite's rollback-per-test database)."""
    pg = os.environ.get("CHARTER_TEST_DATABASE_URL")
    if not pg:
        yield f"sqlite:///{tmp_path_factory.mktemp('live') / 'charter.kit.db'}"
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = make_url(pg)
    name = f"charter_web_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": name})
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture(scope="session")
def live_server(live_db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    if _missing():
        pytest.skip(_missing() or "")
    import uvicorn

    from charter.kit.registry import load_models

    load_models()
    import charter.web.models  # noqa: F401
    from charter.http.app import create_app
    from charter.kit.db import Base, make_engine, make_session_factory
    from charter.kit.migrate import upgrade
    from charter.kit.settings import Settings
    from tests.web.browser.seed import seed

    data_dir = tmp_path_factory.mktemp("live-data")
    settings = Settings(env="test", data_dir=data_dir, database_url=live_db_url)
    engine = make_engine(live_db_url)
    upgrade(engine)
    Base.metadata.create_all(engine)  # tables whose migration the lead has not generated yet
    factory = make_session_factory(engine)
    seed(factory, settings)
    app = create_app(settings, engine=engine, session_factory=factory)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the live server did not start")
        time.sleep(0.05)
    try:
        yield LiveServer(url=f"http://127.0.0.1:{port}", session_factory=factory)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        engine.dispose()


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    if _missing():
        pytest.skip(_missing() or "")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def signed_in_states() -> dict[str, object]:
    """Cookies of one sign-in per role, reused by later tests (signing in runs argon2 each time)."""
    return {}


@pytest.fixture
def new_page(chromium, live_server: LiveServer, signed_in_states) -> Iterator[Callable[..., object]]:  # type: ignore[no-untyped-def]
    """new_page(role=None, **context_options): a page in a fresh context, signed in as that role's user.

    Console errors (e.g. a Content-Security-Policy violation) are collected on page.console_errors.
    """
    contexts = []

    def make(role: str | None = None, **options: object):  # type: ignore[no-untyped-def]
        options.setdefault("viewport", {"width": 1280, "height": 900})
        if role is not None and role in signed_in_states:
            options["storage_state"] = signed_in_states[role]
        context = chromium.new_context(base_url=live_server.url, **options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.console_errors = errors  # type: ignore[attr-defined]
        if role is not None and role not in signed_in_states:
            sign_in(page, role)
            signed_in_states[role] = context.storage_state()
        return page

    yield make
    for context in contexts:
        context.close()


def sign_in(page, username: str, password: str | None = None) -> None:  # type: ignore[no-untyped-def]
    from tests.web.browser.seed import PASSWORD

    if "/login" not in page.url:
        page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password or PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/login" not in url)


def axe_violations(page, impacts: tuple[str, ...] = ("serious", "critical")) -> list[dict[str, object]]:  # type: ignore[no-untyped-def]
    """Run axe-core (vendored in tests/web/) on the page; the context must bypass CSP to inject it."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in impacts
    ]
