"""Finding 1: numbered keys never collide when many writers on several servers create at once.

16 writer threads spread over two `charter serve` processes on one database create risks and incidents
through the HTTP API. Every request must succeed (no 409 "could not allocate"), the numbers must be exactly
1..N with no gap or duplicate, and the ledger must be one unbroken chain. PostgreSQL: 1,000 of each (the
figure in docs/reliability.md); SQLite (one writer at a time by design): 100 of each.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path

import httpx
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from charter.incidents.models import Incident
from charter.ledger.verify import verify_database
from charter.risk.models import Risk
from tests.conftest import is_postgres
from tests.reliability.servers import servers

WRITERS = 16
EACH = 1000 if is_postgres() else 100
PASSWORD = "a-long-test-admin-password"


def _token(url: str) -> str:
    r = httpx.post(f"{url}/api/v1/auth/login", json={"username": "admin", "password": PASSWORD}, timeout=30)
    assert r.status_code == 201, r.text
    return str(r.json()["token"])


def test_sixteen_writers_on_two_servers_get_consecutive_keys_and_one_chain(
    own_database: Engine, tmp_path: Path
) -> None:
    url = own_database.url.render_as_string(hide_password=False)
    with servers(url, tmp_path / "data", 2) as (a, b):
        token = _token(a.url)
        headers = {"Authorization": f"Bearer {token}"}
        r = httpx.post(
            f"{a.url}/api/v1/systems",
            json={"key": "conc", "name": "Concurrency", "deployment_type": "embedded"},
            headers=headers,
            timeout=30,
        )
        assert r.status_code == 201, r.text
        jobs = [("risk", i) for i in range(EACH)] + [("incident", i) for i in range(EACH)]
        lock = threading.Lock()
        failures: list[str] = []
        done: Counter[str] = Counter()

        def writer(w: int) -> None:
            base = (a, b)[w % 2].url
            with httpx.Client(base_url=base, headers=headers, timeout=120) as http:
                while True:
                    with lock:
                        if not jobs:
                            return
                        kind, i = jobs.pop()
                    if kind == "risk":
                        resp = http.post(
                            "/api/v1/risks", json={"system": "conc", "title": f"r{i}", "category": "privacy"}
                        )
                    else:
                        resp = http.post(
                            "/api/v1/incidents", json={"system": "conc", "title": f"inc {i}", "severity": "LOW"}
                        )
                    with lock:
                        if resp.status_code == 201:
                            done[kind] += 1
                        else:
                            failures.append(f"{kind} {i}: {resp.status_code} {resp.text[:200]}")

        started = time.perf_counter()
        threads = [threading.Thread(target=writer, args=(w,)) for w in range(WRITERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seconds = time.perf_counter() - started
    print(f"\n{2 * EACH} creates by {WRITERS} writers on 2 servers in {seconds:.1f} s; failures: {len(failures)}")
    assert failures == []
    assert done == {"risk": EACH, "incident": EACH}
    with own_database.connect() as conn:
        risk_numbers = sorted(conn.execute(select(Risk.number)).scalars())
        incident_seqs = sorted(conn.execute(select(Incident.seq)).scalars())
    assert risk_numbers == list(range(1, EACH + 1))
    assert incident_seqs == list(range(1, EACH + 1))
    with Session(own_database) as session:
        result = verify_database(session)
    assert result.ok, result.problem
    assert result.entries_checked >= 2 * EACH
