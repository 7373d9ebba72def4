"""The local evidence store: content-addressed, each content stored once, nothing kept on refusal."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from charter.evidence.store import BlobTooLarge, LocalFileStore


def files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_same_content_gets_the_same_sha_and_is_stored_once(tmp_path: Path) -> None:
    store = LocalFileStore(tmp_path)
    first = store.put([b"bias report ", b"v2"], max_bytes=100)
    second = store.put([b"bias report v2"], max_bytes=100)
    assert first.sha256 == second.sha256 == hashlib.sha256(b"bias report v2").hexdigest()
    assert (first.created, second.created) == (True, False)
    assert files(tmp_path) == [tmp_path / first.sha256[:2] / first.sha256[2:4] / first.sha256]
    assert b"".join(store.read(first.sha256)) == b"bias report v2"


def test_different_content_is_stored_separately(tmp_path: Path) -> None:
    store = LocalFileStore(tmp_path)
    a = store.put([b"a"], max_bytes=10)
    b = store.put([b"b"], max_bytes=10)
    assert a.sha256 != b.sha256 and store.exists(a.sha256) and store.exists(b.sha256)


def test_content_over_the_limit_is_refused_and_nothing_is_left_behind(tmp_path: Path) -> None:
    store = LocalFileStore(tmp_path)
    with pytest.raises(BlobTooLarge):
        store.put([b"12345", b"67890", b"x"], max_bytes=10)
    assert files(tmp_path) == []
    assert store.put([b"1234567890"], max_bytes=10).size == 10  # exactly the limit is fine


def test_a_malformed_digest_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        LocalFileStore(tmp_path).exists("../../etc/passwd")
