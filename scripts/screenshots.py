"""Screenshots of the console for the README (`make screenshots` → docs/screenshots/*.png).

Starts the real server on a free localhost port with a fresh SQLite database seeded with the demo
(`charter serve --demo` plus the console's living scenario), and drives Debian's Chromium through
Playwright. Needs: apt-get install chromium; pip install -e '.[dev]'.
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

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


def seeded_server(data_dir: Path) -> tuple[str, object]:
    import uvicorn
    from sqlalchemy import select

    from charter.kit.registry import load_models

    load_models()
    import charter.web.models  # noqa: F401
    from charter.bootstrap import migrate
    from charter.context import Ctx
    from charter.demo.seed import seed_demo
    from charter.http.app import create_app
    from charter.incidents.models import Incident
    from charter.kit.clock import SystemClock
    from charter.kit.db import make_engine, make_session_factory
    from charter.kit.principal import SYSTEM
    from charter.kit.settings import Settings

    settings = Settings(env="dev", data_dir=data_dir)
    engine = make_engine(settings.db_url)
    migrate(engine, settings)  # the schema and the shipped content (policies, SOPs)
    factory = make_session_factory(engine)
    with factory() as session:
        ctx = Ctx(session=session, principal=SYSTEM, clock=SystemClock(), settings=settings, request_id="screens")
        seed_demo(ctx)
        session.commit()
        incident = session.execute(select(Incident.key).order_by(Incident.id).limit(1)).scalar_one_or_none()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(settings, engine=engine, session_factory=factory)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise SystemExit("the server did not start")
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", (server, incident)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="docs/screenshots", help="directory for the PNG files")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument(
        "--widths", default="1440,390", help="viewport widths in CSS px, comma-separated (file name-WIDTH.png)"
    )
    parser.add_argument("--only", default="", help="only the shots whose file name contains this text")
    args = parser.parse_args()
    if not Path(args.chromium).exists():
        print(f"Chromium not found at {args.chromium}: apt-get install -y chromium", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    from charter.demo.data import DEMO_PASSWORD

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        url, (server, incident) = seeded_server(Path(tmp))
        shots = [
            ("grace", "/", "dashboard", None),
            ("alan", "/", "home-approver", None),
            ("ada", "/", "home-engineer", None),
            ("audrey", "/", "home-auditor", None),
            ("grace", "/systems/support-chatbot", "system", None),
            ("grace", "/systems/support-chatbot/metrics", "system-metrics", None),
            ("grace", "/risks", "risks", None),
            ("alan", "/releases", "release-approval", "approve"),
            ("grace", f"/incidents/{incident}" if incident else "/incidents", "incident", None),
        ]
        widths = [int(w) for w in args.widths.split(",") if w.strip()]
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
            pages = {}
            for width, (user, path, stem, action) in [(w, s) for w in widths for s in shots]:
                name = f"{stem}-{width}.png"
                if args.only not in name:
                    continue
                if (user, width) not in pages:
                    context = browser.new_context(base_url=url, viewport={"width": width, "height": 900})
                    page = context.new_page()
                    page.goto("/login")
                    page.get_by_label("Username").fill(user)
                    page.get_by_label("Password").fill(DEMO_PASSWORD)
                    page.get_by_role("button", name="Sign in").click()
                    page.wait_for_url(lambda u: "/login" not in u)
                    pages[(user, width)] = page
                page = pages[(user, width)]
                page.goto(path)
                if action == "approve":
                    link = page.get_by_role("link", name="Review", exact=True)
                    if link.count():
                        link.first.click()
                        page.locator("ul.rules").wait_for(timeout=10_000)
                page.wait_for_load_state("networkidle")
                page.screenshot(path=str(out / name), full_page=True)
                print(f"wrote {out / name}  ({page.url.removeprefix(url)})")
            browser.close()
        server.should_exit = True  # type: ignore[attr-defined]
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
