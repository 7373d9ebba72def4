"""Real `charter serve` processes on one database, for tests of what several servers do at once."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    url: str
    proc: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)


def _start(database_url: str, data_dir: Path, extra_env: dict[str, str]) -> Served:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHARTER_")}
    env.update(
        CHARTER_DATA_DIR=str(data_dir),
        CHARTER_DATABASE_URL=database_url,
        CHARTER_PORT=str(port),
        CHARTER_SWEEP_INTERVAL_SECONDS="0",
        CHARTER_ADMIN_PASSWORD="a-long-test-admin-password",
        PYTHONUNBUFFERED="1",
        **extra_env,
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "charter.cli.main", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    served = Served(f"http://127.0.0.1:{port}", proc)
    assert proc.stdout is not None
    threading.Thread(target=lambda: served.output.extend(iter(proc.stdout.readline, "")), daemon=True).start()  # type: ignore[union-attr]
    deadline = time.monotonic() + 90
    while True:
        try:
            if httpx.get(f"{served.url}/readyz", timeout=2).status_code == 200:
                return served
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("charter serve did not become ready:\n" + "".join(served.output))
        time.sleep(0.2)


@contextmanager
def servers(database_url: str, data_dir: Path, n: int = 2, **extra_env: str) -> Iterator[list[Served]]:
    """n servers on one database and one data directory (one signing key), started one after the other."""
    started: list[Served] = []
    try:
        for _ in range(n):
            started.append(_start(database_url, data_dir, extra_env))
        yield started
    finally:
        for s in started:
            s.proc.terminate()
        for s in started:
            try:
                s.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                s.proc.kill()
                s.proc.wait()
