"""`charter audit verify|checkpoint|export` on a local database (a temporary SQLite file), and offline."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from charter.cli.main import app

runner = CliRunner()


def charter(*args: str, code: int = 0) -> Result:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, (args, result.exit_code, result.output)
    assert "Traceback" not in result.output
    return result


def one_line_error(result: Result, text: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and text in lines[0], result.output


SHIPPED = 0  # entries `charter db upgrade` records installing the shipped content (set by `local`)


def n(entries: int) -> int:
    """The ledger size after `entries` entries of a test's own (the shipped content's come first)."""
    return SHIPPED + entries


@pytest.fixture
def local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A migrated local database (the shipped content installed) with two more ledger entries (two users)."""
    global SHIPPED
    for var in ("CHARTER_URL", "CHARTER_TOKEN", "CHARTER_ENV", "CHARTER_SECRET_KEY", "CHARTER_SIGNING_KEY_PATH"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CHARTER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CHARTER_DATABASE_URL", f"sqlite:///{tmp_path / 'data' / 'charter.db'}")
    monkeypatch.setenv("CHARTER_NEW_USER_PASSWORD", "a long enough password")
    charter("db", "upgrade")
    with sqlite3.connect(tmp_path / "data" / "charter.db") as db:
        SHIPPED = db.execute("SELECT count(*) FROM ledger_entries").fetchone()[0]
    assert SHIPPED > 0  # the shipped policies and SOP templates, recorded as installed
    charter("user", "create", "erin", "--role", "engineer")
    charter("user", "create", "avery", "--role", "auditor")
    return tmp_path


def test_verify_prints_ok_with_counts_and_throughput(local: Path) -> None:
    out = charter("audit", "verify").stdout
    assert out.startswith(f"OK: ledger verified: {n(2)} entries and 0 stored signed checkpoints, head {n(2)} ")
    assert "entries/s" in out
    data = json.loads(charter("audit", "verify", "--json").stdout)
    assert data["ok"] is True and data["entries_checked"] == n(2) and data["problem"] is None


def test_verify_names_the_first_broken_entry_and_exits_1(local: Path) -> None:
    with sqlite3.connect(local / "data" / "charter.db") as db:
        db.execute("UPDATE ledger_entries SET actor = 'user:mallory' WHERE seq = 1")
    out = charter("audit", "verify", code=1).stdout
    assert out.startswith("BROKEN: ledger fails at entry 1 (hash_mismatch): entry 1's content does not match")
    assert json.loads(charter("audit", "verify", "--json", code=1).stdout)["problem"]["seq"] == 1


def test_checkpoint_prints_the_json_to_keep_and_verify_checks_against_it(local: Path) -> None:
    printed = json.loads(charter("audit", "checkpoint").stdout)
    assert set(printed) == {"size", "head_hash", "public_key", "key_id", "signature", "created_at"}
    assert printed["size"] == n(2)
    kept = local / "kept.json"
    assert "written to" in charter("audit", "checkpoint", "--out", str(kept)).stdout
    charter("user", "create", "casey", "--role", "viewer")
    out = charter("audit", "verify", "--checkpoint", str(kept)).stdout
    # two `audit checkpoint` runs stored two; the external file is named apart, not counted a third time
    assert f"{n(3)} entries and 2 stored signed checkpoints," in out
    assert f"external checkpoint at size {n(2)} (key " in out and "): matches" in out


def test_a_rewritten_database_fails_against_the_checkpoint_kept_outside(local: Path) -> None:
    kept = local / "kept.json"
    charter("audit", "checkpoint", "--out", str(kept))
    # Rewrite from scratch: a new database, a different history, same signing key.
    (local / "data" / "charter.db").unlink()
    charter("db", "upgrade")
    charter("user", "create", "mallory", "--role", "admin")
    charter("user", "create", "avery", "--role", "auditor")
    assert charter("audit", "verify").stdout.startswith("OK")
    out = charter("audit", "verify", "--checkpoint", str(kept), code=1).stdout
    assert f"entry {n(2)} (external_checkpoint_mismatch)" in out


def test_export_then_verify_the_file_offline(local: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    export = local / "ledger.jsonl"
    assert f"exported {n(2)} entries and 0 checkpoints" in charter("audit", "export", "--out", str(export)).stdout
    monkeypatch.setenv("CHARTER_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")  # no database
    out = charter("audit", "verify", "--file", str(export)).stdout
    assert out.startswith(f"OK: export file verified: {n(2)} entries and 1 signed checkpoint in the file")
    lines = export.read_text().splitlines()
    lines[n(2)] = lines[n(2)].replace('"username":"avery"', '"username":"mallory"')
    export.write_text("\n".join(lines) + "\n")
    out = charter("audit", "verify", "--file", str(export), code=1).stdout
    assert out.startswith(f"BROKEN: export file fails at entry {n(2)} (hash_mismatch)")


def test_bad_input_is_one_line_errors(local: Path) -> None:
    one_line_error(charter("audit", "verify", "--file", str(local / "missing.jsonl"), code=1), "no export file")
    one_line_error(charter("audit", "verify", "--checkpoint", str(local / "none.json"), code=1), "no checkpoint file")
    (local / "bad.json").write_text("{not json")
    one_line_error(charter("audit", "verify", "--checkpoint", str(local / "bad.json"), code=1), "not a JSON checkpoint")
    (local / "partial.json").write_text('{"size": 3}')
    one_line_error(charter("audit", "verify", "--checkpoint", str(local / "partial.json"), code=1), "missing head_hash")
    (local / "notexport.jsonl").write_text('{"a": 1}\n')
    one_line_error(
        charter("audit", "verify", "--file", str(local / "notexport.jsonl"), code=1), "not a Charter ledger export"
    )
    assert charter("audit", "export", code=2).exit_code == 2  # --out is required: usage error


def test_local_commands_refuse_an_unmigrated_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHARTER_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CHARTER_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    one_line_error(charter("audit", "verify", code=1), "charter db upgrade")
