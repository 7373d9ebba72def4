"""Prompt serving through the HTTP API and the SDK: 10,000 prompts x 20 versions, 16 clients, SQLite.

    .venv/bin/python benchmarks/prompts.py [--prompts 10000] [--versions 20] [--clients 16] [--seconds 10]

Seeds a fresh SQLite database: one system, `--prompts` text prompts with `--versions` versions each (bulk-inserted
rows, built with the prompt core's content and hashes; the service path is measured by the tests, not here), a
`production` label on a random version of each and `staging` on the latest. Starts uvicorn on 127.0.0.1 in a
subprocess and has N aiohttp clients (one keep-alive connection each, back to back) resolve
`GET /api/v1/systems/{key}/prompts/{name}?label=production` for names drawn at random over all prompts, with a
`prompts:read` machine token. Then, in the same run, the peer: the authenticated GET of the system
(`GET /api/v1/systems/{key}`) with the same clients. Finally the SDK: `Client.get_prompt` for 1,000 prompts over
real HTTP, then cached gets timed one by one (perf_counter_ns). Prints p50/p95/p99, rates, CPU per request and the
ratios; also the same resolution over 500 names the server's cache already holds (every answer a cache hit).
Targets: API p95 < 5 ms, SDK cached get p95 < 50 µs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gate import _cpu_seconds, _free_port, serve

ROOT = Path(__file__).resolve().parents[1]
KEY = "support-chatbot"
API_TARGET_MS = 5.0
SDK_TARGET_US = 50.0


def seed(data_dir: Path, prompts: int, versions: int) -> str:
    """Create the database, the system and the prompts; return a prompts:read machine token."""
    sys.path.insert(0, str(ROOT))
    from charter.kit.registry import load_models

    load_models()
    from sqlalchemy import insert
    from tests.releases.conftest import make_system

    from charter.access.models import User
    from charter.access.schemas import TokenCreate
    from charter.access.service import issue_token
    from charter.bootstrap import migrate
    from charter.context import Ctx
    from charter.kit.clock import FixedClock
    from charter.kit.db import make_engine, make_session_factory
    from charter.kit.principal import Principal
    from charter.kit.settings import Settings
    from charter.prompts.models import Prompt, PromptLabel, PromptVersion
    from charter.prompts.templates import PromptContent

    settings = Settings(env="dev", data_dir=data_dir)
    engine = make_engine(settings.db_url)
    migrate(engine, settings)
    clock = FixedClock()
    rng = random.Random(16)
    with make_session_factory(engine)() as session:

        class Actors:
            def __init__(self) -> None:
                self.session, self.clock, self.users = session, clock, {}

            def ctx(self, role: str) -> Ctx:
                user = self.users[role]
                principal = Principal(kind="user", user_id=user.id, name=user.username, role=user.role)
                return Ctx(session=session, principal=principal, clock=clock, settings=settings)

        actors = Actors()
        for role in ("admin", "engineer"):
            now = clock.now()
            user = User(username=role, display_name=role, role=role, created_at=now, updated_at=now)
            session.add(user)
            session.flush()
            actors.users[role] = user
        system = make_system(actors)
        now = clock.now()
        session.execute(
            insert(Prompt),
            [
                {
                    "system_id": system.id, "name": f"prompt-{i:05d}", "type": "text", "tags": [], "latest": versions,
                    "created_by": "engineer", "created_at": now, "updated_at": now, "version": 1,
                }
                for i in range(prompts)
            ],
        )  # fmt: skip
        ids = dict(session.execute(Prompt.__table__.select().with_only_columns(Prompt.name, Prompt.id)).all())
        batch: list[dict[str, Any]] = []
        for i in range(prompts):
            for n in range(1, versions + 1):
                content = PromptContent.trusted(
                    "text",
                    template=f"You are the support assistant of {{{{ product }}}} (prompt {i}, version {n}). "
                    "Greet {{ name }} and answer briefly.",
                    config={"model": "gpt-4o", "temperature": 0.2},
                )
                batch.append(
                    {
                        "prompt_id": ids[f"prompt-{i:05d}"], "number": n, "hash": content.hash,
                        "content": content.to_dict(), "variables": ["name", "product"], "includes": [],
                        "message": f"version {n}", "author": "engineer", "author_id": None, "created_at": now,
                    }
                )  # fmt: skip
            if len(batch) >= 20_000:
                session.execute(insert(PromptVersion), batch)
                batch = []
        if batch:
            session.execute(insert(PromptVersion), batch)
        labels = []
        for i in range(prompts):
            pid = ids[f"prompt-{i:05d}"]
            labels.append({"prompt_id": pid, "label": "production", "number": rng.randint(1, versions)})
            labels.append({"prompt_id": pid, "label": "staging", "number": versions})
        session.execute(
            insert(PromptLabel),
            [{**row, "updated_by": "engineer", "updated_at": now, "version": 1} for row in labels],
        )
        _token, clear = issue_token(
            actors.ctx("admin"),
            TokenCreate(name="bench-app", username="engineer", scopes=["prompts:read", "systems:read"]),
        )
        session.commit()
    engine.dispose()
    return clear


async def _load(url: str, token: str, paths: list[str], clients: int, seconds: float) -> dict[str, Any]:
    """Closed loop: each client sends its next request when the last one is answered, cycling through `paths`."""
    import aiohttp

    latencies: list[float] = []
    failures = 0
    deadline = time.perf_counter() + seconds

    async def client(offset: int) -> None:
        nonlocal failures
        connector = aiohttp.TCPConnector(limit=1)
        headers = {"Authorization": f"Bearer {token}"}
        async with aiohttp.ClientSession(url, headers=headers, connector=connector) as c:
            i = offset
            while time.perf_counter() < deadline:
                path = paths[i % len(paths)]
                i += clients
                started = time.perf_counter()
                async with c.get(path) as r:
                    body = await r.read()
                latencies.append(time.perf_counter() - started)
                if r.status != 200:
                    failures += 1
                    if failures == 1:
                        print(f"  unexpected answer {r.status}: {body[:300]!r}")

    started = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(clients)))
    elapsed = time.perf_counter() - started
    qs = statistics.quantiles(latencies, n=100)
    return {"n": len(latencies), "failures": failures, "p50": qs[49] * 1000, "p95": qs[94] * 1000,
            "p99": qs[98] * 1000, "rate": len(latencies) / elapsed}  # fmt: skip


def _measure(pid: int, url: str, token: str, paths: list[str], clients: int, seconds: float) -> dict[str, Any]:
    before, client_before = _cpu_seconds(pid), time.process_time()
    result = asyncio.run(_load(url, token, paths, clients, seconds))
    n = max(result["n"], 1)
    result["cpu_ms"] = (_cpu_seconds(pid) - before) / n * 1000
    result["client_cpu_ms"] = (time.process_time() - client_before) / n * 1000
    return result


def _line(name: str, r: dict[str, Any]) -> str:
    return (
        f"{name:<34} n={r['n']:>6}  p50={r['p50']:6.2f} ms  p95={r['p95']:6.2f} ms  p99={r['p99']:6.2f} ms  "
        f"{r['rate']:7.1f}/s  CPU per request: server {r['cpu_ms']:.2f} ms, clients {r['client_cpu_ms']:.2f} ms  "
        f"failures={r['failures']}"
    )


def sdk(url: str, token: str, names: list[str], calls: int) -> dict[str, float]:
    """Fill the SDK's cache over real HTTP, then time cached gets one by one."""
    from charter.client import Client

    rng = random.Random(7)
    with Client(url, token, prompt_ttl=3600) as client:
        for name in names:
            client.get_prompt(KEY, name, label="production")
        order = [rng.choice(names) for _ in range(calls)]
        timings = []
        get = client.get_prompt
        for name in order:
            started = time.perf_counter_ns()
            get(KEY, name, label="production")
            timings.append(time.perf_counter_ns() - started)
        stats = client.prompt_cache().stats
        assert stats.fetches == len(names), stats
    qs = statistics.quantiles(timings, n=100)
    return {"n": calls, "p50": qs[49] / 1000, "p95": qs[94] / 1000, "p99": qs[98] / 1000}


def _wait(url: str, seconds: float = 120) -> None:
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("the server did not start")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=10_000)
    parser.add_argument("--versions", type=int, default=20)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--sdk-calls", type=int, default=200_000)
    parser.add_argument("--serve", nargs=2, metavar=("DATA_DIR", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], int(args.serve[1]), 1)
        return 0

    load_before = os.getloadavg()[0]
    rng = random.Random(42)
    with tempfile.TemporaryDirectory(prefix="charter-bench-") as tmp:
        data_dir = Path(tmp)
        started = time.perf_counter()
        token = seed(data_dir, args.prompts, args.versions)
        seeded = time.perf_counter() - started
        port = _free_port()
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "CHARTER_DATA_DIR": str(data_dir)}
        server = subprocess.Popen([sys.executable, __file__, "--serve", str(data_dir), str(port)], env=env)
        try:
            url = f"http://127.0.0.1:{port}"
            _wait(url)
            names = [f"prompt-{i:05d}" for i in range(args.prompts)]
            rng.shuffle(names)
            prompt_paths = [f"/api/v1/systems/{KEY}/prompts/{name}?label=production" for name in names]
            peer_paths = [f"/api/v1/systems/{KEY}"]
            asyncio.run(_load(url, token, prompt_paths, args.clients, 3))  # warm-up
            serving = _measure(server.pid, url, token, prompt_paths, args.clients, args.seconds)
            hot_paths = prompt_paths[:500]  # a working set the server's cache holds: every answer a cache hit
            asyncio.run(_load(url, token, hot_paths, args.clients, 3))
            hot = _measure(server.pid, url, token, hot_paths, args.clients, args.seconds / 2)
            asyncio.run(_load(url, token, peer_paths, args.clients, 3))  # warm-up
            peer = _measure(server.pid, url, token, peer_paths, args.clients, args.seconds)
            cached = sdk(url, token, names[:1000], args.sdk_calls)
        finally:
            server.terminate()
            server.wait(timeout=20)
    load = os.getloadavg()[0]
    print(f"prompt serving: {args.prompts} prompts x {args.versions} versions (seeded in {seeded:.0f} s), "
          f"{args.clients} clients, SQLite")  # fmt: skip
    print(f"machine: {os.cpu_count()} cores, load average before the run {load_before:.2f}, after {load:.2f}")
    print(_line("GET .../prompts/{name}?label=prod", serving))
    print(_line("same, 500 hot names (cache hits)", hot))
    print(_line("peer: GET /systems/{key}", peer))
    print(f"ratio prompt/peer: p50 x{serving['p50'] / peer['p50']:.2f}, p95 x{serving['p95'] / peer['p95']:.2f}")
    print(f"ratio hot/peer: p50 x{hot['p50'] / peer['p50']:.2f}, p95 x{hot['p95'] / peer['p95']:.2f}")
    print(f"SDK cached get_prompt: n={cached['n']}  p50={cached['p50']:.2f} µs  p95={cached['p95']:.2f} µs  "
          f"p99={cached['p99']:.2f} µs")  # fmt: skip
    api_ok = serving["p95"] < API_TARGET_MS and serving["failures"] == 0
    sdk_ok = cached["p95"] < SDK_TARGET_US
    print(f"target API p95 < {API_TARGET_MS:g} ms: {'met' if api_ok else 'NOT met'}")
    print(f"target SDK cached get p95 < {SDK_TARGET_US:g} µs: {'met' if sdk_ok else 'NOT met'}")
    return 0 if api_ok and sdk_ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
