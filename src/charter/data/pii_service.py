"""The PII guard as a service: per-vendor egress policies, the vault in the database, guard and restore calls.

Every guard call is recorded in the ledger with counts per entity type and the action taken — never the text or the
values — and, given an AI system, its counts become the monitoring metrics ``pii_detected`` and ``pii_blocked``.

Vendors (issue 18) are not built yet: a vendor is named by the string its egress policy was set for. A guard call for
a vendor without a policy is refused (nothing leaves, nothing is stored) and the answer names the vendors that have
one; when the vendor register lands, ``set_policy`` is where a vendor is checked against it.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select

from charter.data.models import EgressPolicy as PolicyRow
from charter.data.models import VaultRow
from charter.data.pii import (
    Analyzer,
    EgressPolicy,
    Guard,
    PolicyError,
    Vault,
    VaultEntry,
    default_analyzer,
    nlp_status,
)
from charter.data.schemas import GuardIn, GuardOut, PolicyIn, PolicyRead, RestoreIn, RestoreOut
from charter.kit.errors import NotFound, StaleVersion, ValidationFailed
from charter.kit.principal import SYSTEM
from charter.ledger.chain import snapshot
from charter.monitoring.metrics.service import ingest as ingest_metrics

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from charter.context import Ctx

VAULT_INFO = b"charter pii vault key v1"
HMAC_INFO = b"charter pii hash key v1"


class DbVaultStore:
    """The vault's entries in ``pii_vault_entries`` (a :class:`charter.data.pii.VaultStore`)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    @staticmethod
    def _entry(row: VaultRow) -> VaultEntry:
        return VaultEntry(
            row.scope, row.token, row.entity, bytes(row.blind_index), bytes(row.nonce), bytes(row.ciphertext),
            row.created_at, row.expires_at,
        )  # fmt: skip

    def get_many(self, scope: str, tokens: Collection[str]) -> dict[str, VaultEntry]:
        if not tokens:
            return {}
        rows = self.session.execute(select(VaultRow).where(VaultRow.scope == scope, VaultRow.token.in_(list(tokens))))
        return {r.token: self._entry(r) for r in rows.scalars()}

    def find(self, scope: str, index: bytes) -> VaultEntry | None:
        row = self.session.execute(
            select(VaultRow)
            .where(VaultRow.scope == scope, VaultRow.blind_index == index)
            .order_by(VaultRow.expires_at.desc())
            .limit(1)
        ).scalar_one_or_none()
        return None if row is None else self._entry(row)

    def put(self, entry: VaultEntry) -> None:
        self.session.add(
            VaultRow(
                scope=entry.scope, token=entry.token, entity=entry.entity, blind_index=entry.index,
                nonce=entry.nonce, ciphertext=entry.ciphertext, created_at=entry.created_at,
                expires_at=entry.expires_at,
            )
        )  # fmt: skip
        self.session.flush()

    def delete_expired(self, now: datetime) -> int:
        return int(self.session.execute(delete(VaultRow).where(VaultRow.expires_at <= now)).rowcount or 0)  # type: ignore[attr-defined]

    def delete_scope(self, scope: str) -> int:
        return int(self.session.execute(delete(VaultRow).where(VaultRow.scope == scope)).rowcount or 0)  # type: ignore[attr-defined]


def _key(ctx: Ctx, info: bytes) -> bytes:
    """32 bytes derived from the server secret (CHARTER_SECRET_KEY): the vault's key survives restarts."""
    return hashlib.sha256(info + b"\x00" + ctx.settings.secret.encode()).digest()


def vault(ctx: Ctx, ttl: timedelta = timedelta(hours=1)) -> Vault:
    return Vault(_key(ctx, VAULT_INFO), DbVaultStore(ctx.session), ttl=ttl, clock=ctx.now)


# -- policies ------------------------------------------------------------------------------------------------------


def _policy_row(session: Session, vendor: str) -> PolicyRow | None:
    return session.execute(select(PolicyRow).where(PolicyRow.vendor == vendor)).scalar_one_or_none()


def policy_read(row: PolicyRow) -> PolicyRead:
    doc = row.document
    return PolicyRead(
        vendor=row.vendor, entities=doc["entities"], default=doc["default"], threshold=doc["threshold"],
        on_undetectable=doc["on_undetectable"], ttl_seconds=row.ttl_seconds, version=row.version,
        updated_at=row.updated_at,
    )  # fmt: skip


def set_policy(ctx: Ctx, vendor: str, data: PolicyIn) -> PolicyRow:
    """Create or replace a vendor's egress policy (replacing needs the version read)."""
    ctx.require("pii:manage")
    vendor = vendor.strip()
    document = {
        "vendor": vendor,
        "entities": data.entities,
        "default": data.default,
        "threshold": data.threshold,
        "on_undetectable": data.on_undetectable,
    }
    try:
        policy = EgressPolicy.from_dict(document)
    except PolicyError as exc:
        raise ValidationFailed(str(exc), errors=[{"loc": ["body"], "msg": str(exc)}]) from exc
    now = ctx.now()
    row = _policy_row(ctx.session, vendor)
    if row is None:
        row = PolicyRow(vendor=vendor, document=policy.to_dict(), ttl_seconds=data.ttl_seconds, created_at=now,
                        updated_at=now, version=1)  # fmt: skip
        ctx.session.add(row)
        ctx.session.flush()
        ctx.record("pii.policy_set", "egress_policy", vendor, after=snapshot(row, exclude=frozenset({"id"})))
        return row
    if data.version != row.version:
        raise StaleVersion(f"the egress policy for vendor {vendor!r}", data.version or 0, row.version)
    before = snapshot(row, exclude=frozenset({"id"}))
    row.document, row.ttl_seconds, row.updated_at = policy.to_dict(), data.ttl_seconds, now
    row.version += 1
    ctx.session.flush()
    ctx.record("pii.policy_set", "egress_policy", vendor, before=before, after=snapshot(row, exclude=frozenset({"id"})))
    return row


def list_policies(ctx: Ctx) -> list[PolicyRead]:
    ctx.require("data:read")
    rows = ctx.session.execute(select(PolicyRow).order_by(PolicyRow.vendor)).scalars()
    return [policy_read(r) for r in rows]


def _policy_for(ctx: Ctx, vendor: str) -> PolicyRow:
    row = _policy_row(ctx.session, vendor)
    if row is None:
        known = list(ctx.session.execute(select(PolicyRow.vendor).order_by(PolicyRow.vendor)).scalars())
        listed = ", ".join(known) if known else "none yet (charter pii policy set VENDOR ...)"
        raise NotFound(
            f"unknown vendor {vendor!r}: no egress policy says what may be sent to it, so nothing is sent; "
            f"vendors with a policy: {listed}",
            entity="vendor",
        )
    return row


# -- guard and restore ---------------------------------------------------------------------------------------------


def guard(ctx: Ctx, data: GuardIn) -> GuardOut:
    """Detect PII in ``text`` and apply the vendor's policy; pseudonyms go into the vault (scope = data.scope)."""
    ctx.require("pii:guard")
    row = _policy_for(ctx, data.vendor)
    policy = EgressPolicy.from_dict(row.document)
    vault_ = vault(ctx, timedelta(seconds=row.ttl_seconds))
    engine = Guard(analyzer(), hmac_key=_key(ctx, HMAC_INFO), vault=vault_)
    try:
        result = engine.apply(data.text, policy, scope=data.scope)
    except PolicyError as exc:
        raise ValidationFailed(str(exc), errors=[{"loc": ["body", "vendor"], "msg": str(exc)}]) from exc
    record = {**result.to_dict(), "scope": data.scope, "system": data.system, "characters": len(data.text)}
    entry = ctx.record("pii.guard", "vendor", data.vendor, after=record)
    if data.system:
        _metrics(ctx, data.system, data.vendor, result.metrics, entry.seq)
    return GuardOut(**result.to_dict(), text=result.text, scope=data.scope)


def _metrics(ctx: Ctx, system: str, vendor: str, metrics: dict[str, int], seq: int) -> None:
    now = ctx.now().isoformat()
    points = [{"name": n, "value": v, "ts": now, "labels": {"vendor": vendor}} for n, v in sorted(metrics.items())]
    ingest_metrics(ctx.acting_as(SYSTEM), system, {"batch_id": f"pii-guard-{seq}", "points": points})


def restore(ctx: Ctx, data: RestoreIn) -> RestoreOut:
    """The vendor's answer with this scope's live pseudonyms put back (expired or foreign tokens left as they are)."""
    ctx.require("pii:guard")
    report = vault(ctx).restore_report(data.text, scope=data.scope)
    if report.restored or report.expired:
        ctx.record(
            "pii.restore",
            "pii_scope",
            data.scope or "-",
            after={"restored": report.restored, "expired": report.expired, "unknown": report.unknown},
        )
    return RestoreOut(text=report.text, restored=report.restored, expired=report.expired, unknown=report.unknown)


def purge_expired(ctx: Ctx) -> int:
    """Delete the vault entries whose TTL has passed (the sweep)."""
    return vault(ctx).purge_expired()


@functools.cache
def analyzer() -> Analyzer:
    """The always-on detectors plus the NLP backend when installed: built once per process (the backend loads a
    spaCy model)."""
    return default_analyzer()


def status() -> dict[str, Any]:
    found = analyzer()
    return {
        **nlp_status().to_dict(),
        "looked_for": sorted(found.entities),
        "not_looked_for": list(found.not_looked_for),
    }
