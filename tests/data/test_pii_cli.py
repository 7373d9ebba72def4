"""`charter pii ...` through the real CLI: scan files locally (--jsonl contract), guard and restore through a real
server, one-line errors and non-zero exits for bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

EMAIL = "jane.doe@example.com"


def test_scan_writes_one_json_line_per_record_with_its_spans(cli: Any, tmp_path: Path) -> None:
    data = tmp_path / "tickets.csv"
    data.write_text(f"id,email,note\n1,{EMAIL},hello\n2,,version 4.11.1\n")
    result = cli("engineer", "pii", "scan", str(data), "--jsonl", "--field", "email")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert lines == [
        {
            "line": 2,
            "spans": [
                {"start": 0, "end": len(EMAIL), "entity": "EMAIL_ADDRESS", "score": lines[0]["spans"][0]["score"]}
            ],
        },
        {"line": 3, "spans": []},
    ]
    summary = cli("engineer", "pii", "scan", str(data))
    assert summary.exit_code == 0 and "2 records, 1 with PII, 1 spans" in summary.output


def test_scan_refuses_binary_and_mis_encoded_files_in_one_line(cli: Any, tmp_path: Path) -> None:
    binary = tmp_path / "blob.txt"
    binary.write_bytes(b"abc\x00def\n")
    result = cli("engineer", "pii", "scan", str(binary))
    assert result.exit_code == 1 and "binary" in result.output and "Traceback" not in result.output
    latin = tmp_path / "latin.txt"
    latin.write_bytes("caf\xe9\n".encode("latin-1"))
    result = cli("engineer", "pii", "scan", str(latin))
    assert result.exit_code == 1 and "not valid utf-8" in result.output


def test_guard_and_restore_through_the_cli_and_an_unknown_vendor_is_one_line(cli: Any) -> None:
    assert (
        cli("governance", "pii", "policy", "set", "acme-llm", "--entity", "EMAIL_ADDRESS=pseudonymise").exit_code == 0
    )
    guarded = cli("engineer", "pii", "guard", f"Write to {EMAIL} please", "--vendor", "acme-llm", "--scope", "t1")
    assert guarded.exit_code == 0, guarded.output
    sent = guarded.output.strip()
    assert EMAIL not in sent and "<EMAIL_ADDRESS_" in sent
    restored = cli("engineer", "pii", "restore", sent, "--scope", "t1")
    assert restored.output.strip() == f"Write to {EMAIL} please"
    unknown = cli("engineer", "pii", "guard", "hello", "--vendor", "nobody")
    assert unknown.exit_code == 1
    assert unknown.output.count("\n") == 1 and "unknown vendor 'nobody'" in unknown.output


def test_scan_refuses_an_enormous_line_and_a_bad_csv_with_the_line_number(cli: Any, tmp_path: Path) -> None:
    huge = tmp_path / "huge.txt"
    huge.write_bytes(b"ok line\n" + b"a" * (2 << 20) + b"\n")
    result = cli("engineer", "pii", "scan", str(huge))
    assert result.exit_code == 1 and "line 2 is longer than the limit" in result.output
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b'id,email\n1,"jane@example.com\n')
    result = cli("engineer", "pii", "scan", str(bad), "--jsonl")
    assert result.exit_code == 1 and "invalid CSV" in result.output
