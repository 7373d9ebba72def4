"""Console server time of every main page at 50 systems / 2,000 risks / 100,000 metric points (SQLite).

    .venv/bin/python benchmarks/console.py [--scale small|large] [--systems N] [--risks N] [--points N] [--runs 30]

--scale small is 50 systems / 2,000 risks / 100,000 points (issue 13); --scale large is 500 / 10,000 /
1,000,000 (issue 21); --systems, --risks and --points override either.

Seeds a fresh SQLite database: the systems through the inventory service, the risks and the metric points
in bulk with SQLAlchemy Core (points through the monitoring ingest, which is Core inserts plus the roll-ups
its charts read), with one system's accuracy below its alert threshold. Then times every main page through
the real ASGI app with a signed-in session: the home page of each role (governance, approver, engineer,
auditor), systems, a system's tabs, metrics, risks, releases, incidents and the ledger. Prints median and
p95 per page; the peer in the same run is GET /healthz (the floor of any request through the stack).
Target: every page p95 < 100 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

TARGET_MS = 100.0
SCALES = {"small": (50, 2000, 100_000), "large": (500, 10_000, 1_000_000)}


def seed(factory: Any, settings: Any, systems: int, risks: int, points: int) -> None:
    from sqlalchemy import insert, select

    from charter.access.schemas import UserCreate
    from charter.access.service import _create_user
    from charter.context import Ctx
    from charter.inventory import service as inventory
    from charter.inventory.models import AISystem
    from charter.inventory.schemas import SystemCreate
    from charter.kit.clock import SystemClock
    from charter.kit.principal import SYSTEM, Principal
    from charter.monitoring.metrics import service as ingest
    from charter.risk.matrices.service import active_matrix
    from charter.risk.models import Risk

    clock = SystemClock()
    now = clock.now()
    with factory() as session:
        ctx = Ctx(session=session, principal=SYSTEM, clock=clock, settings=settings, request_id="bench")
        eng = _create_user(ctx, UserCreate(username="eng", role="engineer", password="benchmark-pass"))
        for name, role in (("gov", "governance"), ("appr", "approver"), ("aud", "auditor")):
            _create_user(ctx, UserCreate(username=name, role=role, password="benchmark-pass"))
        as_eng = Ctx(
            session=session,
            principal=Principal(kind="user", user_id=eng.id, name="eng", role="engineer"),
            clock=clock,
            settings=settings,
        )
        for i in range(systems):
            inventory.create_system(
                as_eng, SystemCreate(key=f"system-{i:03d}", name=f"System {i}", deployment_type="in_house_model")
            )
        session.flush()
        ids = list(session.execute(select(AISystem.id).order_by(AISystem.id)).scalars())
        spec = active_matrix(session)
        rows = []
        for n in range(1, risks + 1):
            li, im = n % 5 + 1, (n // 5) % 5 + 1
            rli, rim = max(1, li - 1), max(1, im - 1)
            level = spec.level_for(li * im).key
            rows.append(
                {
                    "number": n,
                    "key": f"RISK-{n:04d}",
                    "system_id": ids[n % len(ids)],
                    "title": f"Risk {n}",
                    "description": "",
                    "category": ("privacy", "fairness", "safety", "security")[n % 4],
                    "owner_id": eng.id,
                    "status": ("assessed", "treating", "identified")[n % 3],
                    "matrix_name": spec.name,
                    "matrix_version": spec.version,
                    "inherent_likelihood": li,
                    "inherent_impact": im,
                    "inherent_score": li * im,
                    "inherent_level": level,
                    "residual_likelihood": rli,
                    "residual_impact": rim,
                    "residual_score": rli * rim,
                    "residual_level": spec.level_for(rli * rim).key,
                    "level": level,
                    "score": li * im,
                    "next_review_at": now + timedelta(days=n % 90 - 10),
                    "created_at": now,
                    "updated_at": now,
                    "status_changed_at": now,
                    "version": 1,
                }
            )
        session.execute(insert(Risk), rows)
        per_system = points // systems
        start = now - timedelta(hours=24)
        step = timedelta(hours=24) / per_system
        for i in range(systems):
            batch = [
                {
                    "name": "accuracy",
                    "value": 0.95 - (0.2 if i == 0 and j > per_system - 5 else 0.0),
                    "ts": (start + j * step).isoformat(),
                }
                for j in range(per_system)
            ]
            for b in range(0, len(batch), 10_000):
                ingest.ingest(
                    as_eng, f"system-{i:03d}", {"batch_id": f"bench-{i}-{b}", "points": batch[b : b + 10_000]}
                )
        session.commit()


PAGES = [
    ("gov", "/"),
    ("appr", "/"),
    ("eng", "/"),
    ("aud", "/"),
    ("gov", "/systems"),
    ("gov", "/systems/system-000"),
    ("gov", "/systems/system-000/risks"),
    ("gov", "/systems/system-000/reviews"),
    ("gov", "/systems/system-000/releases"),
    ("gov", "/systems/system-000/metrics"),
    ("gov", "/systems/system-000/incidents"),
    ("gov", "/systems/system-000/ledger"),
    ("gov", "/monitoring"),
    ("gov", "/risks"),
    ("gov", "/releases"),
    ("gov", "/incidents"),
    ("gov", "/ledger"),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=sorted(SCALES), default="small")
    parser.add_argument("--systems", type=int)
    parser.add_argument("--risks", type=int)
    parser.add_argument("--points", type=int)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    systems, risks, points = SCALES[args.scale]
    args.systems = args.systems or systems
    args.risks = args.risks or risks
    args.points = args.points or points

    from fastapi.testclient import TestClient

    from charter.kit.registry import load_models

    load_models()
    import charter.web.models  # noqa: F401
    from charter.access.models import User
    from charter.bootstrap import migrate
    from charter.http.app import create_app
    from charter.kit.clock import SystemClock
    from charter.kit.db import Base, make_engine, make_session_factory
    from charter.kit.settings import Settings
    from charter.web.auth.session import COOKIE, start

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(env="test", data_dir=Path(tmp))
        engine = make_engine(settings.db_url)
        migrate(engine, settings)  # the schema and the shipped content (policies, SOPs)
        Base.metadata.create_all(engine)
        factory = make_session_factory(engine)
        t0 = time.perf_counter()
        seed(factory, settings, args.systems, args.risks, args.points)
        print(
            f"seeded {args.systems} systems, {args.risks} risks, {args.points} metric points "
            f"in {time.perf_counter() - t0:.1f} s (SQLite, {datetime.now(UTC):%Y-%m-%d}, load {_load()})"
        )
        app = create_app(settings, engine=engine, session_factory=factory)
        clients: dict[str, Any] = {}
        with factory() as session:
            from sqlalchemy import select

            for name in ("gov", "appr", "eng", "aud"):
                user = session.execute(select(User).where(User.username == name)).scalar_one()
                _row, clear = start(session, SystemClock(), user, lifetime=timedelta(hours=1))
                client = TestClient(app)
                client.cookies.set(COOKIE, clear)
                clients[name] = client
            session.commit()

        cpu: list[float] = []

        def timed(who: str, path: str) -> list[float]:
            client = clients[who]
            out = []
            cpu.clear()
            for _ in range(args.runs):
                started, cpu_started = time.perf_counter(), time.process_time()
                r = client.get(path)
                out.append((time.perf_counter() - started) * 1000)
                cpu.append((time.process_time() - cpu_started) * 1000)
                assert r.status_code == 200, f"{path}: {r.status_code} {r.text[:300]}"
            return out

        page = clients["gov"].get("/")
        assert "Out of policy" in page.text and "alerts firing" in page.text, "the governance home is missing panels"
        floor = timed("gov", "/healthz")
        peer = statistics.median(floor)
        worst = 0.0
        print(f"{'page':44} {'median':>8} {'p95':>8} {'cpu med':>8}  (ms, {args.runs} runs each; cpu: this process)")
        for who, path in PAGES:
            timed(who, path)[:3]  # warm-up (template compilation, first queries)
            times = sorted(timed(who, path))
            med, p95 = statistics.median(times), times[int(0.95 * (len(times) - 1))]
            worst = max(worst, p95)
            flag = "" if p95 < TARGET_MS else "  <-- over target"
            print(f"{who + ' ' + path:44} {med:8.1f} {p95:8.1f} {statistics.median(cpu):8.1f}{flag}")
        print(f"peer GET /healthz median {peer:6.1f} ms; machine load {_load()} on {os.cpu_count()} cores")
        ok = worst < TARGET_MS
        print(f"target: every page p95 < {TARGET_MS:.0f} ms -> {'OK' if ok else 'MISSED'} (worst p95 {worst:.1f} ms)")
        engine.dispose()
    return 0 if ok else 1


def _load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
