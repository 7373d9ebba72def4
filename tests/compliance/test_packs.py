"""Evidence packs: built from live data, the same bytes for the same state, verified offline with only the public
key; altered, removed and added files and ledger entries are each refused."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from charter.cli.main import app
from charter.compliance.packs import build_pack
from charter.ledger.pack import ENTRIES, MANIFEST, SIGNATURE, verify_pack
from charter.ledger.signing import load_or_create_signer
from charter.procedures import service as runs
from charter.procedures import workflow
from tests.compliance.helpers import setup_acme
from tests.conftest import Actors

REPORT = b"RACI matrix: owner ada, approver alan, accountable grace.\n"


@pytest.fixture
def pack(actors: Actors) -> bytes:
    system = setup_acme(actors.ctx("admin"))
    engineer = actors.ctx("engineer")
    run = runs.start_run(engineer, "ethical-review", "system", system.id)
    for section in runs.read_run(engineer, run.id).sections:
        for item in section.items:
            answer = "pass" if item.item_id == "roles-clear" else "not_applicable"
            runs.answer_item(engineer, run.id, item.item_id, answer, version=item.version, justification="n/a here")
    runs.add_file_evidence(engineer, io.BytesIO(REPORT), "raci.txt", title="RACI", description="", expires_at=None,
                           run_id=run.id, item_id="roles-clear")  # fmt: skip
    run = workflow.submit_run(engineer, run.id, version=runs.read_run(engineer, run.id).version)
    workflow.signoff_run(actors.ctx("approver"), run.id, "approve", version=run.version)
    return build_pack(actors.ctx("auditor"), "chatbot", "acme-ai-policy")


def public_key(actors: Actors) -> str:
    return load_or_create_signer(actors.settings.ledger_key_path).public_key


def files_of(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def rezip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, content in files.items():
            zf.writestr(name, content)
    return out.getvalue()


def test_a_pack_holds_coverage_evidence_and_proven_entries_and_verifies(pack: bytes, actors: Actors) -> None:
    files = files_of(pack)
    coverage = json.loads(files["coverage.json"])
    p11 = next(r for r in coverage["requirements"] if r["id"] == "P1.1")
    assert p11["status"] == "met"
    evidence = [n for n in files if n.startswith("evidence/")]
    assert len(evidence) == 1 and files[evidence[0]] == REPORT and evidence[0].endswith("-raci.txt")
    entries = [json.loads(line) for line in files[ENTRIES].splitlines()]
    assert {"procedure_run", "evidence", "system"} <= {e["entity_type"] for e in entries}

    result = verify_pack(pack, public_key(actors))
    assert result.ok, result.problems
    assert result.pinned and result.entries == len(entries) and result.files == len(files) - 2


def test_the_same_state_gives_the_same_bytes(pack: bytes, actors: Actors) -> None:
    assert build_pack(actors.ctx("auditor"), "chatbot", "acme-ai-policy") == pack


def refused(data: bytes, actors: Actors) -> list[str]:
    result = verify_pack(data, public_key(actors))
    assert not result.ok
    return result.problems


def test_altered_removed_and_added_files_are_refused(pack: bytes, actors: Actors) -> None:
    files = files_of(pack)
    name = next(n for n in files if n.startswith("evidence/"))
    assert f"{name} was altered: its SHA-256 is not the one the manifest signs" in refused(
        rezip(files | {name: REPORT.replace(b"grace", b"nobody")}), actors
    )
    assert f"{name} is listed in the manifest but missing from the pack" in refused(
        rezip({k: v for k, v in files.items() if k != name}), actors
    )
    assert "evidence/extra.txt is not in the manifest: a file was added to the pack" in refused(
        rezip(files | {"evidence/extra.txt": b"more"}), actors
    )
    assert "coverage.json was altered: its SHA-256 is not the one the manifest signs" in refused(
        rezip(files | {"coverage.json": files["coverage.json"].replace(b'"missing"', b'"met"')}), actors
    )


def test_altered_removed_and_added_ledger_entries_are_refused(pack: bytes, actors: Actors) -> None:
    files = files_of(pack)
    lines = files[ENTRIES].decode().splitlines()
    first = json.loads(lines[0])

    altered = json.dumps(first | {"actor": "mallory"}, sort_keys=True, separators=(",", ":"))
    problems = refused(rezip(files | {ENTRIES: "\n".join([altered, *lines[1:]]).encode() + b"\n"}), actors)
    assert f"ledger entry {first['seq']} was altered: its content does not match its hash" in problems
    assert f"{ENTRIES} was altered: its SHA-256 is not the one the manifest signs" in problems

    problems = refused(rezip(files | {ENTRIES: "\n".join(lines[1:]).encode() + b"\n"}), actors)
    assert f"ledger entry {first['seq']} is listed in the manifest but missing from {ENTRIES}" in problems

    listed = set(json.loads(files[MANIFEST])["entries"])
    extra_seq = next(s for s in range(1, 10_000) if s not in listed)
    extra = json.dumps(first | {"seq": extra_seq}, sort_keys=True, separators=(",", ":"))
    problems = refused(rezip(files | {ENTRIES: "\n".join([*lines, extra]).encode() + b"\n"}), actors)
    assert f"ledger entry {extra_seq} is not in the manifest: an entry was added" in problems
    assert f"ledger entry {extra_seq} has no valid inclusion proof in the signed tree head" in problems


def test_a_re_signed_manifest_and_a_wrong_key_are_refused(pack: bytes, actors: Actors) -> None:
    files = files_of(pack)
    manifest = files[MANIFEST].replace(b'"system":"chatbot"', b'"system":"other"')
    problems = refused(rezip(files | {MANIFEST: manifest}), actors)
    assert any("manifest.json has no valid signature" in p for p in problems)

    mallory = Ed25519PrivateKey.generate()
    forged = rezip(files | {SIGNATURE: base64.b64encode(mallory.sign(files[MANIFEST])) + b"\n"})
    assert any("has no valid signature" in p for p in refused(forged, actors))
    other = base64.b64encode(mallory.public_key().public_bytes_raw()).decode()
    assert any("the key given is" in p for p in verify_pack(pack, other).problems)
    assert verify_pack(b"not a zip", None).problems == ["not a readable zip file: File is not a zip file"]


def test_the_cli_verifies_a_pack_offline(pack: bytes, actors: Actors, tmp_path: Path) -> None:
    path = tmp_path / "pack.zip"
    path.write_bytes(pack)
    runner = CliRunner()
    ok = runner.invoke(app, ["audit", "verify-pack", str(path), "--public-key", public_key(actors)])
    assert ok.exit_code == 0, ok.output
    assert ok.output.startswith("OK: chatbot / acme-ai-policy:")
    files = files_of(pack)
    name = next(n for n in files if n.startswith("evidence/"))
    path.write_bytes(rezip(files | {name: b"changed"}))
    bad = runner.invoke(app, ["audit", "verify-pack", str(path), "--public-key", public_key(actors)])
    assert bad.exit_code == 1 and f"FAILED: {name} was altered" in bad.output
