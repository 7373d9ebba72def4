"""The release gate: the enabled policies of a stage, run over the facts document, stored as evidence.

- `run_gate` evaluates and stores in the caller's transaction (promotions);
- `check` is the gate-check hot path of CI pipelines (`POST …/releases/{v}/gate`): when an earlier check
  evaluated the same (system, release, stage) under the current ledger head from facts still fresh, its
  evaluation is stored again without a thread hop or a read; otherwise it is evaluated in a worker thread in a
  read-only transaction. Either way it is stored through the group-commit writer before the answer is sent
  (docs/decisions.md, D8).
- `approval_rules_pass` decides when a requested stage becomes 'approved'.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast
from weakref import WeakKeyDictionary

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from charter.context import Ctx
from charter.inventory.models import AISystem
from charter.kit import cache
from charter.kit.cache import HeadCache
from charter.kit.clock import Clock
from charter.kit.db import read_only
from charter.kit.group_insert import GroupInsert
from charter.kit.principal import Principal
from charter.kit.settings import Settings
from charter.ledger.head import session_head
from charter.ledger.rules import to_jsonable
from charter.policy.facts import environment
from charter.policy.programs import programs_for
from charter.policy.queries import PolicyView, gate_policies
from charter.policy.rules import Outcome, RuleDoesNotCompile, evaluate, render
from charter.releases.facts import assemble, assemble_versioned, fresh
from charter.releases.models import GateEvaluation, Release
from charter.releases.schemas import GateRead, RuleResult
from charter.releases.store import get_release, require_stage_allowed

NO_POLICY = "no-policy"


@dataclass(frozen=True)
class Evaluated:
    """The outcome of a gate over one facts document, ready to store (any number of times)."""

    facts: Any
    results: list[dict[str, Any]]
    passed: bool
    policies: list[dict[str, Any]]
    digest: str


def _results(policies: Sequence[PolicyView], facts: dict[str, Any], kinds: frozenset[str]) -> list[RuleResult]:
    activation = environment().activation(facts)
    results: list[RuleResult] = []
    for policy in policies:
        for raw, program in zip(policy.rules, programs_for(policy), strict=True):
            kind = raw.get("kind", "gate")
            if kind not in kinds:
                continue
            if isinstance(program, RuleDoesNotCompile):
                outcome = Outcome(False, f"the rule no longer compiles against the facts schema: {program}")
            else:
                outcome = evaluate(program, activation)
            reason = ""
            if not outcome.passed:
                reason = render(raw.get("message") or raw.get("description") or raw["expression"], facts)
                if outcome.error:
                    reason = f"{reason} ({outcome.error})"
            results.append(
                RuleResult(
                    policy=policy.name,
                    policy_version=policy.version,
                    rule=raw["id"],
                    kind=kind,
                    description=raw.get("description", ""),
                    passed=outcome.passed,
                    reason=reason,
                    error=outcome.error,
                )
            )
    return results


def _digest(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def _evaluate(policies: Sequence[PolicyView], facts: dict[str, Any], stage: str) -> Evaluated:
    results = _results(policies, facts, frozenset({"gate", "approval"}))
    if not policies:
        results.append(
            RuleResult(
                policy="(none)",
                policy_version=0,
                rule=NO_POLICY,
                kind="gate",
                description="a stage without an enabled policy is closed",
                passed=False,
                reason=f"no enabled gate policy for stage '{stage}'; install the defaults "
                "('charter policy install-defaults') or save one",
            )
        )
    passed = all(r.passed for r in results)
    stored_facts = to_jsonable(facts)
    used = [{"name": p.name, "version": p.version} for p in policies]
    rows = [r.model_dump() for r in results]
    digest = _digest({"policies": used, "facts": stored_facts, "results": rows, "passed": passed})
    return Evaluated(stored_facts, rows, passed, used, digest)


# Evaluations of identical input (facts token, subject, policy versions): head-validated through the token.
_memo: OrderedDict[tuple[Any, ...], Evaluated] = OrderedDict()
_memo_lock = threading.Lock()


def _clear_memo() -> None:
    with _memo_lock:
        _memo.clear()


cache.on_clear(_clear_memo)


@dataclass(frozen=True)
class PreparedCheck:
    """A gate check's evaluation, ready to store again: valid while the ledger head is unchanged and the
    facts are younger than CHARTER_GATE_FACTS_TTL_SECONDS (the same rule as the facts cache)."""

    system_id: int
    release_id: int
    facts_at: datetime
    evaluated: Evaluated


_prepared: HeadCache[tuple[str, int, str], PreparedCheck] = HeadCache("gate.prepared_checks", 1_024)


def evaluate_gate(ctx: Ctx, system: AISystem, release: Release, stage: str, purpose: str) -> GateEvaluation:
    """Evaluate every enabled policy of `stage` for the release, now; the evaluation to store (not added).

    A check (not a promotion) whose facts came whole from the facts cache reuses the evaluation of those
    same facts under the same policies: identical input, identical result; it is stored again all the same.
    """
    ttl = ctx.settings.gate_facts_ttl_seconds if purpose == "check" else 0.0
    state = session_head(ctx.session) if ttl > 0 else None
    policies = gate_policies(ctx.session, stage, head=state)
    now = ctx.now()
    facts = assemble_versioned(ctx.session, system, release, stage, now, ttl=ttl, state=state)
    memo_key = (facts.token, system.id, release.id, stage, tuple((p.name, p.version) for p in policies))
    evaluated: Evaluated | None = None
    if facts.token is not None:
        with _memo_lock:
            evaluated = _memo.get(memo_key)
    if evaluated is None:
        evaluated = _evaluate(policies, facts.document, stage)
        if facts.token is not None:
            with _memo_lock:
                _memo[memo_key] = evaluated
                while len(_memo) > 256:
                    _memo.popitem(last=False)
    if facts.token is not None and purpose == "check" and state is not None:
        _prepared.put(
            (system.key, release.version, stage),
            state,
            PreparedCheck(system.id, release.id, facts.document["now"], evaluated),
        )
    return GateEvaluation(
        system_id=system.id,
        release_id=release.id,
        stage=stage,
        purpose=purpose,
        policies=evaluated.policies,
        facts=evaluated.facts,
        results=evaluated.results,
        passed=evaluated.passed,
        digest=evaluated.digest,
        actor=ctx.principal.actor,
        evaluated_at=now,
    )


def run_gate(ctx: Ctx, system: AISystem, release: Release, stage: str, purpose: str) -> GateEvaluation:
    """Evaluate every enabled policy of `stage` for the release, now, and store the evaluation."""
    evaluation = evaluate_gate(ctx, system, release, stage, purpose)
    ctx.session.add(evaluation)
    ctx.session.flush()
    return evaluation


def approval_rules_pass(ctx: Ctx, system: AISystem, release: Release, stage: str) -> bool:
    """Whether the stage's approval requirements are met: every 'approval' rule of its enabled policies
    passes (without approval rules: at least one valid approval and no rejection). Not stored."""
    policies = gate_policies(ctx.session, stage)
    facts = assemble(ctx.session, system, release, stage, ctx.now())
    results = _results(policies, facts, frozenset({"approval"}))
    if results:
        return all(r.passed for r in results)
    approvals = facts["approvals"]
    return bool(approvals["count"] >= 1 and approvals["rejections"] == 0)


# ----------------------------------------------------------------------------- reading stored evaluations


def evaluation_values(evaluation: GateEvaluation) -> dict[str, Any]:
    """The column values of an evaluation (all but its id)."""
    table = cast(Table, GateEvaluation.__table__)
    return {c.key: getattr(evaluation, c.key) for c in table.columns if c.key != "id"}


def read_values(
    values: dict[str, Any], evaluation_id: int, system_key: str, version: int, include_facts: bool = False
) -> GateRead:
    """The API view of a stored evaluation, from its column values."""
    results = [RuleResult.model_validate(r) for r in values["results"]]
    return GateRead(
        id=evaluation_id,
        system=system_key,
        release_version=version,
        stage=values["stage"],
        purpose=values["purpose"],
        passed=values["passed"],
        policies=values["policies"],
        results=results,
        failed=[r.rule for r in results if not r.passed],
        evaluated_at=values["evaluated_at"],
        actor=values["actor"],
        digest=values["digest"],
        facts=values["facts"] if include_facts else None,
    )


def to_read(evaluation: GateEvaluation, system_key: str, version: int, include_facts: bool = False) -> GateRead:
    return read_values(evaluation_values(evaluation), evaluation.id, system_key, version, include_facts)


# ----------------------------------------------------------------------------- the gate check


def evaluate_check(ctx: Ctx, system_key: str, version: int, stage: str) -> GateEvaluation:
    """The reading half of a check: the evaluation, not yet stored. A pure read, so it runs in a read-only
    transaction and leaves `store_evaluation` a short write of its own."""
    ctx.require("gate:check")
    system, release = get_release(ctx.session, system_key, version)
    require_stage_allowed(ctx.session, system, stage)
    return evaluate_gate(ctx, system, release, stage, "check")


def store_evaluation(ctx: Ctx, evaluation: GateEvaluation) -> GateEvaluation:
    """Store a gate evaluation as evidence: one Core insert (the evaluation is a write-once row; the ORM
    unit of work costs several times the insert itself on the gate-check hot path)."""
    ctx.require("gate:check")
    table = cast(Table, GateEvaluation.__table__)
    stmt = insert(table).values(**evaluation_values(evaluation)).returning(table.c.id)
    evaluation.id = ctx.session.execute(stmt).scalar_one()
    return evaluation


def check_gate(ctx: Ctx, system_key: str, version: int, stage: str) -> GateEvaluation:
    """Evaluate and store in the caller's transaction, without moving anything."""
    return store_evaluation(ctx, evaluate_check(ctx, system_key, version, stage))


def prepared_check(
    system_key: str, version: int, stage: str, head: str, now: datetime, ttl: float
) -> PreparedCheck | None:
    """The evaluation a check of (system, release, stage) would compute now, if an earlier check computed it
    under this ledger head from facts still fresh enough; None otherwise (evaluate with `evaluate_check`)."""
    if ttl <= 0:
        return None
    prepared = _prepared.get((system_key, version, stage), head)
    if prepared is None or not fresh(prepared.facts_at, now, ttl):
        return None
    return prepared


def check_values(prepared: PreparedCheck, stage: str, actor: str, now: datetime) -> dict[str, Any]:
    """The row of a gate evaluation (purpose 'check') made from a prepared check, evaluated now."""
    evaluated = prepared.evaluated
    return {
        "system_id": prepared.system_id,
        "release_id": prepared.release_id,
        "stage": stage,
        "purpose": "check",
        "policies": evaluated.policies,
        "facts": evaluated.facts,
        "results": evaluated.results,
        "passed": evaluated.passed,
        "digest": evaluated.digest,
        "actor": actor,
        "evaluated_at": now,
    }


_inserters: WeakKeyDictionary[sessionmaker[Session], GroupInsert] = WeakKeyDictionary()
_inserters_lock = threading.Lock()


def evaluation_inserter(factory: sessionmaker[Session]) -> GroupInsert:
    """The group-commit writer of gate evaluations for a database (one per session factory)."""
    with _inserters_lock:
        inserter = _inserters.get(factory)
        if inserter is None:
            inserter = _inserters[factory] = GroupInsert(factory, cast(Table, GateEvaluation.__table__))
        return inserter


@dataclass(frozen=True)
class GateService:
    """What a gate check needs from the running app: its database, clock and settings."""

    session_factory: sessionmaker[Session]
    clock: Clock
    settings: Settings


async def check(
    service: GateService,
    principal: Principal,
    system_key: str,
    version: int,
    stage: str,
    *,
    head: str | None,
    request_id: str | None = None,
    include_facts: bool = False,
) -> GateRead:
    """A gate check, stored as evidence (the hot path; see the module docstring). `head` is the ledger head
    read when the caller's token was authenticated (None: no fast path)."""
    principal.require("gate:check")
    now = service.clock.now()
    ttl = service.settings.gate_facts_ttl_seconds
    prepared = prepared_check(system_key, version, stage, head, now, ttl) if head is not None else None
    if prepared is not None:
        values = check_values(prepared, stage, principal.actor, now)
    else:
        values = await run_in_threadpool(_evaluate_now, service, principal, system_key, version, stage, request_id)
    evaluation_id = await evaluation_inserter(service.session_factory).insert(values)
    return read_values(values, evaluation_id, system_key, version, include_facts)


def _evaluate_now(
    service: GateService, principal: Principal, system_key: str, version: int, stage: str, request_id: str | None
) -> dict[str, Any]:
    with service.session_factory() as session:
        read_only(session)  # on SQLite: no write lock while the facts are assembled
        ctx = Ctx(session, principal, service.clock, service.settings, request_id)
        try:
            return evaluation_values(evaluate_check(ctx, system_key, version, stage))
        finally:
            session.rollback()
