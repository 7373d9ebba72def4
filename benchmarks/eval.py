"""Evaluation runner throughput and CPU: 1,000 items at concurrency 32 against a local chat-completions endpoint
with 50 ms latency, side by side with Inspect AI on the same items and endpoint in the same run.

    .venv/bin/python benchmarks/eval.py [--items 1000] [--latency 0.05] [--concurrency 32] [--repeat 3] [--no-inspect]

The endpoint is tests/evaluation/chat_server.py (uvicorn, OpenAI chat-completions protocol) in a separate process,
so its CPU is not counted: the CPU figure is this process's (time.process_time) during the run, divided by the
items. Each tool gets one warm-up run of `concurrency` items, then `--repeat` measured runs; the median is reported.
Targets (issue 14): wall time within 1.3x the ideal (items x latency / concurrency) and runner CPU under 2 ms per
item. The peer is Inspect AI (`inspect-ai` + `openai`, bench-only), its openai provider pointed at the same
endpoint through model_base_url, max_connections = max_samples = concurrency, no scorer, logs to a temp dir.
The "floor" row is a bare stdlib asyncio client on the same endpoint in the same rounds: what this machine and
endpoint allow at that moment (on a 2-core machine shared with other work, neighbours' load moves every row).
Only loopback is used. Exit status 1 when Charter misses a target.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from charter.evaluation.datasets import Sample
from charter.evaluation.runner import RunSettings, run_evaluation
from charter.evaluation.targets import ChatTarget

try:  # the peer: bench-only (pip install inspect-ai openai)
    from inspect_ai import Task
    from inspect_ai import eval as inspect_eval
    from inspect_ai.dataset import MemoryDataset
    from inspect_ai.dataset import Sample as InspectSample
    from inspect_ai.solver import generate
except ImportError:  # pragma: no cover - reported in main()
    inspect_eval = None

ROOT = Path(__file__).resolve().parent.parent
API_KEY = "bench-key-not-a-secret"
MODEL = "bench-model"
WALL_FACTOR = 1.3
CPU_MS = 2.0


def start_server(latency: float) -> tuple[subprocess.Popen[str], str]:
    server = ROOT / "tests" / "evaluation" / "chat_server.py"
    proc = subprocess.Popen(
        [sys.executable, str(server), "--latency", str(latency), "--api-key", API_KEY],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("READY "):
        proc.kill()
        raise SystemExit(f"the chat server did not start: {line!r}")
    return proc, line.split()[1]


def prompts(n: int, offset: int = 0) -> list[str]:
    return [f"question {offset + i}: what is {offset + i} plus one?" for i in range(n)]


def run_charter(base_url: str, texts: list[str], concurrency: int) -> tuple[float, float, int]:
    target = ChatTarget(base_url=base_url, model=MODEL, api_key="env:CHARTER_BENCH_KEY")
    samples = [Sample(id=str(i), input=text) for i, text in enumerate(texts)]
    results: list[Any] = []
    settings = RunSettings(concurrency=concurrency, timeout_s=30, max_attempts=3)
    environ = {"CHARTER_BENCH_KEY": API_KEY}
    wall0, cpu0 = time.perf_counter(), time.process_time()
    asyncio.run(
        run_evaluation(target, samples, results.append, settings=settings, environ=environ, rng=random.Random(0))
    )
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    ok = sum(1 for r in results if r.status == "completed" and r.output == f"echo: {texts[int(r.sample_id)]}")
    return wall, cpu, ok


def run_floor(base_url: str, texts: list[str], concurrency: int) -> tuple[float, float, int]:
    """What this machine and endpoint allow right now: a minimal stdlib client (one write per request, one
    keep-alive connection per worker, no parsing beyond Content-Length). Context for the figures, not a peer."""
    url = urlsplit(base_url)
    host, port = url.hostname or "127.0.0.1", url.port or 80

    async def main() -> int:
        items = iter(enumerate(texts))
        ok = 0

        async def worker() -> None:
            nonlocal ok
            reader, writer = await asyncio.open_connection(host, port)
            for i, text in items:
                body = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": text}]}).encode()
                head = (
                    f"POST {url.path}/chat/completions HTTP/1.1\r\nhost: {host}\r\n"
                    f"authorization: Bearer {API_KEY}\r\ncontent-type: application/json\r\n"
                    f"content-length: {len(body)}\r\n\r\n"
                )
                writer.write(head.encode() + body)
                headers = await reader.readuntil(b"\r\n\r\n")
                length = int(headers.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                answer = json.loads(await reader.readexactly(length))
                ok += answer["choices"][0]["message"]["content"] == f"echo: {texts[i]}"
            writer.close()

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return ok

    wall0, cpu0 = time.perf_counter(), time.process_time()
    ok = asyncio.run(main())
    return time.perf_counter() - wall0, time.process_time() - cpu0, ok


def run_inspect(base_url: str, texts: list[str], concurrency: int, log_dir: str) -> tuple[float, float, int]:
    dataset = MemoryDataset([InspectSample(input=text, id=i) for i, text in enumerate(texts)])
    task = Task(dataset=dataset, solver=generate())
    os.environ["OPENAI_API_KEY"] = API_KEY
    wall0, cpu0 = time.perf_counter(), time.process_time()
    logs = inspect_eval(
        task,
        model=f"openai/{MODEL}",
        model_base_url=base_url,
        model_args={"responses_api": False},  # the chat-completions protocol, as the endpoint speaks
        max_connections=concurrency,
        max_samples=concurrency,
        display="none",
        log_dir=log_dir,
        log_level="error",
        max_retries=3,
        timeout=30,
    )
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    ok = 0
    for sample in logs[0].samples or []:
        if sample.output.completion == f"echo: {texts[int(sample.id)]}":
            ok += 1
    return wall, cpu, ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-inspect", action="store_true", help="measure Charter only")
    args = parser.parse_args()
    if inspect_eval is None and not args.no_inspect:
        raise SystemExit("the peer needs Inspect AI: pip install inspect-ai openai (or pass --no-inspect)")
    ideal = args.items * args.latency / args.concurrency

    proc, url = start_server(args.latency)
    base_url = f"{url}/v1"
    rows: dict[str, list[tuple[float, float, int]]] = {"charter": [], "inspect-ai": [], "floor": []}
    try:
        with tempfile.TemporaryDirectory() as log_dir:
            tools = [
                ("charter", lambda texts: run_charter(base_url, texts, args.concurrency)),
                ("floor", lambda texts: run_floor(base_url, texts, args.concurrency)),
            ]
            if not args.no_inspect:
                tools.append(("inspect-ai", lambda texts: run_inspect(base_url, texts, args.concurrency, log_dir)))
            for _name, run in tools:
                run(prompts(args.concurrency, offset=10**6))  # warm-up: imports, first connections
            for round_ in range(args.repeat):
                for name, run in tools if round_ % 2 == 0 else list(reversed(tools)):
                    rows[name].append(run(prompts(args.items)))
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=15)

    load = os.getloadavg()[0]
    print(
        f"{args.items} items, {args.latency * 1000:.0f} ms endpoint latency, concurrency {args.concurrency}, "
        f"ideal {ideal:.3f} s; median of {args.repeat} runs; load average {load:.2f} on {os.cpu_count()} CPUs"
    )
    print(f"{'tool':<12}{'wall s':>9}{'x ideal':>9}{'CPU ms/item':>13}{'answers ok':>12}   runs (wall s)")
    medians: dict[str, tuple[float, float]] = {}
    for name, runs in rows.items():
        if not runs:
            continue
        wall = statistics.median(r[0] for r in runs)
        cpu_ms = statistics.median(r[1] for r in runs) / args.items * 1000
        ok = min(r[2] for r in runs)
        medians[name] = (wall, cpu_ms)
        walls = ", ".join(f"{r[0]:.2f}" for r in runs)
        print(f"{name:<12}{wall:>9.3f}{wall / ideal:>9.2f}{cpu_ms:>13.2f}{ok:>8}/{args.items}   {walls}")
    wall, cpu_ms = medians["charter"]
    floor_wall = medians["floor"][0]
    print(f"charter / floor (a bare stdlib client on the same endpoint now): wall {wall / floor_wall:.2f}x")
    if "inspect-ai" in medians:
        peer_wall, peer_cpu = medians["inspect-ai"]
        print(f"ratio inspect-ai / charter: wall {peer_wall / wall:.2f}x, CPU per item {peer_cpu / cpu_ms:.2f}x")
    verdict = wall <= WALL_FACTOR * ideal and cpu_ms < CPU_MS
    print(
        f"targets: wall <= {WALL_FACTOR} x ideal ({WALL_FACTOR * ideal:.3f} s) and CPU < {CPU_MS} ms/item: "
        f"{'met' if verdict else 'MISSED'}"
    )
    return 0 if verdict else 1


if __name__ == "__main__":
    sys.exit(main())
