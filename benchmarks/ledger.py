"""Ledger benchmarks: append throughput through the service layer, and verify throughput.

Run:  .venv/bin/python benchmarks/ledger.py [--entries 200000] [--runs 3] [--no-postgres | --no-sqlite]

Each backend gets a fresh database: a temporary SQLite file, and a temporary PostgreSQL database created
next to CHARTER_BENCH_DATABASE_URL (default: CHARTER_TEST_DATABASE_URL, else postgresql+psycopg://
postgres@127.0.0.1:5432/test) and dropped afterwards — never that database itself.

Append: ctx.record() with a realistic before/after snapshot of an AI system (about 1.2 KB of JSON), committed
per entry and in batches of 100 — peer: the same rows inserted through the ORM into a table with no chain;
and the whole `inventory.service.update_system` use case committed per change — peer: ctx.record alone.
Verify: the chain is filled up to --entries with entries of the same shape (hashed by rules.entry_hash and
stored through the same column types as append), a checkpoint every 1,000, then `verify_database` re-walks
all of it — peer: the obvious verifier (ORM objects, rules.entry_hash on each) over the first 50,000.
Also export + offline `verify_export` of the same chain.
Verification runs --runs times (default 3) and the best run counts: the machine may be shared. Also printed: the
verifier's own CPU time per entry, which does not depend on what else runs.
Exits 1 if verification on any backend is below 100,000 entries/s.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, DateTime, Engine, String, create_engine, insert, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from charter.context import Ctx
from charter.kit.clock import FixedClock, isoformat
from charter.kit.db import Base, make_engine, make_session_factory
from charter.kit.migrate import upgrade
from charter.kit.principal import SYSTEM
from charter.kit.registry import load_models
from charter.kit.settings import Settings
from charter.ledger.export import verify_export, write_export
from charter.ledger.models import LedgerCheckpoint, LedgerEntry, LedgerHead
from charter.ledger.rules import FIELDS, checkpoint_message, entry_hash
from charter.ledger.signing import load_or_create_signer
from charter.ledger.stream import entry_rows
from charter.ledger.verify import verify_database

load_models()  # every table on Base.metadata

TARGET = 100_000  # entries/s verify must reach
HASH_SHARE = 0.5  # and at least this share of a plain hashlib loop over the same payloads
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def system_snapshot(i: int, version: int, stage: str) -> dict[str, Any]:
    """What inventory.service records for an AI system (about 600 bytes of JSON)."""
    at = isoformat(datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=i))
    return {
        "key": f"system-{i:06d}",
        "name": f"Credit scoring model {i}",
        "description": "Scores consumer loan applications for probability of default; used by underwriters.",
        "problem_statement": "Manual review takes 3 days; the model pre-sorts applications by risk.",
        "owner_id": 1 + i % 7,
        "business_unit": ("retail", "operations", "claims", "hr")[i % 4],
        "deployment_type": ("in_house_model", "vendor_api", "vendor_saas", "embedded")[i % 4],
        "vendor_name": None if i % 4 == 0 else f"Vendor {i % 13}",
        "data_categories": ["financial", "personal"] if i % 3 else ["public"],
        "users_affected": 1000 + i,
        "stage": stage,
        "risk_tier": ("high", "limited", "minimal", "unclassified")[i % 4],
        "risk_tier_reason": "Annex III 5(b): creditworthiness of natural persons" if i % 4 == 0 else "",
        "tags": ["credit", "ml", f"team-{i % 5}"],
        "created_at": at,
        "updated_at": at,
        "stage_changed_at": at,
        "version": version,
    }


def entry_values(i: int, seq: int, ts: datetime) -> dict[str, Any]:
    """One ledger entry; a third registrations (after only), the rest changes (before and after)."""
    key = f"system-{i % 5000:06d}"
    if i % 3 == 0:
        before, after, action = None, system_snapshot(i, 1, "proposed"), "system.registered"
    else:
        before = system_snapshot(i, 2, "sandbox")
        after = dict(before, stage="pilot", version=3)
        action = "system.stage.pilot"
    return {
        "seq": seq,
        "ts": ts,
        "actor": f"user:engineer{i % 9}",
        "action": action,
        "entity_type": "system",
        "entity_id": key,
        "before": before,
        "after": after,
        "request_id": uuid.UUID(int=i).hex,
        "reason": "approved by the ethics board" if i % 2 else None,
    }


# ---- databases ---------------------------------------------------------------------------------------------


@contextmanager
def sqlite_database(tmp: Path) -> Iterator[str]:
    yield f"sqlite:///{tmp / 'bench-ledger.db'}"


@contextmanager
def postgres_database(base_url: str) -> Iterator[str]:
    base = make_url(base_url)
    name = f"charter_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                {"n": name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def prepare(url: str) -> Engine:
    engine = make_engine(url)
    upgrade(engine)
    Base.metadata.create_all(engine)
    return engine


# ---- append ------------------------------------------------------------------------------------------------


class _PlainBase(DeclarativeBase):
    pass


class PlainEntry(_PlainBase):
    """The append peer: the same row in a table with no chain (no head lock, no hash)."""

    __tablename__ = "bench_plain_entries"
    id: Mapped[int] = mapped_column(primary_key=True)
    ts: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100))
    entity_type: Mapped[str] = mapped_column(String(60))
    entity_id: Mapped[str] = mapped_column(String(200))
    before: Mapped[Any] = mapped_column(JSON, nullable=True)
    after: Mapped[Any] = mapped_column(JSON, nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(String(200))


def bench_plain(engine: Engine, n: int, per_commit: int) -> float:
    _PlainBase.metadata.create_all(engine)
    factory = make_session_factory(engine)
    clock = FixedClock()
    start = time.perf_counter()
    done = 0
    while done < n:
        with factory() as session:
            for _ in range(min(per_commit, n - done)):
                before = system_snapshot(done, 2, "sandbox")
                session.add(
                    PlainEntry(
                        ts=clock.now(),
                        actor="system:charter",
                        action="system.stage.pilot",
                        entity_type="system",
                        entity_id=before["key"],
                        before=before,
                        after=dict(before, stage="pilot"),
                        request_id="bench",
                        reason=None,
                    )
                )
                session.flush()
                clock.advance(seconds=1)
                done += 1
            session.commit()
    return n / (time.perf_counter() - start)


def bench_record(engine: Engine, settings: Settings, n: int, per_commit: int) -> float:
    factory = make_session_factory(engine)
    clock = FixedClock()
    start = time.perf_counter()
    done = 0
    while done < n:
        with factory() as session:
            ctx = Ctx(session=session, principal=SYSTEM, clock=clock, settings=settings, request_id="bench")
            for _ in range(min(per_commit, n - done)):
                i = done
                before = system_snapshot(i, 2, "sandbox")
                ctx.record("system.stage.pilot", "system", before["key"], before, dict(before, stage="pilot"))
                clock.advance(seconds=1)
                done += 1
            ctx.commit()
    return n / (time.perf_counter() - start)


def bench_use_case(engine: Engine, settings: Settings, n: int) -> float:
    from charter.inventory import queries, service
    from charter.inventory.schemas import SystemCreate, SystemUpdate

    factory = make_session_factory(engine)
    clock = FixedClock()
    key = f"bench-{uuid.uuid4().hex[:8]}"
    with factory() as session:
        ctx = Ctx(session=session, principal=SYSTEM, clock=clock, settings=settings)
        service.create_system(ctx, SystemCreate(key=key, name="Bench", deployment_type="in_house_model"))
        ctx.commit()
    start = time.perf_counter()
    for i in range(n):
        with factory() as session:
            ctx = Ctx(session=session, principal=SYSTEM, clock=clock, settings=settings)
            system = queries.get_system(session, key)
            service.update_system(ctx, key, SystemUpdate(version=system.version, description=f"revision {i}"))
            ctx.commit()
        clock.advance(seconds=1)
    return n / (time.perf_counter() - start)


# ---- verify ------------------------------------------------------------------------------------------------


def fill(engine: Engine, settings: Settings, total: int, chunk: int = 5000) -> float:
    """Extend the chain to `total` entries, hashing each with rules.entry_hash; returns seconds taken."""
    signer = load_or_create_signer(settings.ledger_key_path)
    start = time.perf_counter()
    with engine.begin() as conn:
        head = conn.execute(select(LedgerHead.seq, LedgerHead.hash).where(LedgerHead.id == 1)).one()
        seq, prev = head.seq, head.hash
        ts = datetime(2026, 2, 1, tzinfo=UTC)
        rows: list[dict[str, Any]] = []
        checkpoints: list[dict[str, Any]] = []
        while seq < total:
            seq += 1
            ts += timedelta(milliseconds=1500)
            values = entry_values(seq, seq, ts)
            digest = entry_hash(prev, dict(values, ts=isoformat(ts)))
            rows.append(dict(values, prev_hash=prev, hash=digest))
            prev = digest
            if seq % settings.checkpoint_every == 0:
                checkpoints.append(
                    {
                        "size": seq,
                        "head_hash": digest,
                        "created_at": ts,
                        "key_id": signer.key_id,
                        "public_key": signer.public_key,
                        "signature": signer.sign(checkpoint_message(seq, digest)),
                    }
                )
            if len(rows) >= chunk:
                conn.execute(insert(LedgerEntry), rows)
                rows.clear()
        if rows:
            conn.execute(insert(LedgerEntry), rows)
        if checkpoints:
            conn.execute(insert(LedgerCheckpoint), checkpoints)
        conn.execute(update(LedgerHead).where(LedgerHead.id == 1).values(seq=seq, hash=prev))
    return time.perf_counter() - start


def hashlib_loop(engine: Engine, upto: int) -> float:
    """The hashing bound: a plain `hashlib.sha256(payload).hexdigest()` loop over the very payloads verification
    hashes (prev hash + the entry's canonical text, UTF-8), read beforehand in batches; only the loop is timed."""
    elapsed, n = 0.0, 0
    with engine.connect() as conn:
        for rows in entry_rows(conn, upto, 20_000):
            payloads = [(prev + text).encode() for _, prev, _, text in rows]
            sha256 = hashlib.sha256
            start = time.perf_counter()
            for payload in payloads:
                sha256(payload).hexdigest()
            elapsed += time.perf_counter() - start
            n += len(payloads)
    return n / elapsed


def naive_verify(engine: Engine, limit: int) -> float:
    """The verify peer: the obvious way, ORM objects and rules.entry_hash on each, links and hashes checked."""
    factory = make_session_factory(engine)
    start = time.perf_counter()
    prev, n = "0" * 64, 0
    with factory() as session:
        stmt = select(LedgerEntry).where(LedgerEntry.seq <= limit).order_by(LedgerEntry.seq)
        for entry in session.scalars(stmt.execution_options(yield_per=2000)):
            values = {f: getattr(entry, f) for f in FIELDS}
            values["ts"] = isoformat(entry.ts)
            if entry.prev_hash != prev or entry_hash(prev, values) != entry.hash:
                raise SystemExit(f"naive verify failed at {entry.seq}")
            prev, n = entry.hash, n + 1
    return n / (time.perf_counter() - start)


Figure = tuple[str, float, str, float]  # (what, entries/s, peer, peer entries/s)


def run_backend(name: str, url: str, args: argparse.Namespace, tmp: Path) -> tuple[list[Figure], dict[str, Any]]:
    settings = Settings(env="test", data_dir=tmp / f"data-{name}", checkpoint_every=1000)
    engine = prepare(url)
    figures: list[Figure] = []
    facts: dict[str, Any] = {}
    try:
        n = args.append
        appends = [] if args.no_append else [1]
        for _ in appends:
            append_figures(figures, engine, settings, n)
        print(f"  filling the chain to {args.entries:,} entries ...", flush=True)
        fill(engine, settings, args.entries)
        verify_figures(figures, facts, engine, settings, args, name, tmp)
    finally:
        engine.dispose()
    return figures, facts


def append_figures(figures: list[Figure], engine: Engine, settings: Settings, n: int) -> None:
    if True:
        figures.append(
            (
                "append: ctx.record, commit each",
                bench_record(engine, settings, n, 1),
                "plain ORM insert, commit each",
                bench_plain(engine, n, 1),
            )
        )
        figures.append(
            (
                "append: ctx.record, commit per 100",
                bench_record(engine, settings, n * 10, 100),
                "plain ORM insert, commit per 100",
                bench_plain(engine, n * 10, 100),
            )
        )
        figures.append(
            (
                "inventory update_system, commit each",
                bench_use_case(engine, settings, n // 2),
                "ctx.record alone, commit each",
                bench_record(engine, settings, n // 2, 1),
            )
        )


def verify_figures(
    figures: list[Figure],
    facts: dict[str, Any],
    engine: Engine,
    settings: Settings,
    args: argparse.Namespace,
    name: str,
    tmp: Path,
) -> None:
    if True:
        factory = make_session_factory(engine)
        runs = []
        for _ in range(args.runs):
            with factory() as session:
                cpu = time.process_time()
                result = verify_database(session)
                runs.append((result.entries_per_second, result, time.process_time() - cpu))
        rate, result, cpu_seconds = max(runs, key=lambda r: r[0])
        if not result.ok:
            raise SystemExit(f"{name}: verification failed: {result.problem}")
        facts.update(verify=rate, verified=result.entries_checked, checkpoints=result.checkpoints_checked)
        facts["all runs"] = [r[0] for r in runs]
        facts["client cpu us/entry"] = cpu_seconds / result.entries_checked * 1e6
        bound = hashlib_loop(engine, args.entries)
        facts["hashlib"] = bound
        figures.append(("verify (database)", result.entries_per_second, "plain hashlib loop, same payloads", bound))
        naive = naive_verify(engine, min(args.entries, 50_000))
        figures.append(("verify (database)", result.entries_per_second, "naive ORM verify", naive))
        export = tmp / f"export-{name}.jsonl"
        with factory() as session, export.open("w", encoding="utf-8") as out:
            start = time.perf_counter()
            signer = load_or_create_signer(settings.ledger_key_path)
            exported = write_export(session, signer, datetime.now(UTC), out).entries
            export_rate = exported / (time.perf_counter() - start)
        offline = verify_export(export)
        if not offline.ok:
            raise SystemExit(f"{name}: offline verification failed: {offline.problem}")
        figures.append(("verify (export file, offline)", offline.entries_per_second, "export", export_rate))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=200_000, help="chain length to verify (default 200,000)")
    parser.add_argument("--append", type=int, default=1000, help="entries for the per-commit append figure")
    parser.add_argument("--runs", type=int, default=3, help="verify runs per backend; the best counts (default 3)")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--no-append", action="store_true", help="verification figures only")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    args = parser.parse_args()
    pg_base = os.environ.get("CHARTER_BENCH_DATABASE_URL") or os.environ.get("CHARTER_TEST_DATABASE_URL") or DEFAULT_PG

    backends: list[tuple[str, Callable[[Path], Any]]] = [] if args.no_sqlite else [("sqlite", sqlite_database)]
    if not args.no_postgres:
        backends.append(("postgresql", lambda _tmp: postgres_database(pg_base)))
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="charter-bench-") as tmpdir:
        tmp = Path(tmpdir)
        for name, database in backends:
            print(f"== {name}", flush=True)
            try:
                with database(tmp) as url:
                    figures, results[name] = run_backend(name, url, args, tmp)
            except Exception as exc:
                if name == "postgresql":
                    print(f"  PostgreSQL unavailable at {make_url(pg_base).render_as_string()}: {exc}")
                    continue
                raise
            for label, value, peer, peer_value in figures:
                print(
                    f"  {label:<38} {value:>10,.0f} entries/s   peer: {peer:<33} {peer_value:>10,.0f}/s"
                    f"  (x{value / peer_value:.2f})"
                )
            facts = results[name]
            print(
                f"  (verified {facts['verified']:,.0f} entries and {facts['checkpoints']:,.0f} signed checkpoints; "
                f"verify runs: {', '.join(f'{r:,.0f}' for r in facts['all runs'])} entries/s, best counts; "
                f"verifier CPU {facts['client cpu us/entry']:.1f} us/entry)"
            )
            share = facts["verify"] / facts["hashlib"]
            print(
                f"  verify / plain hashlib loop: {share:.0%} (target >= {HASH_SHARE:.0%}: "
                f"{'PASS' if share >= HASH_SHARE else 'FAIL'}); load average {os.getloadavg()}"
            )
    if not results:
        print("FAIL: nothing measured")
        return 1
    slow = [n for n, f in results.items() if f["verify"] < TARGET]
    if slow:
        print(f"FAIL: verify below {TARGET:,} entries/s on {', '.join(slow)}")
        return 1
    print(f"OK: verify >= {TARGET:,} entries/s on {', '.join(results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
