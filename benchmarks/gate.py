"""Gate checks through the HTTP API: 16 concurrent clients, SQLite, the default policies.

    .venv/bin/python benchmarks/gate.py [--clients 16] [--seconds 20] [--workers 1]

Seeds a fresh SQLite database (a system with risks, an approved ethical review, a release deployed to
sandbox and pilot with approvals), starts uvicorn on 127.0.0.1 in a subprocess, and has N clients (aiohttp
in one asyncio process, one keep-alive connection each) POST
/api/v1/systems/{key}/releases/1/gate?stage=production with a `gate:check` machine token, back to back, for
a fixed time. Every check applies the to-production policy (12 rules) and stores the evaluation as evidence
(facts are reused while the ledger head is unchanged and they are under 5 s old). Prints p50/p95/p99
latency, checks per second and the CPU per request of the server and of the clients (they share the same
cores), and the same for the peer in the same run: an authenticated read of the system
(GET /api/v1/systems/{key}), an ordinary endpoint. Target: p95 < 50 ms on a 2-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
KEY = "support-chatbot"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def seed(data_dir: Path) -> str:
    """Create the database and the scenario; return a gate:check machine token."""
    sys.path.insert(0, str(ROOT))
    from tests.releases.conftest import approve_procedure, close_risk, critical_risk, make_system, submit

    from charter.kit.registry import load_models

    load_models()
    from charter.access.models import User
    from charter.access.schemas import TokenCreate
    from charter.access.service import issue_token
    from charter.bootstrap import migrate
    from charter.context import Ctx
    from charter.kit.clock import FixedClock
    from charter.kit.db import Base, make_engine, make_session_factory
    from charter.kit.principal import Principal
    from charter.kit.settings import Settings

    settings = Settings(env="dev", data_dir=data_dir)
    engine = make_engine(settings.db_url)
    migrate(engine, settings)  # the schema and the shipped content (policies, SOPs)
    Base.metadata.create_all(engine)  # tables whose migration the lead has not generated yet
    clock = FixedClock()
    with make_session_factory(engine)() as session:

        class Actors:
            def __init__(self) -> None:
                self.session, self.clock, self.users = session, clock, {}

            def ctx(self, role: str) -> Ctx:
                user = self.users[role]
                principal = Principal(kind="user", user_id=user.id, name=user.username, role=user.role)
                return Ctx(session=session, principal=principal, clock=clock, settings=settings)

        actors = Actors()
        for role in ("admin", "engineer", "approver", "governance"):
            now = clock.now()
            user = User(username=role, display_name=role, role=role, created_at=now, updated_at=now)
            session.add(user)
            session.flush()
            actors.users[role] = user
        system = make_system(actors)
        from charter.risk import service as risks
        from charter.risk.schemas import RiskCreate

        for i, (li, im) in enumerate([(2, 3), (3, 3), (2, 2)]):
            risks.create_risk(
                actors.ctx("engineer"),
                RiskCreate(system=KEY, title=f"risk {i}", category="privacy", likelihood=li, impact=im),
            )
        close_risk(actors, critical_risk(actors))
        approve_procedure(actors, "ethical-review", "system", system.id)
        from tests.releases.conftest import promote, request_and_approve

        release = submit(actors)
        promote(actors, 1, "sandbox")
        request_and_approve(actors, 1, "pilot", ("approver",))
        promote(actors, 1, "pilot")
        approve_procedure(actors, "deployment-approval", "release", release.id)
        request_and_approve(actors, 1, "production", ("approver", "governance"))
        _token, clear = issue_token(
            actors.ctx("admin"),
            TokenCreate(name="bench-ci", username="engineer", scopes=["gate:check", "systems:read"]),
        )
        session.commit()
    engine.dispose()
    return clear


def serve(data_dir: str, port: int, workers: int) -> None:
    os.environ["CHARTER_DATA_DIR"] = data_dir
    import uvicorn

    uvicorn.run(
        "charter.http.app:create_app",
        factory=True,
        host="127.0.0.1",
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
    )


async def _load(
    url: str, token: str, method: str, path: str, clients: int, seconds: float, rate: float = 0.0
) -> dict[str, Any]:
    """Closed loop (rate 0: each client sends its next request when the last one is answered) or open
    loop (rate > 0: requests per second in all, each client on its own fixed schedule)."""
    try:
        import aiohttp
    except ImportError:
        raise SystemExit("the load generator needs aiohttp: pip install -e '.[bench]'") from None

    latencies: list[float] = []
    failures = 0
    deadline = time.perf_counter() + seconds
    interval = clients / rate if rate > 0 else 0.0

    async def client(offset: float) -> None:
        nonlocal failures
        headers = {"Authorization": f"Bearer {token}"}
        # One keep-alive connection per client, like a CI runner's HTTP client.
        connector = aiohttp.TCPConnector(limit=1)
        async with aiohttp.ClientSession(url, headers=headers, connector=connector) as c:
            due = time.perf_counter() + offset
            while time.perf_counter() < deadline:
                if interval:
                    await asyncio.sleep(max(0.0, due - time.perf_counter()))
                    due += interval
                started = time.perf_counter()
                async with c.request(method, path) as r:
                    body = await r.read()
                latencies.append(time.perf_counter() - started)
                if r.status != 200:
                    failures += 1
                    if failures == 1:
                        print(f"  unexpected answer {r.status}: {body[:300]!r}")

    started = time.perf_counter()
    await asyncio.gather(*(client(i * interval / clients) for i in range(clients)))
    elapsed = time.perf_counter() - started
    qs = statistics.quantiles(latencies, n=100)
    return {
        "n": len(latencies),
        "failures": failures,
        "p50": qs[49] * 1000,
        "p95": qs[94] * 1000,
        "p99": qs[98] * 1000,
        "rate": len(latencies) / elapsed,
    }


def _cpu_seconds(root: int) -> float:
    """CPU time (user + system) of a process and its descendants, from /proc (Linux)."""
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    family, total, changed = {root}, 0.0, True
    while changed:
        changed = False
        for pid, (ppid, _cpu) in stats.items():
            if ppid in family and pid not in family:
                family.add(pid)
                changed = True
    for pid in family:
        total += stats.get(pid, (0, 0.0))[1]
    return total


def _measure(
    server_pid: int, url: str, token: str, method: str, path: str, clients: int, seconds: float, rate: float = 0.0
) -> dict[str, Any]:
    before, client_before = _cpu_seconds(server_pid), time.process_time()
    result = asyncio.run(_load(url, token, method, path, clients, seconds, rate))
    n = max(result["n"], 1)
    result["cpu_ms"] = (_cpu_seconds(server_pid) - before) / n * 1000
    result["client_cpu_ms"] = (time.process_time() - client_before) / n * 1000
    return result


def _line(name: str, r: dict[str, Any]) -> str:
    return (
        f"{name:<28} n={r['n']:>6}  p50={r['p50']:6.1f} ms  p95={r['p95']:6.1f} ms  p99={r['p99']:6.1f} ms  "
        f"{r['rate']:7.1f}/s  CPU per request: server {r['cpu_ms']:.2f} ms, clients {r['client_cpu_ms']:.2f} ms  "
        f"failures={r['failures']}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument(
        "--rate", type=float, default=0.0, help="also measure an open loop at this many checks/s in all"
    )
    parser.add_argument("--serve", nargs=2, metavar=("DATA_DIR", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], int(args.serve[1]), args.workers)
        return 0

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="charter-bench-") as tmp:
        data_dir = Path(tmp)
        token = seed(data_dir)
        port = _free_port()
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "CHARTER_DATA_DIR": str(data_dir)}
        server = subprocess.Popen(
            [sys.executable, __file__, "--workers", str(args.workers), "--serve", str(data_dir), str(port)], env=env
        )
        try:
            url = f"http://127.0.0.1:{port}"
            _wait(url)
            gate_path = f"/api/v1/systems/{KEY}/releases/1/gate?stage=production"
            peer_path = f"/api/v1/systems/{KEY}"
            asyncio.run(_load(url, token, "POST", gate_path, args.clients, 3))  # warm-up
            gate = _measure(server.pid, url, token, "POST", gate_path, args.clients, args.seconds)
            asyncio.run(_load(url, token, "GET", peer_path, args.clients, 3))  # warm-up (threads, statement caches)
            peer = _measure(server.pid, url, token, "GET", peer_path, args.clients, args.seconds / 2)
            paced = None
            if args.rate > 0:
                paced = _measure(server.pid, url, token, "POST", gate_path, args.clients, args.seconds, args.rate)
        finally:
            server.terminate()
            server.wait(timeout=20)
    load = os.getloadavg()[0]
    print(f"gate checks over HTTP: {args.clients} clients, {args.workers} worker(s), SQLite, default policies")
    print(f"machine: {os.cpu_count()} cores, load average before the run {load_before:.2f}, after {load:.2f}")
    print(_line("POST .../gate (production)", gate))
    print(_line("peer: GET /systems/{key}", peer))
    print(f"ratio gate/peer: p50 x{gate['p50'] / peer['p50']:.2f}, p95 x{gate['p95'] / peer['p95']:.2f}")
    if paced is not None:
        print(_line(f"gate, open loop {args.rate:g}/s", paced))
    ok = gate["p95"] < 50 and gate["failures"] == 0
    print(f"target p95 < 50 ms: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


def _wait(url: str) -> None:
    import httpx

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("the server did not start")


if __name__ == "__main__":
    raise SystemExit(main())
