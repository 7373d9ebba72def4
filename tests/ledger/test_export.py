"""Export to JSON Lines and verify offline, without the database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text

from charter.audit.queries import checkpoint_data, export_ledger
from charter.audit.service import create_checkpoint
from charter.context import Ctx
from charter.ledger.chain import sign_checkpoint
from charter.ledger.checks import VerifyResult
from charter.ledger.export import verify_export
from charter.ledger.rules import canonical
from tests.conftest import is_postgres
from tests.ledger.conftest import build_chain, drop_checkpoints, edit, rehash_from, row, tamper


def export_to(ctx: Ctx, path: Path) -> list[str]:
    with path.open("w", encoding="utf-8") as fh:
        export_ledger(ctx, fh)
    return path.read_text(encoding="utf-8").splitlines()


def rewrite(path: Path, lines: list[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def failure(result: VerifyResult) -> tuple[int | None, str]:
    assert not result.ok and result.problem is not None
    return result.problem.seq, result.problem.kind


@pytest.fixture
def exported(chain: Ctx, tmp_path: Path) -> tuple[Path, list[str]]:
    sign_checkpoint(
        chain.session, chain.settings.ledger_key_path, chain.now()
    )  # size 12, exported as a checkpoint line
    path = tmp_path / "ledger.jsonl"
    return path, export_to(chain, path)


def test_an_export_has_a_header_one_line_per_entry_and_the_checkpoints(exported: tuple[Path, list[str]]) -> None:
    _, lines = exported
    header = json.loads(lines[0])
    assert header["format"] == "charter-ledger-export" and header["version"] == 1
    assert header["head"]["size"] == 12 and header["public_keys"][0]["key_id"] == header["head"]["key_id"]
    entries = [json.loads(line) for line in lines[1:13]]
    assert [e["seq"] for e in entries] == list(range(1, 13))
    assert set(entries[0]) == {*header["fields"], "hash", "prev_hash"}
    assert entries[4]["after"]["name"] == "Système n°5"  # UTF-8, not escaped
    assert json.loads(lines[13])["checkpoint"]["size"] == 12
    assert len(lines) == 14


def test_an_export_verifies_offline(exported: tuple[Path, list[str]]) -> None:
    result = verify_export(exported[0])
    assert result.ok, result.problem
    assert (result.source, result.entries_checked, result.checkpoints_checked) == ("file", 12, 2)


def test_an_export_of_an_empty_ledger_verifies(ctx: Ctx, tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    assert len(export_to(ctx, path)) == 1
    assert verify_export(path).ok


def test_an_edited_line_is_caught_at_its_entry(exported: tuple[Path, list[str]]) -> None:
    path, lines = exported
    entry = json.loads(lines[6])
    entry["actor"] = "user:mallory"
    lines[6] = json.dumps(entry)
    rewrite(path, lines)
    assert failure(verify_export(path)) == (6, "hash_mismatch")


def test_a_line_re_encoded_without_changes_is_caught_as_an_edit(exported: tuple[Path, list[str]]) -> None:
    path, lines = exported
    lines[3] = json.dumps(json.loads(lines[3]), indent=None, ensure_ascii=True)  # other spacing and escaping
    rewrite(path, lines)
    assert failure(verify_export(path)) == (3, "hash_mismatch")


def test_a_duplicate_key_line_that_json_loads_reads_as_the_original_is_caught(
    exported: tuple[Path, list[str]],
) -> None:
    """Finding 5, offline: a reader keeping the first key sees EVIL, json.loads the signed original."""
    path, lines = exported
    lines[4] = '{"action":"EVIL",' + lines[4][1:]
    rewrite(path, lines)
    result = verify_export(path)
    assert failure(result) == (4, "hash_mismatch")
    assert result.problem is not None and "duplicate key 'action'" in result.problem.detail


def test_a_duplicate_key_in_the_database_is_caught_in_its_export(chain: Ctx, tmp_path: Path) -> None:
    tamper(chain.session)
    cast_to = "CAST(:v AS json)" if is_postgres() else ":v"
    stored = '{"stage":"EVIL",' + canonical(row(chain.session, 8)["after"])[1:]
    chain.session.execute(text(f"UPDATE ledger_entries SET after = {cast_to} WHERE seq = 8"), {"v": stored})
    path = tmp_path / "tampered.jsonl"
    export_to(chain, path)
    assert failure(verify_export(path)) == (8, "hash_mismatch")


def test_a_deleted_line_is_caught_as_a_gap(exported: tuple[Path, list[str]]) -> None:
    path, lines = exported
    rewrite(path, lines[:4] + lines[5:])
    assert failure(verify_export(path)) == (4, "seq_gap")


def test_swapped_lines_are_caught(exported: tuple[Path, list[str]]) -> None:
    path, lines = exported
    lines[2], lines[3] = lines[3], lines[2]
    rewrite(path, lines)
    assert failure(verify_export(path)) == (2, "seq_gap")


def test_a_truncated_export_is_caught_by_its_signed_header(exported: tuple[Path, list[str]]) -> None:
    path, lines = exported
    rewrite(path, lines[:10])  # entries 1..9 left, the checkpoint line gone too
    assert failure(verify_export(path)) == (10, "head_mismatch")


def test_an_edited_header_is_caught_by_its_signature(exported: tuple[Path, list[str]]) -> None:
    path, lines = exported
    header = json.loads(lines[0])
    header["head"]["size"] = 9
    header["head"]["head_hash"] = json.loads(lines[9])["hash"]
    rewrite(path, [json.dumps(header), *lines[1:10]])
    assert failure(verify_export(path)) == (9, "checkpoint_signature")


def test_a_malformed_line_is_reported(exported: tuple[Path, list[str]]) -> None:
    path, lines = exported
    lines[5] = '{"seq": 5'
    rewrite(path, lines)
    assert failure(verify_export(path)) == (5, "malformed_entry")


def test_a_file_that_is_not_an_export_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "other.jsonl"
    path.write_text('{"hello": 1}\n')
    with pytest.raises(ValueError, match="is not a Charter ledger export"):
        verify_export(path)


def test_an_export_is_checked_against_an_external_checkpoint(chain: Ctx, tmp_path: Path) -> None:
    kept = checkpoint_data(create_checkpoint(chain))
    build_chain(chain, 3, first=50)
    path = tmp_path / "later.jsonl"
    export_to(chain, path)
    assert verify_export(path, kept).ok
    other = tmp_path / "other.jsonl"
    edit(chain.session, 2, reason="rewritten")
    # Re-hash the whole chain and drop the stored checkpoints, then export: only the kept checkpoint disagrees.
    rehash_from(chain.session, 2)
    drop_checkpoints(chain.session)
    export_to(chain, other)
    assert verify_export(other).ok
    assert failure(verify_export(other, kept)) == (12, "external_checkpoint_mismatch")


def test_a_tampered_database_exports_as_stored_and_fails_offline_at_the_same_entry(chain: Ctx, tmp_path: Path) -> None:
    edit(chain.session, 8, after={"stage": "retired"})
    path = tmp_path / "tampered.jsonl"
    export_to(chain, path)
    assert failure(verify_export(path)) == (8, "hash_mismatch")
