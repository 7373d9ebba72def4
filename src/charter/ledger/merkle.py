"""The ledger's Merkle tree, RFC 9162 (Certificate Transparency v2) §2.1: append, roots, proofs, verification.

Hashing (RFC 9162 §2.1.1), SHA-256:

    MTH({})       = SHA-256()                                   the empty tree
    leaf hash     = SHA-256(0x00 || leaf)
    node hash     = SHA-256(0x01 || left || right)
    MTH(D[n])     = node hash(MTH(D[0:k]), MTH(D[k:n]))          k = largest power of two < n

The leaves are the ledger's entries in order: entry `seq` is leaf index `seq - 1`, and the tree of size n covers
entries 1..n. The leaf (the bytes hashed after 0x00) is the entry's chain hash as its **32 raw bytes**
(`bytes.fromhex(entry.hash)`), not its 64 hex characters: `leaf_of()` is the one definition. The chain hash
already covers the entry's fields and the hash before it (`rules.entry_hash`), so an inclusion proof of leaf
`seq - 1` plus the entry and its `prev_hash` proves the entry's content.

Storage: every *perfect* subtree, once complete, never changes. Its hash is stored under (level, index): the
subtree of 2**level leaves starting at leaf index * 2**level (level 0 are the leaf hashes). A `NodeStore` keeps
them (the integrator's is a table; `InMemoryNodeStore` is here). The tree of size n is the fold of the perfect
subtrees of n's binary decomposition (its frontier, or compact range), so:

- appending costs O(1) amortised hashes (the leaf, plus one node per subtree it completes) and the root after it
  O(log n), from the frontier kept in memory; a new `MerkleLog(store, size)` reads the frontier's <= log2(n)+1
  nodes;
- every proof element (RFC 9162 §2.1.3.1 PATH, §2.1.4.1 PROOF) is the MTH of a range that is one perfect subtree,
  or a few of them folded, so a proof, or the root of any earlier size, costs one batched read of O(log n) nodes.

Verification follows RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2 (consistency) step by step; it needs no store.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Final, Protocol

HASH_SIZE: Final = 32
EMPTY_ROOT: Final = hashlib.sha256(b"").digest()
_LEAF: Final = b"\x00"
_NODE: Final = b"\x01"
_HEX: Final = frozenset("0123456789abcdef")
_sha256 = hashlib.sha256

NodeKey = tuple[int, int]  # (level, index): the perfect subtree over leaves [index * 2**level, (index+1) * 2**level)
Node = tuple[NodeKey, bytes]


class MerkleError(ValueError):
    """A request the tree cannot answer: an index or size out of range, a malformed leaf or hash."""


class ProofError(MerkleError):
    """A proof that does not verify. The message says which check failed."""


class MissingNodeError(MerkleError):
    """The node store lacks a node it must have: its table was truncated or edited, or belongs to another tree."""


# ---- hashing -----------------------------------------------------------------------------------------------


def leaf_hash(leaf: bytes) -> bytes:
    """SHA-256(0x00 || leaf)."""
    return _sha256(_LEAF + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return _sha256(_NODE + left + right).digest()


def leaf_of(chain_hash: str) -> bytes:
    """The leaf of a ledger entry: its chain hash (64 lowercase hex characters) as 32 raw bytes."""
    if not isinstance(chain_hash, str) or len(chain_hash) != 64 or not set(chain_hash) <= _HEX:
        raise MerkleError(f"a ledger chain hash is 64 lowercase hex characters, got {chain_hash!r:.80}")
    return bytes.fromhex(chain_hash)


def entry_leaf_hash(chain_hash: str) -> bytes:
    """The leaf hash of a ledger entry: SHA-256(0x00 || bytes.fromhex(chain_hash))."""
    return leaf_hash(leaf_of(chain_hash))


def _split(n: int) -> int:
    """The largest power of two smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _fold(hashes: Sequence[bytes]) -> bytes:
    """MTH of consecutive perfect subtrees of decreasing size, given left to right: fold from the right."""
    acc = hashes[-1]
    for left in reversed(hashes[:-1]):
        acc = _sha256(_NODE + left + acc).digest()
    return acc


def range_keys(lo: int, hi: int) -> list[NodeKey]:
    """The perfect subtrees that make up leaves [lo, hi), left to right, each as large as alignment allows.

    For the ranges MTH and the proofs use (lo a multiple of the power of two >= hi - lo) these have strictly
    decreasing sizes, and folding their hashes from the right gives MTH(D[lo:hi]).
    """
    keys = []
    while lo < hi:
        level = (hi - lo).bit_length() - 1
        if lo:
            level = min(level, (lo & -lo).bit_length() - 1)
        keys.append((level, lo >> level))
        lo += 1 << level
    return keys


# ---- proof shapes (which ranges; no hashes) ----------------------------------------------------------------


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose MTHs make up PATH(index, D[size]) (RFC 9162 §2.1.3.1), in proof order."""
    if not 0 <= index < size:
        raise MerkleError(f"leaf index {index} is not in a tree of size {size} (allowed: 0..{size - 1})")
    out = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo += k
    out.reverse()
    return out


def consistency_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose MTHs make up PROOF(old_size, D[new_size]) (RFC 9162 §2.1.4.1), in proof order.

    Empty when old_size is 0 or equal to new_size (nothing to prove beyond comparing roots).
    """
    if not 0 <= old_size <= new_size:
        raise MerkleError(
            f"a consistency proof goes from an older size to a newer one: got {old_size} -> {new_size} "
            "(allowed: 0 <= old <= new)"
        )
    if old_size in (0, new_size):
        return []
    out = []
    lo, hi, complete = 0, new_size, True  # complete: D[lo:old_size] is the whole old tree (SUBPROOF's b)
    while old_size != hi:
        k = _split(hi - lo)
        if old_size - lo <= k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo += k
            complete = False
    if not complete:
        out.append((lo, hi))
    out.reverse()
    return out


# ---- storage -----------------------------------------------------------------------------------------------


class NodeStore(Protocol):
    """Where perfect-subtree hashes live. Nodes are immutable: a key, once written, keeps its hash forever.

    The integrator's implementation is a table (level, idx, hash) with primary key (level, idx), written in the
    appending transaction; one call of each method should be one statement.
    """

    def get_nodes(self, keys: Sequence[NodeKey]) -> Sequence[bytes | None]:
        """The hashes of these nodes, in the same order; None for a node the store does not have."""
        ...

    def put_nodes(self, nodes: Sequence[Node]) -> None:
        """Store newly completed nodes (never one already stored with another hash)."""
        ...


class InMemoryNodeStore:
    """A NodeStore in memory: one bytearray of 32-byte hashes per level, filled left to right.

    `reads` counts the nodes read (tests use it to check the O(log n) bound).
    """

    def __init__(self) -> None:
        self.levels: list[bytearray] = []
        self.reads = 0

    def get_nodes(self, keys: Sequence[NodeKey]) -> list[bytes | None]:
        self.reads += len(keys)
        levels, out = self.levels, []
        for level, index in keys:
            row = levels[level] if level < len(levels) else b""
            at = index * HASH_SIZE
            out.append(bytes(row[at : at + HASH_SIZE]) if 0 <= at < len(row) else None)
        return out

    def put_nodes(self, nodes: Sequence[Node]) -> None:
        levels = self.levels
        for (level, index), digest in nodes:
            while len(levels) <= level:
                levels.append(bytearray())
            row, at = levels[level], index * HASH_SIZE
            if at == len(row):
                row += digest
            elif at < len(row) and row[at : at + HASH_SIZE] == digest:
                continue  # written again with the same hash: nothing to do
            elif at < len(row):
                raise MerkleError(f"node (level {level}, index {index}) is already stored with another hash")
            else:
                raise MerkleError(
                    f"node (level {level}, index {index}) is out of order: level {level} holds "
                    f"{len(row) // HASH_SIZE} nodes, so the next one is index {len(row) // HASH_SIZE}"
                )

    def node_count(self) -> int:
        return sum(len(row) for row in self.levels) // HASH_SIZE


def frontier_keys(size: int) -> list[NodeKey]:
    """The perfect subtrees that make up a tree of `size` leaves, largest (leftmost) first."""
    return range_keys(0, size)


def read_nodes(store: NodeStore, keys: Sequence[NodeKey]) -> list[bytes]:
    """One batched read; MissingNodeError names the first node the store lacks."""
    if not keys:
        return []
    found = store.get_nodes(keys)
    if len(found) != len(keys):
        raise MissingNodeError(f"the node store answered {len(found)} hashes for {len(keys)} nodes")
    out = []
    for key, digest in zip(keys, found, strict=True):
        if digest is None or len(digest) != HASH_SIZE:
            level, index = key
            what = "has no" if digest is None else f"has a {len(digest)}-byte hash for"
            raise MissingNodeError(
                f"the node store {what} node (level {level}, index {index}), which a complete tree has: "
                "rows were deleted or edited; rebuild the store from the entries' chain hashes"
            )
        out.append(bytes(digest))
    return out


# ---- the tree ----------------------------------------------------------------------------------------------


class Frontier:
    """The compact range of a tree: the hashes of the perfect subtrees of `size`'s binary decomposition.

    Appending returns the nodes it completes (the leaf itself, then each subtree it closes), which the caller
    stores; the root is their fold, O(log n).
    """

    __slots__ = ("hashes", "size")

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if size < 0 or len(hashes) != size.bit_count():
            raise MerkleError(f"a frontier of size {size} has {size.bit_count()} hashes, got {len(hashes)}")
        self.size = size
        self.hashes = list(hashes)

    def extend(self, leaves: Iterable[bytes]) -> list[Node]:
        """Append leaves (leaf inputs, hashed here); the nodes completed, in an order a store can append."""
        sha, leaf_prefix, node_prefix = _sha256, _LEAF, _NODE
        hashes, size = self.hashes, self.size
        new: list[Node] = []
        add, push, pop = new.append, hashes.append, hashes.pop
        for leaf in leaves:
            digest = sha(leaf_prefix + leaf).digest()
            add(((0, size), digest))
            index, level = size, 0
            while index & 1:
                digest = sha(node_prefix + pop() + digest).digest()
                index >>= 1
                level += 1
                add(((level, index), digest))
            push(digest)
            size += 1
        self.size = size
        return new

    def absorb(self, leaves: Iterable[bytes]) -> None:
        """Append leaves without keeping the nodes (2.5x cheaper than extend): for re-deriving roots while
        walking the chain, e.g. to compare the tree with each signed head's root during verification."""
        sha, leaf_prefix, node_prefix = _sha256, _LEAF, _NODE
        hashes, size = self.hashes, self.size
        push, pop = hashes.append, hashes.pop
        for leaf in leaves:
            digest = sha(leaf_prefix + leaf).digest()
            index = size
            while index & 1:
                digest = sha(node_prefix + pop() + digest).digest()
                index >>= 1
            push(digest)
            size += 1
        self.size = size

    def root(self) -> bytes:
        return _fold(self.hashes) if self.hashes else EMPTY_ROOT


class MerkleLog:
    """An append-only RFC 9162 tree over a NodeStore.

    `MerkleLog(store, size)` resumes a tree whose nodes are in the store (one read of its frontier). Nothing here
    does I/O but through the store, and nothing commits: the integrator appends inside the ledger transaction.
    """

    def __init__(self, store: NodeStore, size: int = 0) -> None:
        if size < 0:
            raise MerkleError(f"a tree size is a whole number >= 0, got {size}")
        self.store = store
        self.frontier = Frontier(size, read_nodes(store, frontier_keys(size)))

    @property
    def size(self) -> int:
        return self.frontier.size

    def append(self, leaf: bytes) -> None:
        """Append one leaf (for a ledger entry: `leaf_of(entry.hash)`)."""
        self.store.put_nodes(self.frontier.extend((leaf,)))

    def extend(self, leaves: Iterable[bytes]) -> None:
        """Append leaves in order; one store write for the lot."""
        nodes = self.frontier.extend(leaves)
        if nodes:
            self.store.put_nodes(nodes)

    def root(self) -> bytes:
        """MTH of the whole tree, from the frontier in memory (no read)."""
        return self.frontier.root()

    def root_at(self, size: int) -> bytes:
        """MTH(D[0:size]) for any size up to the current one (one read of <= log2(size)+1 nodes)."""
        self._check_size(size, "size")
        if size == self.size:
            return self.root()
        return _fold(read_nodes(self.store, frontier_keys(size))) if size else EMPTY_ROOT

    def leaf_hash_at(self, index: int) -> bytes:
        """The stored leaf hash of leaf `index` (entry seq index + 1)."""
        if not 0 <= index < self.size:
            raise MerkleError(f"leaf index {index} is not in a tree of size {self.size}")
        return read_nodes(self.store, [(0, index)])[0]

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(index, D[size]) of RFC 9162 §2.1.3.1 (size defaults to the current one)."""
        size = self.size if size is None else size
        self._check_size(size, "tree size")
        return self._hashes_of(inclusion_ranges(index, size))

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """PROOF(old_size, D[new_size]) of RFC 9162 §2.1.4.1 (new_size defaults to the current one)."""
        new_size = self.size if new_size is None else new_size
        self._check_size(new_size, "new size")
        return self._hashes_of(consistency_ranges(old_size, new_size))

    def _check_size(self, size: int, what: str) -> None:
        if not 0 <= size <= self.size:
            raise MerkleError(f"{what} {size} is beyond this tree, which has {self.size} leaves")

    def _hashes_of(self, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        """MTH of each range, all nodes read in one batch."""
        per_range = [range_keys(lo, hi) for lo, hi in ranges]
        found = read_nodes(self.store, [key for keys in per_range for key in keys])
        out, at = [], 0
        for keys in per_range:
            out.append(_fold(found[at : at + len(keys)]))
            at += len(keys)
        return out


def root_of(leaves: Iterable[bytes]) -> bytes:
    """MTH of these leaves (leaf inputs), streaming: O(log n) memory. For re-deriving a root during a walk."""
    frontier = Frontier()
    frontier.absorb(leaves)
    return frontier.root()


# ---- verification (RFC 9162 §2.1.3.2 and §2.1.4.2) ---------------------------------------------------------


def _check_path(path: Sequence[bytes], what: str) -> None:
    for i, p in enumerate(path):
        if not isinstance(p, bytes) or len(p) != HASH_SIZE:
            raise ProofError(f"{what}: element {i} of the path is not a {HASH_SIZE}-byte hash")


def root_from_inclusion(leaf_digest: bytes, index: int, size: int, path: Sequence[bytes]) -> bytes:
    """The root an inclusion path leads to (RFC 9162 §2.1.3.2 steps 1-5, before the final comparison)."""
    what = f"inclusion proof of leaf {index} in a tree of size {size}"
    if not 0 <= index < size:
        raise ProofError(f"{what}: the leaf index is not in the tree (allowed: 0..{size - 1})")
    _check_path(path, what)
    fn, sn, r = index, size - 1, leaf_digest
    for p in path:
        if sn == 0:
            raise ProofError(f"{what}: the path is longer than the tree is high ({len(path)} hashes)")
        if fn & 1 or fn == sn:
            r = _sha256(_NODE + p + r).digest()
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = _sha256(_NODE + r + p).digest()
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(f"{what}: the path is shorter than the tree is high ({len(path)} hashes)")
    return r


def verify_inclusion(leaf_digest: bytes, index: int, size: int, path: Sequence[bytes], root: bytes) -> None:
    """Check that the leaf with this leaf hash is leaf `index` of the tree (size, root); ProofError if not."""
    computed = root_from_inclusion(leaf_digest, index, size, path)
    if computed != root:
        raise ProofError(
            f"inclusion proof of leaf {index} in a tree of size {size} leads to root {computed.hex()[:16]}…, "
            f"not {root.hex()[:16]}…: the entry, the proof or the root is not the one the tree holds"
        )


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes, path: Sequence[bytes]) -> None:
    """Check that the tree (new_size, new_root) extends (old_size, old_root); ProofError if not.

    RFC 9162 §2.1.4.2, plus the two cases it leaves to the caller: equal sizes (empty proof, equal roots) and
    an old size of 0 (the empty tree is a prefix of every tree; empty proof).
    """
    what = f"consistency proof from size {old_size} to size {new_size}"
    if not 0 <= old_size <= new_size:
        raise ProofError(f"{what}: the newer tree is smaller, so it cannot extend the older one (truncated?)")
    _check_path(path, what)
    if old_size == new_size or old_size == 0:
        if path:
            raise ProofError(f"{what}: the proof must be empty, it has {len(path)} hashes")
        if old_size == new_size and old_root != new_root:
            raise ProofError(
                f"{what}: two different roots for the same size ({old_root.hex()[:16]}… and "
                f"{new_root.hex()[:16]}…): the history was rewritten"
            )
        return
    if not path:
        raise ProofError(f"{what}: the proof is empty")
    seq = list(path)
    if old_size & (old_size - 1) == 0:  # step 2: an exact power of two
        seq.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:  # step 4
        fn >>= 1
        sn >>= 1
    fr = sr = seq[0]  # step 5
    for c in seq[1:]:  # step 6
        if sn == 0:
            raise ProofError(f"{what}: the proof is longer than it should be ({len(path)} hashes)")
        if fn & 1 or fn == sn:
            fr = _sha256(_NODE + c + fr).digest()
            sr = _sha256(_NODE + c + sr).digest()
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = _sha256(_NODE + sr + c).digest()
        fn >>= 1
        sn >>= 1
    if sn != 0:  # step 7
        raise ProofError(f"{what}: the proof is shorter than it should be ({len(path)} hashes)")
    if fr != old_root:
        raise ProofError(
            f"{what}: the proof does not rebuild the old root {old_root.hex()[:16]}… (got {fr.hex()[:16]}…): "
            f"the first {old_size} leaves of the newer tree are not the older tree, the history was rewritten"
        )
    if sr != new_root:
        raise ProofError(
            f"{what}: the proof does not rebuild the new root {new_root.hex()[:16]}… (got {sr.hex()[:16]}…): "
            "the newer tree is not the one the proof was made for"
        )
