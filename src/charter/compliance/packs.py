"""Evidence packs for one system and framework (charter.ledger.pack holds the format and the offline verifier).

The pack holds the coverage (`coverage.json`: every requirement's status, controls, evidence and why), the
evidence files behind met or partly met requirements (`evidence/<id>-<name>`), the ledger entries of every record
that evidence names, each with its Merkle inclusion proof, and a tree head over the whole ledger signed with the
ledger key. Deterministic: the head's time is the newest entry's, so the same state gives the same bytes.
"""

from __future__ import annotations

import base64
import json
import re

from sqlalchemy import select, tuple_

from charter.compliance.queries import coverage, coverage_read
from charter.compliance.rules import FrameworkCoverage
from charter.context import Ctx
from charter.evidence.service import open_content
from charter.kit.errors import ValidationFailed
from charter.ledger.merkle import InMemoryNodeStore, MerkleLog, leaf_of
from charter.ledger.models import LedgerEntry
from charter.ledger.pack import PackEntry, write_pack
from charter.ledger.rules import FIELDS, GENESIS_HASH, to_jsonable
from charter.ledger.signing import load_or_create_signer
from charter.ledger.tree_head import prove_inclusion, sign_tree_head, timestamp_text

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def _entries(ctx: Ctx, cov: FrameworkCoverage, size: int) -> list[LedgerEntry]:
    keys = sorted(
        {e.ledger for r in cov.requirements if r.status != "not_applicable" for e in r.evidence() if e.ledger}
    )
    keys.append(("system", cov.system))
    rows: dict[int, LedgerEntry] = {}
    for start in range(0, len(keys), 200):
        chunk = keys[start : start + 200]
        stmt = select(LedgerEntry).where(
            tuple_(LedgerEntry.entity_type, LedgerEntry.entity_id).in_(chunk), LedgerEntry.seq <= size
        )
        for row in ctx.session.execute(stmt).scalars():
            rows[row.seq] = row
    return [rows[s] for s in sorted(rows)]


def _evidence_files(ctx: Ctx, cov: FrameworkCoverage) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    ids = sorted({e.evidence_id for r in cov.requirements for e in r.evidence() if e.evidence_id is not None})
    for evidence_id in ids:
        evidence, chunks = open_content(ctx, evidence_id)
        name = _SAFE_NAME.sub("_", evidence.filename or "file")[:100]
        files[f"evidence/{evidence_id}-{name}"] = b"".join(chunks)
    return files


def build_pack(ctx: Ctx, system_key: str, framework_id: str) -> bytes:
    """The pack's bytes for the system's coverage of the framework, now."""
    ctx.require("compliance:export")
    cov = coverage(ctx, system_key, framework_id)
    hashes = list(
        ctx.session.execute(select(LedgerEntry.seq, LedgerEntry.hash, LedgerEntry.ts).order_by(LedgerEntry.seq)).all()
    )
    if not hashes:
        raise ValidationFailed("the ledger is empty: there is nothing to prove a pack against")
    for expected, (seq, _, _) in enumerate(hashes, start=1):
        if seq != expected:
            raise ValidationFailed(f"the ledger has a gap at entry {expected}: run 'charter audit verify' first")
    log = MerkleLog(InMemoryNodeStore())
    log.extend(leaf_of(h) for _, h, _ in hashes)
    signer = load_or_create_signer(ctx.settings.ledger_key_path)
    public = base64.b64decode(signer.public_key)
    head = sign_tree_head(log.size, log.root(), timestamp_text(hashes[-1][2]), sign=signer.private_key.sign,
                          public_key=public)  # fmt: skip
    rows = _entries(ctx, cov, log.size)
    entries = [
        PackEntry({f: to_jsonable(getattr(r, f)) for f in FIELDS}, r.hash, r.prev_hash or GENESIS_HASH) for r in rows
    ]
    proofs = [prove_inclusion(log, r.seq, r.hash) for r in rows]
    report = coverage_read(cov).model_dump(mode="json")
    files = {"coverage.json": (json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()}
    files |= _evidence_files(ctx, cov)
    subject = {"system": cov.system, "framework": cov.framework, "framework_version": cov.version,
               "coverage_digest": cov.digest(), "counts": cov.counts}  # fmt: skip
    return write_pack(files, entries, proofs, head, subject, sign=signer.private_key.sign, public_key=public)
