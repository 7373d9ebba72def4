"""Red-team benchmarks: import a 10,000-attempt garak report; 500 attempts against a 50 ms local endpoint.

    .venv/bin/python benchmarks/redteam.py [--attempts 10000] [--run-attempts 500] [--concurrency 32] [--latency-ms 50]

1. Import. Writes a garak 0.16 report of N attempts to a temporary file, as garak writes it: every attempt
   twice (status 1 after probing, status 2 after detection), 2 outputs per attempt (some None), 2 detectors
   per probe, 50 probes, ``eval`` and ``plugin_cache`` entries. Times ``parse_garak_file`` (parse, validate,
   hash for dedup, aggregate per probe x detector, remap OWASP tags). Peer in the same run: ``json.loads`` of
   every line and nothing else, the floor of any importer. Target: under 2 s.
2. Attempt loop. Starts a tiny OpenAI-compatible chat-completions server (uvicorn, httptools, in another
   process) whose every answer takes 50 ms, then runs M attempts of the shipped suites through
   ``run_attempts`` at concurrency C (planning, converters, detectors, records included). Ideal time is
   ceil(M / C) x 50 ms. Target: within 1.3 x ideal. The send function uses aiohttp (the bench peer already
   used by benchmarks/gate.py); the same loop with httpx is printed for comparison, and so is a bare
   aiohttp gather of the same requests (no Charter code) as the peer.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import uvicorn

from charter.access.schemas import UserCreate
from charter.access.service import create_user, principal_of
from charter.bootstrap import migrate
from charter.context import Ctx
from charter.inventory.schemas import SystemCreate
from charter.inventory.service import create_system
from charter.kit.clock import FixedClock
from charter.kit.db import make_engine, make_session_factory
from charter.kit.principal import SYSTEM
from charter.kit.settings import Settings
from charter.redteam import service
from charter.redteam.imports.common import Crosswalk
from charter.redteam.imports.garak import parse_garak_file
from charter.redteam.probing import build_detectors, plan, run_attempts
from charter.redteam.suites import load_suites

CROSSWALK_ROWS = [
    ("LLM01:2023", "LLM01:2025"),
    ("LLM02:2023", "LLM05:2025"),
    ("LLM03:2023", "LLM04:2025"),
    ("LLM04:2023", "LLM10:2025"),
    ("LLM05:2023", "LLM03:2025"),
    ("LLM06:2023", "LLM02:2025"),
    ("LLM07:2023", "LLM06:2025"),
    ("LLM07:2023", "LLM05:2025"),
    ("LLM08:2023", "LLM06:2025"),
    ("LLM09:2023", "LLM09:2025"),
    ("LLM10:2023", "LLM10:2025"),
    ("LLM10:2023", "LLM03:2025"),
]


# ----------------------------------------------------------------------------- 1. garak import


def _message(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    return {"text": text, "lang": "en", "data_path": None, "data_type": None, "data_checksum": None, "notes": {}}


def write_garak_report(path: Path, attempts: int, seed: int = 7) -> int:
    rng = random.Random(seed)
    probes = [f"probemod{i // 5}.Probe{i}" for i in range(50)]
    detectors = {p: [f"detmod{i % 7}.Det{i % 7}", "mitigation.MitigationBypass"] for i, p in enumerate(probes)}
    per_probe = math.ceil(attempts / len(probes))
    written = 0
    with path.open("w", encoding="utf-8") as f:

        def put(entry: dict[str, Any]) -> None:
            f.write(json.dumps(entry, ensure_ascii=False) + "\n")

        put({"entry_type": "start_run setup", "plugins.target_type": "openai", "plugins.target_name": "bench"})
        put({"entry_type": "init", "garak_version": "0.16.0", "start_time": "2026-05-01T10:00:00", "run": "bench-run"})
        tags = {f"probes.{p}": {"tags": [f"owasp:llm{(i % 10) + 1:02d}"], "tier": 1} for i, p in enumerate(probes)}
        put({"entry_type": "plugin_cache", "run": "bench-run", "plugin_cache": {"version": "0.16.0", "probes": tags}})
        for probe in probes:
            batch = []
            for seq in range(per_probe):
                if written >= attempts:
                    break
                prompt = f"Attack prompt {seq} for {probe}: " + "lorem ipsum dolor sit amet " * rng.randint(5, 30)
                outputs = [
                    None if rng.random() < 0.05 else f"Output {k}: " + "consectetur adipiscing " * rng.randint(5, 40)
                    for k in range(2)
                ]
                results = {
                    d: [None if o is None else round(rng.random(), 3) for o in outputs] for d in detectors[probe]
                }
                convo = {"turns": [{"role": "user", "content": _message(prompt)}], "notes": {}}
                entry = {
                    "entry_type": "attempt",
                    "uuid": f"{written:08d}-0000-4000-8000-000000000000",
                    "seq": seq,
                    "status": 1,
                    "probe_classname": probe,
                    "probe_params": {},
                    "targets": [],
                    "prompt": convo,
                    "outputs": [_message(o) for o in outputs],
                    "detector_results": {},
                    "notes": {},
                    "goal": f"goal of {probe}",
                    "conversations": [
                        {"turns": [*convo["turns"], {"role": "assistant", "content": _message(o)}], "notes": {}}
                        for o in outputs
                    ],
                    "reverse_translation_outputs": [],
                    "intent": None,
                }
                put(entry)
                batch.append((entry, results))
                written += 1
            for entry, results in batch:
                put(entry | {"status": 2, "detector_results": results})
            for d in detectors[probe]:
                scores = [s for _, r in batch for s in r[d]]
                passed = sum(1 for s in scores if s is not None and s < 0.5)
                fails = sum(1 for s in scores if s is not None and s >= 0.5)
                nones = sum(1 for s in scores if s is None)
                put(
                    {
                        "entry_type": "eval",
                        "probe": probe,
                        "detector": d,
                        "passed": passed,
                        "fails": fails,
                        "nones": nones,
                        "total_evaluated": passed + fails,
                        "total_processed": passed + fails + nones,
                    }
                )
        put({"entry_type": "completion", "end_time": "2026-05-01T11:00:00", "run": "bench-run"})
    return written


def bench_import(attempts: int) -> dict[str, float]:

    walk = Crosswalk.from_mappings(
        [{"id_2023": a, "id_2025": b, "relation": "partial"} for a, b in CROSSWALK_ROWS], "bench"
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "garak.bench.report.jsonl"
        n = write_garak_report(path, attempts)
        size_mb = path.stat().st_size / 1e6
        floors, imports = [], []
        for _ in range(3):
            t = time.perf_counter()
            with path.open(encoding="utf-8") as f:
                for line in f:
                    json.loads(line)
            floors.append(time.perf_counter() - t)
            t = time.perf_counter()
            result = parse_garak_file(path, crosswalk=walk)
            imports.append(time.perf_counter() - t)
        assert len(result.attempts) == n, (len(result.attempts), n)
        assert not [w for w in result.warnings if "eval" in w], result.warnings[:3]
    best, floor = min(imports), min(floors)
    rows = len(result.results)
    print(f"garak import: {n} attempts ({2 * n} attempt lines, {size_mb:.1f} MB), {rows} probe x detector rows")
    print(f"  parse + aggregate: best {best:.3f} s, median {statistics.median(imports):.3f} s  (target < 2 s)")
    print(f"  peer json.loads of every line: best {floor:.3f} s  -> import / floor = {best / floor:.2f}x")
    return {"import_s": best, "floor_s": floor}


def bench_import_stored(attempts: int) -> float:
    """The whole import as the API does it: parse, then `service.import_report` into a fresh SQLite database
    (dedup lookup, 10,000 attempt rows in one executemany, findings, risks, ledger entries), committed."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "garak.bench.report.jsonl"
        write_garak_report(path, attempts)
        settings = Settings(data_dir=Path(tmp) / "data", database_url=f"sqlite:///{tmp}/bench.db")
        engine = make_engine(settings.db_url)
        clock = FixedClock(datetime(2026, 5, 1, tzinfo=UTC))
        migrate(engine, settings, clock)
        factory = make_session_factory(engine)
        with factory() as session:
            ctx = Ctx(session=session, principal=SYSTEM, clock=clock, settings=settings)
            owner = create_user(ctx, UserCreate(username="bench", role="engineer", password="a long bench password"))
            create_system(
                ctx.acting_as(principal_of(owner)),
                SystemCreate(key="bench-bot", name="Bench", deployment_type="in_house_model"),
            )
            session.commit()
        t = time.perf_counter()
        parsed = parse_garak_file(path)
        with factory() as session:
            ctx = Ctx(session=session, principal=SYSTEM, clock=clock, settings=settings)
            stored = service.import_report(ctx, "bench-bot", parsed, file_sha256="0" * 64)
            session.commit()
        took = time.perf_counter() - t
        engine.dispose()
    assert stored.new_attempts == attempts, stored.new_attempts
    print(f"  stored import (parse + import_report + commit, SQLite): {took:.3f} s  (target < 2 s)")
    return took


# ----------------------------------------------------------------------------- 2. the attempt loop


def serve(port: int, latency_ms: float) -> None:
    """The target: OpenAI-compatible chat completions, every answer after `latency_ms`."""

    reply = json.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "I'm sorry, I can't help."},
                    "finish_reason": "stop",
                }
            ],
        }
    ).encode()

    async def app(scope: dict[str, Any], receive: Callable[[], Awaitable[dict[str, Any]]], send: Any) -> None:
        if scope["type"] != "http":
            return
        more = True
        while more:
            message = await receive()
            more = message.get("more_body", False)
        await asyncio.sleep(latency_ms / 1000)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": reply})

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, http="httptools")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the benchmark target exited")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the benchmark target did not start")


async def _loop(url: str, planned: list[Any], concurrency: int, client: str) -> tuple[float, float, int]:

    detectors = build_detectors(load_suites())
    records: list[Any] = []
    endpoint = f"{url}/v1/chat/completions"
    if client == "aiohttp":
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency))

        async def send(messages: list[dict[str, str]]) -> str:
            async with session.post(endpoint, json={"model": "bench", "messages": messages}) as r:
                r.raise_for_status()
                return str((await r.json())["choices"][0]["message"]["content"])

        closer: Callable[[], Awaitable[None]] = session.close
    else:
        hx = httpx.AsyncClient(limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency))

        async def send(messages: list[dict[str, str]]) -> str:
            r = await hx.post(endpoint, json={"model": "bench", "messages": messages})
            r.raise_for_status()
            return str(r.json()["choices"][0]["message"]["content"])

        closer = hx.aclose
    try:
        cpu, t = time.process_time(), time.perf_counter()
        stats = await run_attempts(planned, send, detectors, on_record=records.append, concurrency=concurrency)
        wall, cpu = time.perf_counter() - t, time.process_time() - cpu
    finally:
        await closer()
    assert stats.sent == len(planned) and stats.errored == 0, stats
    return wall, cpu, len(records)


async def _bare(url: str, planned: list[Any], concurrency: int) -> float:

    gate = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def one(messages: list[dict[str, str]]) -> None:
            async with gate, session.post(f"{url}/v1/chat/completions", json={"model": "b", "messages": messages}) as r:
                await r.json()

        t = time.perf_counter()
        await asyncio.gather(*(one(a.chat()) for a in planned))
        return time.perf_counter() - t


def bench_loop(attempts: int, concurrency: int, latency_ms: float) -> dict[str, float]:

    suites = load_suites()
    per_repeat = len(plan(suites, seed="count"))
    planned = plan(suites, seed="bench", repeats=math.ceil(attempts / per_repeat))[:attempts]
    ideal = math.ceil(attempts / concurrency) * latency_ms / 1000
    port = _free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(port), "--latency-ms", str(latency_ms)])
    try:
        _wait_for(port, proc)
        url = f"http://127.0.0.1:{port}"
        asyncio.run(_loop(url, planned[:64], concurrency, "aiohttp"))  # warm up connections and imports
        results = {}
        for client in ("aiohttp", "httpx"):
            runs = [asyncio.run(_loop(url, planned, concurrency, client)) for _ in range(3)]
            wall, cpu, _ = min(runs)
            results[client] = (wall, cpu)
        bare = min(asyncio.run(_bare(url, planned, concurrency)) for _ in range(3))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    wall, cpu = results["aiohttp"]
    print(f"attempt loop: {attempts} attempts, concurrency {concurrency}, target latency {latency_ms:g} ms")
    print(f"  ideal ceil({attempts}/{concurrency}) x {latency_ms:g} ms = {ideal:.3f} s")
    print(
        f"  run_attempts + aiohttp: {wall:.3f} s = {wall / ideal:.2f}x ideal (target <= 1.3x); client CPU {cpu:.3f} s"
    )
    hx_wall, hx_cpu = results["httpx"]
    print(f"  run_attempts + httpx:   {hx_wall:.3f} s = {hx_wall / ideal:.2f}x ideal; client CPU {hx_cpu:.3f} s")
    print(f"  peer, bare aiohttp gather (no Charter code): {bare:.3f} s = {bare / ideal:.2f}x ideal")
    return {"loop_s": wall, "ideal_s": ideal, "httpx_s": hx_wall, "bare_s": bare}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--attempts", type=int, default=10_000)
    parser.add_argument("--run-attempts", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.latency_ms)
        return
    bench_import(args.attempts)
    stored = bench_import_stored(args.attempts)
    loop = bench_loop(args.run_attempts, args.concurrency, args.latency_ms)
    ok = stored < 2.0 and loop["loop_s"] <= 1.3 * loop["ideal_s"]
    print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
