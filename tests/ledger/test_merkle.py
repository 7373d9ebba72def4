"""The ledger's Merkle tree against RFC 9162 §2.1, checked by a verifier written here from the RFC's text.

The reference below (MTH, PATH, PROOF, and verifiers that rebuild roots by the same recursion) is written from
RFC 9162 §2.1.1, §2.1.3.1 and §2.1.4.1 with hashlib only; it never calls charter.ledger.merkle. It is itself
pinned to the published RFC 6962 / Certificate Transparency test vectors (the eight leaves and the hashes the
CT reference implementations test with, e.g. google/trillian's log verifier tests).
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from charter.ledger.merkle import (
    EMPTY_ROOT,
    Frontier,
    InMemoryNodeStore,
    MerkleError,
    MerkleLog,
    MissingNodeError,
    ProofError,
    entry_leaf_hash,
    leaf_hash,
    leaf_of,
    range_keys,
    root_from_inclusion,
    root_of,
    verify_consistency,
    verify_inclusion,
)

# ---- the reference, from RFC 9162's text -------------------------------------------------------------------


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def largest_power_of_two_below(n: int) -> int:
    """'k be the largest power of two smaller than n (i.e., k < n <= 2k)'."""
    k = 1
    while 2 * k < n:
        k *= 2
    return k


class Reference:
    """MTH, PATH and PROOF of RFC 9162 over one list of leaves, recursively, on ranges D[lo:hi]."""

    def __init__(self, leaves: list[bytes]) -> None:
        self.d = leaves
        self.mth = lru_cache(maxsize=None)(self._mth)

    def _mth(self, lo: int, hi: int) -> bytes:
        n = hi - lo
        if n == 0:
            return sha(b"")
        if n == 1:
            return sha(b"\x00" + self.d[lo])
        k = largest_power_of_two_below(n)
        return sha(b"\x01" + self.mth(lo, lo + k) + self.mth(lo + k, hi))

    def path(self, m: int, lo: int, hi: int) -> list[bytes]:
        """PATH(m, D[lo:hi]), m relative to lo."""
        n = hi - lo
        if n == 1:
            return []
        k = largest_power_of_two_below(n)
        if m < k:
            return [*self.path(m, lo, lo + k), self.mth(lo + k, hi)]
        return [*self.path(m - k, lo + k, hi), self.mth(lo, lo + k)]

    def proof(self, m: int, n: int) -> list[bytes]:
        """PROOF(m, D[n]) = SUBPROOF(m, D[n], true)."""
        return self.subproof(m, 0, n, True)

    def subproof(self, m: int, lo: int, hi: int, b: bool) -> list[bytes]:
        n = hi - lo
        if m == n:
            return [] if b else [self.mth(lo, hi)]
        k = largest_power_of_two_below(n)
        if m <= k:
            return [*self.subproof(m, lo, lo + k, b), self.mth(lo + k, hi)]
        return [*self.subproof(m - k, lo + k, hi, False), self.mth(lo, lo + k)]


def ref_root_from_path(index: int, size: int, leaf_digest: bytes, path: list[bytes]) -> bytes | None:
    """Undo PATH: its last element is the sibling at the top split. None if the path has the wrong shape."""
    if size == 1:
        return leaf_digest if not path else None
    if not path:
        return None
    k = largest_power_of_two_below(size)
    *rest, sibling = path
    if index < k:
        left = ref_root_from_path(index, k, leaf_digest, rest)
        return None if left is None else sha(b"\x01" + left + sibling)
    right = ref_root_from_path(index - k, size - k, leaf_digest, rest)
    return None if right is None else sha(b"\x01" + sibling + right)


def ref_verify_inclusion(index: int, size: int, leaf_digest: bytes, path: list[bytes], root: bytes) -> bool:
    if not 0 <= index < size or any(len(p) != 32 for p in path):
        return False
    return ref_root_from_path(index, size, leaf_digest, path) == root


def ref_verify_consistency(m: int, n: int, old_root: bytes, new_root: bytes, proof: list[bytes]) -> bool:
    """Undo SUBPROOF: rebuild (old root, new root) from the proof, the old root standing for SUBPROOF's 'true'."""
    if not 0 <= m <= n or any(len(p) != 32 for p in proof):
        return False
    if m == 0 or m == n:
        return not proof and (m == 0 or old_root == new_root)
    rest = list(proof)

    def rebuild(m: int, n: int, b: bool) -> tuple[bytes, bytes] | None:
        if m == n:
            if b:
                return old_root, old_root
            return (rest[-1], rest.pop()) if rest else None
        if not rest:
            return None
        sibling = rest.pop()
        k = largest_power_of_two_below(n)
        if m <= k:
            inner = rebuild(m, k, b)
            return None if inner is None else (inner[0], sha(b"\x01" + inner[1] + sibling))
        inner = rebuild(m - k, n - k, False)
        if inner is None:
            return None
        return sha(b"\x01" + sibling + inner[0]), sha(b"\x01" + sibling + inner[1])

    roots = rebuild(m, n, True)
    return roots is not None and not rest and roots == (old_root, new_root)


# ---- published test vectors (RFC 6962 / CT reference data) ------------------------------------------------

CT_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    bytes(range(0x50, 0x58)),
    bytes(range(0x60, 0x70)),
]
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_INCLUSION = {
    (0, 8): [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    (5, 8): [
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
    (2, 3): ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    (1, 5): [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ],
}
CT_CONSISTENCY = {
    (1, 1): [],
    (1, 8): [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    (6, 8): [
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
    (2, 5): [
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ],
}


def build(leaves: list[bytes]) -> tuple[MerkleLog, InMemoryNodeStore]:
    store = InMemoryNodeStore()
    log = MerkleLog(store)
    log.extend(leaves)
    return log, store


def hexes(hashes: list[bytes]) -> list[str]:
    return [h.hex() for h in hashes]


def test_the_reference_reproduces_the_published_vectors() -> None:
    ref = Reference(CT_LEAVES)
    assert [ref.mth(0, n).hex() for n in range(9)] == CT_ROOTS
    for (i, n), path in CT_INCLUSION.items():
        assert hexes(ref.path(i, 0, n)) == path
    for (m, n), proof in CT_CONSISTENCY.items():
        assert hexes(ref.proof(m, n)) == proof


def test_roots_and_proofs_match_the_published_vectors() -> None:
    store = InMemoryNodeStore()
    log = MerkleLog(store)
    assert log.root() == EMPTY_ROOT == bytes.fromhex(CT_ROOTS[0])
    roots = []
    for leaf in CT_LEAVES:
        log.append(leaf)
        roots.append(log.root().hex())
    assert roots == CT_ROOTS[1:]
    assert [log.root_at(n).hex() for n in range(9)] == CT_ROOTS
    for (i, n), path in CT_INCLUSION.items():
        assert hexes(log.inclusion_proof(i, n)) == path
        verify_inclusion(leaf_hash(CT_LEAVES[i]), i, n, [bytes.fromhex(p) for p in path], bytes.fromhex(CT_ROOTS[n]))
    for (m, n), proof in CT_CONSISTENCY.items():
        assert hexes(log.consistency_proof(m, n)) == proof
        old, new = bytes.fromhex(CT_ROOTS[m]), bytes.fromhex(CT_ROOTS[n])
        verify_consistency(m, n, old, new, [bytes.fromhex(p) for p in proof])


def leaves_for(n: int, salt: bytes = b"") -> list[bytes]:
    """Leaves shaped like the ledger's: 32-byte chain hashes."""
    return [sha(salt + i.to_bytes(4, "big")) for i in range(n)]


def test_every_proof_of_every_size_up_to_300_equals_the_reference_and_both_verifiers_accept_it() -> None:
    size = 300
    leaves = leaves_for(size)
    ref = Reference(leaves)
    log = MerkleLog(InMemoryNodeStore())
    for n in range(1, size + 1):
        log.append(leaves[n - 1])
        root = log.root()
        assert root == ref.mth(0, n)
        for m in range(n + 1):
            proof = log.consistency_proof(m, n)
            assert proof == (ref.proof(m, n) if m > 0 else [])  # RFC 9162 defines PROOF for 0 < m
            old = ref.mth(0, m)
            verify_consistency(m, n, old, root, proof)
            assert ref_verify_consistency(m, n, old, root, proof)
    for n in range(1, size + 1):
        root = ref.mth(0, n)
        for i in range(n):
            path = log.inclusion_proof(i, n)
            assert path == ref.path(i, 0, n)
            verify_inclusion(sha(b"\x00" + leaves[i]), i, n, path, root)
            assert ref_verify_inclusion(i, n, sha(b"\x00" + leaves[i]), path, root)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 300), salt=st.binary(max_size=8), data=st.data())
def test_any_tree_proves_all_its_leaves_and_all_its_prefixes_like_the_reference(
    n: int, salt: bytes, data: st.DataObject
) -> None:
    leaves = leaves_for(n, salt)
    split = data.draw(st.integers(0, n), label="appended before reopening")
    store = InMemoryNodeStore()
    MerkleLog(store).extend(leaves[:split])
    log = MerkleLog(store, split)  # resumed from the store: the frontier is read back
    log.extend(leaves[split:])
    ref = Reference(leaves)
    root = ref.mth(0, n)
    assert log.root() == root == root_of(leaves)
    for i in range(n):
        path = log.inclusion_proof(i)
        assert path == ref.path(i, 0, n)
        assert ref_verify_inclusion(i, n, leaf_hash(leaves[i]), path, root)
        verify_inclusion(leaf_hash(leaves[i]), i, n, path, root)
    for m in range(1, n + 1):
        proof = log.consistency_proof(m)
        assert proof == ref.proof(m, n)
        assert log.root_at(m) == ref.mth(0, m)
        assert ref_verify_consistency(m, n, ref.mth(0, m), root, proof)
        verify_consistency(m, n, ref.mth(0, m), root, proof)


# ---- tampering ---------------------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 120), data=st.data())
def test_a_changed_leaf_is_refused_by_both_verifiers(n: int, data: st.DataObject) -> None:
    leaves = leaves_for(n)
    log, _ = build(leaves)
    root = log.root()
    j = data.draw(st.integers(0, n - 1), label="changed leaf")
    forged = sha(b"forged" + leaves[j])
    path = log.inclusion_proof(j)
    with pytest.raises(ProofError, match="leads to root"):
        verify_inclusion(leaf_hash(forged), j, n, path, root)
    assert not ref_verify_inclusion(j, n, leaf_hash(forged), path, root)
    # The tree rebuilt with the changed leaf has another root, and no proof links the signed one to it.
    tampered, _ = build([*leaves[:j], forged, *leaves[j + 1 :]])
    assert tampered.root() != root
    for m in range(max(1, j + 1), n + 1):
        proof = tampered.consistency_proof(m)
        with pytest.raises(ProofError):
            verify_consistency(m, n, log.root_at(m), tampered.root(), proof)
        assert not ref_verify_consistency(m, n, log.root_at(m), tampered.root(), proof)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 120), data=st.data())
def test_reordered_leaves_are_refused(n: int, data: st.DataObject) -> None:
    leaves = leaves_for(n)
    a = data.draw(st.integers(0, n - 2), label="a")
    b = data.draw(st.integers(a + 1, n - 1), label="b")
    swapped = list(leaves)
    swapped[a], swapped[b] = swapped[b], swapped[a]
    honest, _ = build(leaves)
    reordered, _ = build(swapped)
    assert reordered.root() != honest.root()
    m = b  # the honest head covered both swapped leaves' predecessors... and the first of them
    old_root = honest.root_at(m) if m else EMPTY_ROOT
    proof = reordered.consistency_proof(m)
    with pytest.raises(ProofError):
        verify_consistency(m, n, old_root, reordered.root(), proof)
    assert not ref_verify_consistency(m, n, old_root, reordered.root(), proof)
    with pytest.raises(ProofError):  # leaf a's proof in the reordered tree does not lead to the honest root
        verify_inclusion(leaf_hash(leaves[a]), a, n, reordered.inclusion_proof(a), honest.root())


def test_a_truncated_tree_is_refused_even_when_regrown_to_the_same_size() -> None:
    leaves = leaves_for(50)
    log, _ = build(leaves)
    signed_root = log.root()
    short, _ = build(leaves[:45])
    with pytest.raises(ProofError, match="smaller"):
        verify_consistency(50, 45, signed_root, short.root(), [])
    assert not ref_verify_consistency(50, 45, signed_root, short.root(), [])
    regrown, _ = build([*leaves[:45], *leaves_for(5, b"forged")])
    with pytest.raises(ProofError, match="two different roots"):
        verify_consistency(50, 50, signed_root, regrown.root(), [])
    for m in (46, 49, 50):  # every head that covered a replaced entry
        proof = regrown.consistency_proof(m, 50) if m < 50 else []
        with pytest.raises(ProofError):
            verify_consistency(m, 50, log.root_at(m), regrown.root(), proof)
    # ...while the truncated prefix itself is still consistent with the regrown tree: nothing was signed after it.
    verify_consistency(45, 50, short.root(), regrown.root(), regrown.consistency_proof(45))


def test_a_forged_root_and_altered_proofs_are_refused() -> None:
    leaves = leaves_for(37)
    log, _ = build(leaves)
    root, forged = log.root(), sha(b"forged root")
    for i in (0, 5, 31, 32, 36):
        path = log.inclusion_proof(i)
        digest = leaf_hash(leaves[i])
        verify_inclusion(digest, i, 37, path, root)
        bad_cases = [
            (digest, i, 37, path, forged),
            (digest, i + 1 if i < 36 else i - 1, 37, path, root),
            (digest, i, 74, path, root),  # a wrong size (x2, /2): a path binds the size only where its shape
            (digest, i, 18, path, root),  # differs, which is why a head signs the size with the root
            (digest, i, 37, [*path, root], root),
            (digest, i, 37, path[:-1], root),
            (digest, i, 37, [root, *path], root),
            (sha(b"x"), i, 37, path, root),
        ]
        bad_cases += [(digest, i, 37, [*path[:k], forged, *path[k + 1 :]], root) for k in range(len(path))]
        for case in bad_cases:
            with pytest.raises(ProofError):
                verify_inclusion(*case)
            assert not ref_verify_inclusion(case[1], case[2], case[0], case[3], case[4])
    for m in (1, 4, 20, 32, 36):
        proof, old = log.consistency_proof(m), log.root_at(m)
        verify_consistency(m, 37, old, root, proof)
        bad = [
            (m, 37, old, forged, proof),
            (m, 37, forged, root, proof),
            (m, 37, root, old, proof),
            (m + 1, 37, old, root, proof),
            (m, 74, old, root, proof),
            (m, 18, old, root, proof),
            (m, 37, old, root, [*proof, root]),
            (m, 37, old, root, proof[:-1]),
            (m, 37, old, root, [proof[0], *proof]),
            (m, 37, old, root, []),
        ]
        bad += [(m, 37, old, root, [*proof[:k], forged, *proof[k + 1 :]]) for k in range(len(proof))]
        for case in bad:
            with pytest.raises(ProofError):
                verify_consistency(*case)
            assert not ref_verify_consistency(*case)


def test_malformed_proof_input_is_refused_with_a_reason() -> None:
    with pytest.raises(ProofError, match="not in the tree"):
        verify_inclusion(sha(b""), 3, 3, [], EMPTY_ROOT)
    with pytest.raises(ProofError, match="32-byte"):
        verify_inclusion(sha(b""), 0, 2, [b"short"], EMPTY_ROOT)
    with pytest.raises(ProofError, match="must be empty"):
        verify_consistency(0, 5, EMPTY_ROOT, sha(b"r"), [sha(b"p")])
    verify_consistency(0, 5, EMPTY_ROOT, sha(b"anything"), [])  # the empty tree is a prefix of every tree
    with pytest.raises(ProofError, match="shorter"):
        root_from_inclusion(sha(b""), 0, 4, [sha(b"a")])


# ---- storage: O(log n) reads, immutability, damage -------------------------------------------------------


def test_proofs_and_old_roots_read_o_log_n_nodes_in_one_batch() -> None:
    n = 20_000
    _, store = build(leaves_for(n))
    assert store.node_count() == 2 * n - n.bit_count()  # every perfect subtree, once
    store.reads = 0
    reopened = MerkleLog(store, n)
    assert store.reads == n.bit_count()
    bound = 2 * n.bit_length()
    for size in (1, 2, 3, 1000, 4096, 4097, 12_345, n):
        for index in {0, size // 3, size - 1}:
            store.reads = 0
            reopened.inclusion_proof(index, size)
            assert store.reads <= bound, (index, size, store.reads)
        for old in {1, size // 2, size - 1, size}:
            store.reads = 0
            reopened.consistency_proof(old, size)
            assert store.reads <= bound, (old, size, store.reads)
        store.reads = 0
        reopened.root_at(size)
        assert store.reads <= size.bit_length()


class OneCallStore(InMemoryNodeStore):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def get_nodes(self, keys):  # type: ignore[no-untyped-def]
        self.calls += 1
        return super().get_nodes(keys)


def test_a_proof_is_one_store_call() -> None:
    store = OneCallStore()
    log = MerkleLog(store)
    log.extend(leaves_for(1000))
    store.calls = 0
    log.inclusion_proof(777, 999)
    log.consistency_proof(333, 999)
    assert store.calls == 2


def test_a_damaged_store_is_named_not_silently_used() -> None:
    log, store = build(leaves_for(10))
    del store.levels[1][32:]  # lose level-1 nodes 1.. (a truncated node table)
    with pytest.raises(MissingNodeError, match=r"node \(level 1, index 1\)"):
        log.inclusion_proof(0, 10)
    with pytest.raises(MissingNodeError):
        MerkleLog(store, 10)  # frontier of 10 = (3, 0) and (1, 4): level 1 index 4 is gone
    with pytest.raises(MerkleError, match="already stored with another hash"):
        store.put_nodes([((0, 0), sha(b"other"))])
    with pytest.raises(MerkleError, match="out of order"):
        store.put_nodes([((0, 12), sha(b"gap"))])


def test_sizes_beyond_the_tree_are_refused() -> None:
    log, _ = build(leaves_for(5))
    with pytest.raises(MerkleError, match="beyond this tree"):
        log.root_at(6)
    with pytest.raises(MerkleError, match="beyond this tree"):
        log.inclusion_proof(0, 6)
    with pytest.raises(MerkleError, match="older size to a newer one"):
        log.consistency_proof(4, 3)
    with pytest.raises(MerkleError, match="not in a tree of size 5"):
        log.inclusion_proof(5)


def test_the_frontier_alone_gives_the_root_after_each_append() -> None:
    leaves = leaves_for(70)
    ref = Reference(leaves)
    frontier, walker = Frontier(), Frontier()
    for n, leaf in enumerate(leaves, 1):
        frontier.extend([leaf])
        walker.absorb([leaf])
        assert frontier.root() == walker.root() == ref.mth(0, n)
        assert len(frontier.hashes) == n.bit_count()
    with pytest.raises(MerkleError, match="has 2 hashes"):
        Frontier(3, [sha(b"a")])


def test_an_entry_leaf_is_the_32_raw_bytes_of_its_chain_hash() -> None:
    chain_hash = sha(b"entry").hex()
    assert leaf_of(chain_hash) == bytes.fromhex(chain_hash)
    assert entry_leaf_hash(chain_hash) == sha(b"\x00" + bytes.fromhex(chain_hash))
    for bad in (chain_hash.upper(), chain_hash[:-1], chain_hash + "0", "g" * 64, 7):
        with pytest.raises(MerkleError, match="64 lowercase hex"):
            leaf_of(bad)  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(lo=st.integers(0, 5000), width=st.integers(0, 5000))
def test_any_leaf_range_is_covered_exactly_by_aligned_perfect_subtrees(lo: int, width: int) -> None:
    at = lo
    for level, index in range_keys(lo, lo + width):
        assert index << level == at  # starts where the previous one ended, on its own alignment
        at += 1 << level
    assert at == lo + width
    assert len(range_keys(lo, lo + width)) <= 2 * max(1, width.bit_length())
