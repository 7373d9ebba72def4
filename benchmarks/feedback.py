"""Feedback benchmarks through the HTTP API, with metric ingest of the same number of points as the peer.

    python benchmarks/feedback.py                          # SQLite
    python benchmarks/feedback.py --interactions 20000 --burst-seconds 3 --rate 1000
    CHARTER_DATABASE_URL=postgresql+psycopg://... python benchmarks/feedback.py --pg

1. Interaction ingest: N interactions in batches of 100 (POST /systems/{key}/interactions), C clients.
   Peer, same run, same server: N metric points in batches of 100 (POST /systems/{key}/metrics).
   Target: >= 5,000 interactions/s.
2. Flag burst: flags posted with a feedback key at a fixed rate (open loop: each flag has a scheduled send
   time; latency is from that time to the answer, so a server that falls behind is charged for the queueing).
   A flag is in its review queue when its request answers (same transaction); the run checks the queue holds
   every flagged interaction afterwards. Target: p95 < 1 s at 1,000 flags/s.

A real uvicorn server runs in a subprocess; the load generator is aiohttp (pip install -e '.[bench]').
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import _free_port, cpu_seconds, serve

BATCH = 100
TARGET_INGEST = 5_000
TARGET_P95 = 1.0
SYSTEM = "bench-bot"


def prepare(db_url: str, data_dir: Path) -> tuple[str, str]:
    """Migrate; admin, a system, a flags-only queue, a machine token and a feedback key. Returns (token, key)."""
    from charter.kit.registry import load_models

    load_models()
    from charter.access.schemas import TokenCreate
    from charter.access.service import bootstrap_admin, issue_token
    from charter.bootstrap import migrate
    from charter.context import Ctx
    from charter.feedback import keys, queues
    from charter.feedback.schemas import KeyCreate, QueueCreate
    from charter.inventory.schemas import SystemCreate
    from charter.inventory.service import create_system
    from charter.kit.clock import SystemClock
    from charter.kit.db import make_engine, make_session_factory
    from charter.kit.principal import SYSTEM as SYS
    from charter.kit.settings import Settings

    settings = Settings(env="dev", data_dir=data_dir, database_url=db_url)
    engine = make_engine(db_url)
    migrate(engine, settings)
    with make_session_factory(engine)() as session:
        ctx = Ctx(session=session, principal=SYS, clock=SystemClock(), settings=settings)
        bootstrap_admin(ctx, "bench-password-123456")
        create_system(ctx, SystemCreate(key=SYSTEM, name="Bench bot", deployment_type="in_house_model"))
        queues.create_queue(ctx, QueueCreate(key="bench-review", system=SYSTEM, sampling={"mode": "none"}))
        # default spike settings: the burst opens one incident early on, as it would in production
        scopes = ["interactions:write", "metrics:write"]
        _token, clear = issue_token(ctx, TokenCreate(name="bench", scopes=scopes, username="admin"))
        key = keys.create_key(ctx, SYSTEM, KeyCreate(name="bench", rate_per_minute=1_000_000)).key
        ctx.commit()
    engine.dispose()
    assert key is not None
    return clear, key


def interaction_bodies(n: int, prefix: str) -> list[bytes]:
    out = []
    for b in range(0, n, BATCH):
        items = [
            {
                "id": f"{prefix}-{k}",
                "input": f"How do I reset my password? (ticket {k})",
                "output": "Open Settings, choose Security, then Reset password; a link is sent to your e-mail.",
                "model": "gpt-4o-mini",
                "prompt": "support@7",
                "user": f"u-{k % 997}",
                "metadata": {"channel": "web", "lang": "en"},
            }
            for k in range(b, min(b + BATCH, n))
        ]
        out.append(json.dumps({"interactions": items}).encode())
    return out


def metric_bodies(n: int) -> list[bytes]:
    start = datetime.now(UTC) - timedelta(minutes=30)
    out = []
    for b in range(0, n, BATCH):
        pts = [
            {"name": "latency_ms", "value": 100 + k % 300, "ts": (start + timedelta(milliseconds=k)).isoformat(),
             "labels": {"endpoint": f"e{k % 10}"}}
            for k in range(b, min(b + BATCH, n))
        ]  # fmt: skip
        out.append(json.dumps({"batch_id": f"m-{b}", "points": pts}).encode())
    return out


async def post_all(url: str, token: str, path: str, bodies: list[bytes], clients: int) -> float:
    import aiohttp

    work = list(reversed(bodies))
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    errors: list[str] = []

    async def worker() -> None:
        async with aiohttp.ClientSession(url, headers=headers, connector=aiohttp.TCPConnector(limit=1)) as c:
            while work:
                body = work.pop()
                async with c.post(path, data=body) as r:
                    if r.status != 200:
                        errors.append(f"{r.status} {(await r.text())[:200]}")
                    await r.read()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"{len(errors)} requests failed, first: {errors[0]}")
    return elapsed


async def burst(url: str, key: str, rate: int, seconds: float, clients: int) -> list[float]:
    """Flags at `rate`/s for `seconds`; each flag's latency from its scheduled time to its answer."""
    import aiohttp

    total = int(rate * seconds)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    bodies = [json.dumps({"interaction": f"i-{k}", "category": "inaccurate"}).encode() for k in range(total)]
    latencies: list[float] = []
    errors: list[str] = []
    start = time.perf_counter() + 0.2
    next_index = 0

    async def worker(c: aiohttp.ClientSession) -> None:
        nonlocal next_index
        while next_index < total:
            k = next_index
            next_index += 1
            due = start + k / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            async with c.post(f"/api/v1/systems/{SYSTEM}/feedback", data=bodies[k]) as r:
                await r.read()
                if r.status != 201:
                    errors.append(f"{r.status} {(await r.text())[:200]}")
            latencies.append(time.perf_counter() - due)

    async with aiohttp.ClientSession(url, headers=headers, connector=aiohttp.TCPConnector(limit=clients)) as c:
        await asyncio.gather(*(worker(c) for _ in range(clients)))
    if errors:
        raise RuntimeError(f"{len(errors)} flags failed, first: {errors[0]}")
    return latencies


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--interactions", type=int, default=20_000)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--rate", type=int, default=1_000, help="flags per second in the burst")
    ap.add_argument("--burst-seconds", type=float, default=3.0)
    ap.add_argument("--burst-clients", type=int, default=64)
    ap.add_argument("--pg", action="store_true", help="use CHARTER_DATABASE_URL / CHARTER_BENCH_PG_URL (PostgreSQL)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        db_url, drop = f"sqlite:///{data_dir / 'bench.db'}", None
        if args.pg:
            base = make_url(os.environ.get("CHARTER_BENCH_PG_URL") or os.environ["CHARTER_DATABASE_URL"])
            name = f"charter_bench_{uuid.uuid4().hex[:8]}"
            admin = create_engine(base, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            db_url, drop = base.set(database=name).render_as_string(hide_password=False), (admin, name)
        token, key = prepare(db_url, data_dir)
        port = _free_port()
        proc = serve(db_url, data_dir, port)
        url = f"http://127.0.0.1:{port}"
        try:
            warm = interaction_bodies(BATCH, "warm")[0]
            httpx.post(f"{url}/api/v1/systems/{SYSTEM}/interactions", content=warm,
                       headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                       timeout=60).raise_for_status()  # fmt: skip
            n = args.interactions
            cpu0 = cpu_seconds(proc.pid)
            t_int = asyncio.run(post_all(url, token, f"/api/v1/systems/{SYSTEM}/interactions",
                                         interaction_bodies(n, "i"), args.clients))  # fmt: skip
            cpu1 = cpu_seconds(proc.pid)
            t_met = asyncio.run(
                post_all(url, token, f"/api/v1/systems/{SYSTEM}/metrics", metric_bodies(n), args.clients)
            )
            cpu2 = cpu_seconds(proc.pid)
            print(
                f"interaction ingest  {n:>7,} in {t_int:6.2f} s -> {n / t_int:>8,.0f}/s  (batches of {BATCH}, "
                f"{args.clients} clients; server CPU {cpu1 - cpu0:.2f} s)  target >= {TARGET_INGEST:,}/s"
            )
            print(f"metric ingest (peer) {n:>6,} in {t_met:6.2f} s -> {n / t_met:>8,.0f}/s  (batches of {BATCH}; "
                  f"server CPU {cpu2 - cpu1:.2f} s)")  # fmt: skip
            print(f"ratio interactions/metrics: {t_met / t_int:.2f}")
            lat = asyncio.run(burst(url, key, args.rate, args.burst_seconds, args.burst_clients))
            achieved = len(lat) / (max(lat) + args.burst_seconds) if lat else 0
            print(f"flag burst {len(lat):,} flags scheduled at {args.rate:,}/s for {args.burst_seconds:g} s: "
                  f"p50 {pct(lat, 50) * 1000:.0f} ms, p95 {pct(lat, 95) * 1000:.0f} ms, max {max(lat) * 1000:.0f} ms "
                  f"(~{achieved:,.0f} flags/s delivered)  target p95 < {TARGET_P95 * 1000:.0f} ms")  # fmt: skip
            engine = create_engine(db_url)
            with engine.connect() as conn:
                queued = conn.execute(text("SELECT count(*) FROM queue_items WHERE reason = 'flag'")).scalar_one()
                spike_sql = "SELECT count(*) FROM incidents WHERE source = 'user_feedback'"
                spikes = conn.execute(text(spike_sql)).scalar_one()
            engine.dispose()
            print(f"flags in the review queue afterwards: {queued:,} of {len(lat):,}; spike incidents opened: {spikes}")
            print(f"load average {os.getloadavg()[0]:.1f}")
        finally:
            proc.terminate()
            proc.wait(10)
            if drop is not None:
                admin, name = drop
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()


if __name__ == "__main__":
    main()
