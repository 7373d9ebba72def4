"""scripts/build_catalogs.py rebuilds the shipped catalogs byte for byte and refuses sources that changed."""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ROOT.parent / "shared" / "catalogs"
if not SOURCES.is_dir():  # a git worktree under ../wt/
    SOURCES = ROOT.parent.parent / "shared" / "catalogs"


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_catalogs", ROOT / "scripts" / "build_catalogs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["build_catalogs"] = module
    spec.loader.exec_module(module)
    return module


build = _load_script()


@pytest.fixture(scope="module")
def fresh() -> dict[Path, bytes]:
    return build.build_all(SOURCES)


def test_check_passes_on_the_shipped_files(capsys: pytest.CaptureFixture[str]) -> None:
    assert build.main(["--check"]) == 0
    assert "up to date" in capsys.readouterr().out


def test_a_build_into_an_empty_tree_reproduces_every_shipped_file(tmp_path: Path, fresh: dict[Path, bytes]) -> None:
    assert build.main([str(SOURCES), "--root", str(tmp_path)]) == 0
    written = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert written == sorted(fresh)
    for rel in written:
        assert (tmp_path / rel).read_bytes() == (ROOT / rel).read_bytes(), rel


def test_two_builds_are_identical(fresh: dict[Path, bytes]) -> None:
    assert build.build_all(SOURCES) == fresh


def test_check_names_a_changed_and_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert build.main([str(SOURCES), "--root", str(tmp_path)]) == 0
    changed = tmp_path / "src/charter/content/frameworks/nist-ai-600-1.yaml"
    changed.write_bytes(changed.read_bytes().replace(b"Confabulation", b"Confabulations"))
    (tmp_path / "src/charter/content/schemas/cyclonedx-1.6/spdx.schema.json").unlink()
    capsys.readouterr()
    assert build.main([str(SOURCES), "--root", str(tmp_path), "--check"]) == 1
    err = capsys.readouterr().err
    assert "src/charter/content/frameworks/nist-ai-600-1.yaml differs from a fresh build" in err
    assert "src/charter/content/schemas/cyclonedx-1.6/spdx.schema.json is missing" in err


def copy_sources(tmp_path: Path) -> Path:
    src = tmp_path / "catalogs"
    shutil.copytree(SOURCES, src)
    for path in src.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return src


def test_a_changed_pinned_source_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = copy_sources(tmp_path)
    atlas = src / "mitre-atlas" / "ATLAS.yaml"
    atlas.write_bytes(atlas.read_bytes() + b"\n")
    assert build.main([str(src), "--root", str(tmp_path / "out")]) == 2
    assert "ATLAS.yaml: sha256" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_source_that_lost_a_row_fails_the_count_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = copy_sources(tmp_path)
    csv_path = src / "nist-ai-rmf" / "nist_ai_rmf_1.0_subcategories.csv"
    lines = csv_path.read_text(encoding="utf-8").splitlines(keepends=True)
    csv_path.write_text("".join(lines[:-1]), encoding="utf-8")
    assert build.main([str(src), "--root", str(tmp_path / "out")]) == 2
    assert "nist-ai-rmf-1.0: built counts" in capsys.readouterr().err


def test_schema_copies_are_unmodified(fresh: dict[Path, bytes]) -> None:
    pinned = {
        "cyclonedx-1.6/bom-1.6.schema.json": "18f57f7482593bad9f21b4feed09084640cbeff419d62ad5090c5ceccca5b37d",
        "oscal-1.2.3/oscal_complete_schema.json": "384324105c7a817af0f65b120a963146caa0e0d55d969cf0daf60e063b87a206",
    }
    for name, digest in pinned.items():
        shipped = ROOT / "src/charter/content/schemas" / name
        assert hashlib.sha256(shipped.read_bytes()).hexdigest() == digest
    assert b"Apache License" in (ROOT / "src/charter/content/schemas/cyclonedx-1.6/LICENSE").read_bytes()
