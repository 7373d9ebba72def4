"""The gate facts document for (system, release, target stage): assembled here, cached under the ledger head.

The release's own namespaces (release, target, approvals, history) are computed here; risk and procedures
come from their modules' queries; other namespaces from the providers registered in charter.policy.facts.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from charter.access.models import User
from charter.inventory.models import AISystem
from charter.inventory.rules import DEPLOYMENT_STAGES
from charter.kit.cache import HeadCache
from charter.ledger.head import session_head
from charter.policy.facts import FactsProvider, FactsRequest, placeholders, registered
from charter.procedures.queries import gate_facts as procedure_facts
from charter.releases.models import (
    Deployment,
    DeploymentPointer,
    Release,
    ReleaseApproval,
    ReleaseArtifact,
    ReleaseStage,
    ReleaseStageConfig,
)
from charter.releases.rules import previous_stage
from charter.risk.queries import gate_facts as risk_facts

DAY = 86_400


def allowed_stages(session: Session, system_id: int) -> list[str]:
    config = session.get(ReleaseStageConfig, system_id)
    return list(config.stages) if config is not None else list(DEPLOYMENT_STAGES)


def seconds_deployed(moves: list[Deployment], release_id: int, now: datetime) -> float:
    """Total time the release held the pointer in a (system, stage) history sorted by time."""
    total = 0.0
    for i, move in enumerate(moves):
        if move.to_release_id != release_id:
            continue
        end = moves[i + 1].at if i + 1 < len(moves) else now
        total += max(0.0, (end - move.at).total_seconds())
    return total


def approval_facts(decisions: list[ReleaseApproval], release: Release) -> dict[str, Any]:
    """Count only decisions bound to this release's exact content hash; others are ignored as stale."""
    valid = [d for d in decisions if d.content_hash == release.content_hash]
    approvals = [d for d in valid if d.decision == "approve"]
    rejections = [d for d in valid if d.decision == "reject"]
    approvers = sorted({d.username for d in approvals})
    return {
        "count": len(approvals),
        "distinct_approvers": len({d.user_id if d.user_id is not None else d.username for d in approvals}),
        "approvers": approvers,
        "roles": sorted({d.role for d in approvals}),
        "governance_count": sum(1 for d in approvals if d.role == "governance"),
        "rejections": len(rejections),
        "rejected_by": sorted({d.username for d in rejections}),
        "by_requester": sum(
            1
            for d in approvals
            if (release.requested_by_id is not None and d.user_id == release.requested_by_id)
            or d.username == release.requested_by
        ),
        "ignored_stale": len(decisions) - len(valid),
        "items": [
            {
                "user": d.username,
                "role": d.role,
                "decision": d.decision,
                "comment": d.comment,
                "decided_at": d.decided_at.isoformat(),
                "hash_valid": d.content_hash == release.content_hash,
            }
            for d in sorted(decisions, key=lambda d: d.id)
        ],
    }


def release_facts(session: Session, system: AISystem, release: Release, stage: str, now: datetime) -> dict[str, Any]:
    stages = allowed_stages(session, system.id)
    prev = previous_stage(stages, stage)
    kinds = sorted(
        set(session.execute(select(ReleaseArtifact.kind).where(ReleaseArtifact.release_id == release.id)).scalars())
    )
    count = len(
        list(session.execute(select(ReleaseArtifact.id).where(ReleaseArtifact.release_id == release.id)).scalars())
    )
    statuses: dict[str, str] = {
        row.stage: row.status
        for row in session.execute(
            select(ReleaseStage.stage, ReleaseStage.status).where(ReleaseStage.release_id == release.id)
        )
    }
    decisions = list(
        session.execute(
            select(ReleaseApproval).where(ReleaseApproval.release_id == release.id, ReleaseApproval.stage == stage)
        ).scalars()
    )
    moves = list(
        session.execute(
            select(Deployment).where(Deployment.system_id == system.id).order_by(Deployment.at, Deployment.id)
        ).scalars()
    )
    days: dict[str, int] = {}
    ever: list[str] = []
    for s in DEPLOYMENT_STAGES:
        seconds = seconds_deployed([m for m in moves if m.stage == s], release.id, now)
        days[s] = int(seconds // DAY)
        if any(m.stage == s and m.to_release_id == release.id for m in moves):
            ever.append(s)
    current = sorted(
        session.execute(
            select(DeploymentPointer.stage).where(
                DeploymentPointer.system_id == system.id, DeploymentPointer.release_id == release.id
            )
        ).scalars()
    )
    prev_status = statuses.get(prev, "none") if prev else ""
    return {
        "allowed_stages": stages,
        "release": {
            "version": release.version,
            "content_hash": release.content_hash,
            "change_type": release.change_type,
            "summary": release.change_summary,
            "expected_impact": release.expected_impact,
            "risk_keys": list(release.risk_keys or []),
            "artifact_kinds": kinds,
            "artifact_count": count,
            "requested_by": release.requested_by,
            "submitted_at": release.submitted_at,
            "age_days": int((now - release.submitted_at).total_seconds() // DAY),
        },
        "target": {
            "stage": stage,
            "previous_stage": prev,
            "status": statuses.get(stage, "none"),
            "allowed": stage in stages,
        },
        "approvals": approval_facts(decisions, release),
        "history": {
            "days_in_sandbox": days["sandbox"],
            "days_in_pilot": days["pilot"],
            "days_in_production": days["production"],
            "days_in_previous_stage": days.get(prev, 0) if prev else 0,
            "previous_stage_status": prev_status,
            "deployed_in_previous_stage": prev_status in ("deployed", "superseded"),
            "ever_deployed": ever,
            "currently_deployed_in": current,
        },
    }


# ----------------------------------------------------------------------------- the whole facts document


def system_facts(session: Session, system: AISystem, allowed: list[str]) -> dict[str, Any]:
    owner = None
    if system.owner_id is not None:
        owner = session.execute(select(User.username).where(User.id == system.owner_id)).scalar_one_or_none()
    return {
        "key": system.key,
        "name": system.name,
        "lifecycle_stage": system.stage,
        "risk_tier": system.risk_tier,
        "deployment_type": system.deployment_type,
        "data_categories": list(system.data_categories or []),
        "tags": list(system.tags or []),
        "users_affected": system.users_affected or 0,
        "owner": owner or "",
        "vendor_name": system.vendor_name or "",
        "allowed_stages": allowed,
    }


@dataclass(frozen=True)
class _Cached:
    computed_at: datetime
    facts: dict[str, Any]


_CACHE_MAX = 1_024
_cache: HeadCache[tuple[int, int, str], _Cached] = HeadCache("gate.facts", _CACHE_MAX)


def fresh(computed_at: datetime, now: datetime, ttl: float) -> bool:
    """Whether values computed at `computed_at` may serve a check at `now`: at most `ttl` seconds apart
    either way (a concurrent check may have computed them a moment after this one's `now`)."""
    return -ttl <= (now - computed_at).total_seconds() <= ttl


def _cache_get(key: tuple[int, int, str], state: str, now: datetime, ttl: float) -> dict[str, Any] | None:
    entry = _cache.get(key, state)
    if entry is None or not fresh(entry.computed_at, now, ttl):
        return None
    return dict(entry.facts)


def _provide(
    session: Session, providers: list[FactsProvider], request: FactsRequest, facts: dict[str, Any]
) -> dict[str, str]:
    errors: dict[str, str] = {}
    for provider in providers:
        facts.pop(provider.name, None)
        try:
            with session.begin_nested():  # a failing provider's SQL error must not poison the transaction
                facts[provider.name] = dict(provider.fn(request))
        except Exception as exc:  # a broken provider must not hide the others; its rules fail by name
            errors[provider.name] = f"{type(exc).__name__}: {exc}"
    return errors


def _core(session: Session, system: AISystem, release: Release, stage: str, now: datetime) -> dict[str, Any]:
    core = release_facts(session, system, release, stage, now)
    facts: dict[str, Any] = {
        "now": now,
        "system": system_facts(session, system, core["allowed_stages"]),
        "release": core["release"],
        "target": core["target"],
        "risk": risk_facts(session, system.id, now),
        "procedures": procedure_facts(session, "system", system.id, now),
        "release_procedures": procedure_facts(session, "release", release.id, now),
        "approvals": core["approvals"],
        "history": core["history"],
    }
    for name in placeholders():
        facts[name] = {}
    return facts


def _assemble_cacheable(
    session: Session, providers: list[FactsProvider], request: FactsRequest, system: AISystem, release: Release
) -> tuple[dict[str, Any], dict[str, str]]:
    facts = _core(session, system, release, request.stage, request.now)
    errors = _provide(session, [p for p in providers if p.cacheable], request, facts)
    return facts, errors


_flights: dict[tuple[int, int, str], threading.Lock] = {}
_flights_lock = threading.Lock()
_FLIGHT_WAIT = 10.0  # seconds; past that a check assembles its facts itself


def _flight_lock(key: tuple[int, int, str]) -> threading.Lock:
    with _flights_lock:
        flight = _flights.get(key)
        if flight is None:
            if len(_flights) > _CACHE_MAX:
                _flights.clear()  # held locks stay referenced by their holders
            flight = _flights[key] = threading.Lock()
        return flight


@dataclass(frozen=True)
class Facts:
    """A facts document, and a token naming its content when it is entirely reusable (else None)."""

    document: dict[str, Any]
    token: str | None


def assemble(
    session: Session, system: AISystem, release: Release, stage: str, now: datetime, *, ttl: float = 0.0
) -> dict[str, Any]:
    """The facts document for (system, release, target stage) at `now` (see assemble_versioned)."""
    return assemble_versioned(session, system, release, stage, now, ttl=ttl).document


def assemble_versioned(
    session: Session,
    system: AISystem,
    release: Release,
    stage: str,
    now: datetime,
    *,
    ttl: float = 0.0,
    state: str | None = None,
) -> Facts:
    """The facts document, and a token naming its content when it is entirely reusable.

    With ttl > 0 (gate checks), the built-in namespaces and cacheable providers computed for the same
    (release, stage) at most `ttl` seconds ago are reused while the ledger head is unchanged: every change
    of governance state is recorded in the ledger, so an unchanged head means unchanged facts, except those
    that move with time alone (days in pilot, overdue reviews), which may then be up to `ttl` seconds old;
    `now` in the document is when they were computed. Other providers are always computed afresh.
    Promotions and approvals use ttl=0.
    """
    providers = registered()
    request = FactsRequest(session=session, system=system, release=release, stage=stage, now=now)
    key = (system.id, release.id, stage)
    if ttl > 0 and state is None:
        state = session_head(session)
    if ttl <= 0:
        state = None
    facts = _cache_get(key, state, now, ttl) if state is not None else None
    errors: dict[str, str] = {}
    if facts is None and state is not None:
        # Single flight: when the entry expires under load, one check assembles the facts and the
        # concurrent ones wait for it instead of all assembling the same document at once.
        flight = _flight_lock(key)
        acquired = flight.acquire(timeout=_FLIGHT_WAIT)
        try:
            facts = _cache_get(key, state, now, ttl)
            if facts is None:
                facts, errors = _assemble_cacheable(session, providers, request, system, release)
                if not errors:
                    _cache.put(key, state, _Cached(now, dict(facts)))
        finally:
            if acquired:
                flight.release()
    elif facts is None:
        facts, errors = _assemble_cacheable(session, providers, request, system, release)
    volatile = [p for p in providers if not p.cacheable]
    errors |= _provide(session, volatile, request, facts)
    if errors:
        facts["provider_errors"] = errors
    token = None
    if state is not None and not volatile and not errors:
        token = f"{state}|{facts['now'].isoformat()}"
    return Facts(facts, token)
