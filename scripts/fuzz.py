"""`make fuzz`: schemathesis over Charter's OpenAPI document against a real `charter serve`.

Starts a server on a fresh database (SQLite by default; FUZZ_DATABASE_URL for PostgreSQL), signs in as the
first admin, and runs `st run` with the `not_a_server_error` check over every operation. FUZZ_EXAMPLES sets
examples per operation (default 30: with ~380 operations, more than 10,000 cases). Exits non-zero if any
request got a 5xx. Not part of `make test` (it runs for many minutes).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.reliability.servers import servers

PASSWORD = "a-long-test-admin-password"


def main() -> int:
    examples = os.environ.get("FUZZ_EXAMPLES", "30")
    with tempfile.TemporaryDirectory(prefix="charter-fuzz-") as tmp:
        data = Path(tmp) / "data"
        url = os.environ.get("FUZZ_DATABASE_URL") or f"sqlite:///{data}/charter.db"
        with servers(url, data, 1) as (server,):
            r = httpx.post(f"{server.url}/api/v1/auth/login", json={"username": "admin", "password": PASSWORD})
            r.raise_for_status()
            token = r.json()["token"]
            st = Path(sys.executable).with_name("st")
            command = [
                str(st), "run", f"{server.url}/openapi.json",
                "--checks", "not_a_server_error",
                "--max-examples", examples,
                "--header", f"Authorization: Bearer {token}",
                "--workers", os.environ.get("FUZZ_WORKERS", "2"),
                "--suppress-health-check", "all",
                "--report", "junit", "--report-dir", os.environ.get("FUZZ_REPORT_DIR", "fuzz-report"),
            ]  # fmt: skip
            return subprocess.call(command)  # noqa: S603  (our own st binary, our own arguments)


if __name__ == "__main__":
    raise SystemExit(main())
