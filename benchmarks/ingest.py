"""Metric ingestion throughput through the HTTP API: batches of 1,000 points, SQLite and PostgreSQL.

    python benchmarks/ingest.py                      # SQLite, then PostgreSQL if reachable
    python benchmarks/ingest.py --batches 300 --clients 2 --only sqlite
    CHARTER_BENCH_PG_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres python benchmarks/ingest.py

A real uvicorn server runs in a subprocess on 127.0.0.1; the clients (threads with keep-alive connections)
send pre-encoded JSON bodies, so the figure is what the server sustains: validation, bulk insert, roll-ups,
alert-rule evaluation and commit per batch. In the same run, the bound: the same rows inserted bare into the same
table (its index in place) by the driver — one `executemany` on SQLite, `COPY` on PostgreSQL — after parsing,
untimed. Target (issue 21): >= 100,000 points/s on SQLite with one worker, >= 80,000 on PostgreSQL.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import queue
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

TARGET_SQLITE = 100_000
TARGET_PG = 80_000
POINTS_PER_BATCH = 1_000
SERIES = 10


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare(db_url: str, data_dir: Path) -> str:
    """Migrate, create the admin, a system and a machine token with metrics:write; return the token."""
    from charter.kit.registry import load_models

    load_models()
    from charter.access.schemas import TokenCreate
    from charter.access.service import bootstrap_admin, issue_token
    from charter.bootstrap import migrate
    from charter.context import Ctx
    from charter.inventory.schemas import SystemCreate
    from charter.inventory.service import create_system
    from charter.kit.clock import SystemClock
    from charter.kit.db import Base, make_engine, make_session_factory
    from charter.kit.principal import SYSTEM
    from charter.kit.settings import Settings

    settings = Settings(env="dev", data_dir=data_dir, database_url=db_url)
    engine = make_engine(db_url)
    migrate(engine, settings)  # the schema and the shipped content (policies, SOPs)
    Base.metadata.create_all(engine)  # tables whose migration the lead has not generated yet
    with make_session_factory(engine)() as session:
        ctx = Ctx(session=session, principal=SYSTEM, clock=SystemClock(), settings=settings)
        bootstrap_admin(ctx, "bench-password-123456")
        create_system(ctx, SystemCreate(key="bench-bot", name="Bench bot", deployment_type="in_house_model"))
        _token, clear = issue_token(ctx, TokenCreate(name="bench", scopes=["metrics:write"], username="admin"))
        ctx.commit()
    engine.dispose()
    return clear


def bodies(batches: int) -> list[bytes]:
    start = datetime.now(UTC) - timedelta(minutes=30)
    rnd = random.Random(7)
    out = []
    for b in range(batches):
        pts = []
        for i in range(POINTS_PER_BATCH):
            n = b * POINTS_PER_BATCH + i
            ts = start + timedelta(milliseconds=n)
            pts.append(
                {
                    "name": "latency_ms",
                    "value": round(rnd.uniform(80, 400), 2),
                    "ts": ts.isoformat(),
                    "labels": {"endpoint": f"e{n % SERIES}", "release": "3"},
                }
            )
        out.append(json.dumps({"batch_id": f"bench-{b}", "points": pts}).encode())
    return out


def serve(db_url: str, data_dir: Path, port: int, workers: int = 1) -> subprocess.Popen[bytes]:
    """uvicorn in its own process (with `workers` > 1: that many worker processes, as `uvicorn --workers`)."""
    code = (
        "import uvicorn\n"
        f"uvicorn.run('charter.http.app:create_app', factory=True, host='127.0.0.1', port={port}, workers={workers}, "
        "log_level='warning', access_log=False)\n"
    )
    env = {**os.environ, "CHARTER_DATA_DIR": str(data_dir), "CHARTER_DATABASE_URL": db_url, "CHARTER_ENV": "dev"}
    proc = subprocess.Popen([sys.executable, "-c", code], env=env)
    deadline = time.monotonic() + 120  # start-up alone can take over 30 s on the shared machine
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the server did not start")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its children's live workers (Linux /proc)."""
    pids = [pid]
    with contextlib.suppress(OSError):
        pids += [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    total = 0.0
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def warm_up(url: str, token: str) -> None:
    """The first request pays lazy route set-up and the default-rule installation: not measured."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    with httpx.Client(base_url=url, headers=headers, timeout=60) as c:
        warm = json.dumps({"batch_id": "warm-up", "points": [{"name": "accuracy", "value": 0.9}]}).encode()
        c.post("/api/v1/systems/bench-bot/metrics", content=warm).raise_for_status()


def run(url: str, token: str, payloads: list[bytes], clients: int) -> tuple[float, int]:
    work: queue.Queue[bytes] = queue.Queue()
    for p in payloads:
        work.put(p)
    errors: list[str] = []
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def worker() -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=60) as c:
            while True:
                try:
                    body = work.get_nowait()
                except queue.Empty:
                    return
                r = c.post("/api/v1/systems/bench-bot/metrics", content=body)
                if r.status_code != 200:
                    errors.append(f"{r.status_code} {r.text[:200]}")

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"{len(errors)} batches failed, first: {errors[0]}")
    return elapsed, len(payloads) * POINTS_PER_BATCH


def bench(name: str, db_url: str, batches: int, clients: int, workers: int = 1) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        if db_url == "sqlite":
            db_url = f"sqlite:///{data_dir / 'bench.db'}"
        token = prepare(db_url, data_dir)
        payloads = bodies(batches)
        port = _free_port()
        proc = serve(db_url, data_dir, port, workers)
        try:
            warm_up(f"http://127.0.0.1:{port}", token)
            cpu_before = cpu_seconds(proc.pid)
            elapsed, points = run(f"http://127.0.0.1:{port}", token, payloads, clients)
            cpu = cpu_seconds(proc.pid) - cpu_before
        finally:
            proc.terminate()
            proc.wait(10)
        bound = bare_insert(db_url, payloads)
    rate = points / elapsed
    print(
        f"{name:<11} {points:>9,} points in {elapsed:6.2f} s  ->  {rate:>9,.0f} points/s  ({clients} clients); "
        f"{workers} worker(s); server CPU {cpu:.2f} s = {points / cpu:,.0f} points per CPU-second; "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"{'':<11} bound: bare insert of the same rows {bound:>9,.0f} points/s; HTTP ingest = {rate / bound:.0%} of it"
    )
    return rate


def bare_insert(db_url: str, payloads: list[bytes]) -> float:
    """Points per second of inserting the same rows straight into metric_points (driver executemany / COPY)."""
    engine = create_engine(db_url)
    postgres = engine.dialect.name == "postgresql"
    with engine.connect() as conn:
        series = {
            json.loads(labels)["endpoint"]: sid
            for sid, labels in conn.execute(text("SELECT id, labels FROM metric_series WHERE name = 'latency_ms'"))
        }
    rows = []
    for body in payloads:
        for p in json.loads(body)["points"]:
            ts = datetime.fromisoformat(p["ts"]).astimezone(UTC)
            at = ts if postgres else ts.strftime("%Y-%m-%d %H:%M:%S.%f")
            rows.append((series[p["labels"]["endpoint"]], at, p["value"]))
    raw = engine.raw_connection()
    try:
        driver = raw.driver_connection
        assert driver is not None
        start = time.perf_counter()
        cur = driver.cursor()
        if postgres:
            with cur.copy("COPY metric_points (series_id, ts, value) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            cur.executemany("INSERT INTO metric_points (series_id, ts, value) VALUES (?, ?, ?)", rows)
        driver.commit()
        elapsed = time.perf_counter() - start
    finally:
        raw.close()
        engine.dispose()
    return len(rows) / elapsed


def _pg_database(base_url: str) -> tuple[str, str] | None:
    url = make_url(base_url)
    name = f"charter_bench_{uuid.uuid4().hex[:8]}"
    try:
        admin = create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
    except Exception as exc:  # PostgreSQL is optional here
        print(f"postgresql  skipped: {exc.__class__.__name__}: {str(exc).splitlines()[0]}")
        return None
    return url.set(database=name).render_as_string(hide_password=False), name


def _drop(base_url: str, name: str) -> None:
    admin = create_engine(make_url(base_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=200, help="batches of 1,000 points per database")
    parser.add_argument("--clients", type=int, default=2, help="concurrent HTTP clients")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    print(f"ingest benchmark: {args.batches} batches x {POINTS_PER_BATCH} points, {SERIES} series, HTTP (uvicorn)")
    ok = True
    if args.only in (None, "sqlite"):
        rate = bench("sqlite", "sqlite", args.batches, args.clients, args.workers)
        verdict = "PASS" if rate >= TARGET_SQLITE else "FAIL"
        print(f"{'':<11} target >= {TARGET_SQLITE:,} points/s on SQLite: {verdict}")
        ok = rate >= TARGET_SQLITE
    if args.only in (None, "postgresql"):
        base = os.environ.get("CHARTER_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
        made = _pg_database(base)
        if made:
            try:
                rate = bench("postgresql", made[0], args.batches, args.clients, args.workers)
            finally:
                _drop(base, made[1])
            verdict = "PASS" if rate >= TARGET_PG else "FAIL"
            print(f"{'':<11} target >= {TARGET_PG:,} points/s on PostgreSQL: {verdict}")
            ok = ok and rate >= TARGET_PG
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
