"""Gate evaluation: the enabled policies of a stage, run over the facts document, stored as evidence."""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast
from weakref import WeakKeyDictionary

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session, sessionmaker

from charter.errors import NotFound, ValidationFailed
from charter.group_insert import GroupInsert
from charter.ledger.head import HeadCache
from charter.ledger.rules import to_jsonable
from charter.policy.models import GateEvaluation
from charter.policy.rules import Outcome, RuleDoesNotCompile, evaluate, render
from charter.policy.schemas import GateRead, RuleResult

if TYPE_CHECKING:
    from charter.context import Ctx
    from charter.inventory.models import AISystem
    from charter.policy.models import Policy
    from charter.policy.service import PolicyView
    from charter.releases.models import Release

NO_POLICY = "no-policy"


def _results(policies: Sequence[Policy | PolicyView], facts: dict[str, Any], kinds: frozenset[str]) -> list[RuleResult]:
    from charter.policy.facts import environment
    from charter.policy.service import programs_for

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


_memo: OrderedDict[tuple[Any, ...], tuple[Any, list[dict[str, Any]], bool, list[dict[str, Any]], str]] = OrderedDict()
_memo_lock = threading.Lock()


def _evaluate(
    policies: Sequence[Policy | PolicyView], facts: dict[str, Any], stage: str
) -> tuple[Any, list[dict[str, Any]], bool, list[dict[str, Any]], str]:
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
    return stored_facts, rows, passed, used, digest


def run_gate(ctx: Ctx, system: AISystem, release: Release, stage: str, purpose: str) -> GateEvaluation:
    """Evaluate every enabled policy of `stage` for the release, now, and store the evaluation."""
    evaluation = evaluate_gate(ctx, system, release, stage, purpose)
    ctx.session.add(evaluation)
    ctx.session.flush()
    return evaluation


def evaluate_gate(ctx: Ctx, system: AISystem, release: Release, stage: str, purpose: str) -> GateEvaluation:
    """Evaluate every enabled policy of `stage` for the release, now; the evaluation to store (not added).

    A check (not a promotion) whose facts came whole from the facts cache reuses the evaluation of those
    same facts under the same policies: identical input, identical result; it is stored again all the same.
    """
    from charter.ledger.head import session_head
    from charter.policy.facts import assemble_versioned
    from charter.policy.service import gate_policies

    ttl = ctx.settings.gate_facts_ttl_seconds if purpose == "check" else 0.0
    state = session_head(ctx.session) if ttl > 0 else None
    policies, state = gate_policies(ctx, stage, state=state)
    now = ctx.now()
    facts, token = assemble_versioned(ctx.session, system, release, stage, now, ttl=ttl, state=state)
    memo_key = (token, system.id, release.id, stage, tuple((p.name, p.version) for p in policies))
    with _memo_lock:
        memo = _memo.get(memo_key) if token is not None else None
    if memo is None:
        memo = _evaluate(policies, facts, stage)
        if token is not None:
            with _memo_lock:
                _memo[memo_key] = memo
                while len(_memo) > 256:
                    _memo.popitem(last=False)
    if token is not None and purpose == "check" and state is not None:
        _prepared.put(
            (system.key, release.version, stage), state, PreparedCheck(system.id, release.id, facts["now"], memo)
        )
    stored_facts, rows, passed, used, digest = memo
    evaluation = GateEvaluation(
        system_id=system.id,
        release_id=release.id,
        stage=stage,
        purpose=purpose,
        policies=used,
        facts=stored_facts,
        results=rows,
        passed=passed,
        digest=digest,
        actor=ctx.principal.actor,
        evaluated_at=now,
    )
    return evaluation


def approval_rules_pass(ctx: Ctx, system: AISystem, release: Release, stage: str) -> bool:
    """Whether the stage's approval requirements are met: every 'approval' rule of its enabled policies
    passes (without approval rules: at least one valid approval and no rejection). Not stored."""
    from charter.policy.facts import assemble
    from charter.policy.service import gate_policies

    policies, _state = gate_policies(ctx, stage, state=None)
    facts = assemble(ctx.session, system, release, stage, ctx.now())
    results = _results(policies, facts, frozenset({"approval"}))
    if results:
        return all(r.passed for r in results)
    approvals = facts["approvals"]
    return bool(approvals["count"] >= 1 and approvals["rejections"] == 0)


def to_read(evaluation: GateEvaluation, system_key: str, version: int, include_facts: bool = False) -> GateRead:
    return read_values(evaluation_values(evaluation), evaluation.id, system_key, version, include_facts)


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


# ----------------------------------------------------------------------------- the gate check's hot path


@dataclass(frozen=True)
class PreparedCheck:
    """A gate check's evaluation, ready to store again: valid while the ledger head is unchanged and the
    facts are younger than CHARTER_GATE_FACTS_TTL_SECONDS (the same rule as the facts cache)."""

    system_id: int
    release_id: int
    facts_at: datetime
    memo: tuple[Any, list[dict[str, Any]], bool, list[dict[str, Any]], str]


_prepared: HeadCache[tuple[str, int, str], PreparedCheck] = HeadCache(1_024)


def clear_prepared() -> None:
    _prepared.clear()


def prepared_check(
    system_key: str, version: int, stage: str, head: str, now: datetime, ttl: float
) -> PreparedCheck | None:
    """The evaluation a check of (system, release, stage) would compute now, if an earlier check computed it
    under this ledger head from facts still fresh enough; None otherwise (evaluate with `evaluate_check`)."""
    if ttl <= 0:
        return None
    prepared = _prepared.get((system_key, version, stage), head)
    from charter.policy.facts import fresh

    if prepared is None or not fresh(prepared.facts_at, now, ttl):
        return None
    return prepared


_inserters: WeakKeyDictionary[sessionmaker[Session], GroupInsert] = WeakKeyDictionary()
_inserters_lock = threading.Lock()


def evaluation_inserter(factory: sessionmaker[Session]) -> GroupInsert:
    """The group-commit writer of gate evaluations for a database (one per session factory)."""
    with _inserters_lock:
        inserter = _inserters.get(factory)
        if inserter is None:
            inserter = _inserters[factory] = GroupInsert(factory, cast(Table, GateEvaluation.__table__))
        return inserter


def evaluation_values(evaluation: GateEvaluation) -> dict[str, Any]:
    """The column values of an evaluation (all but its id)."""
    table = cast(Table, GateEvaluation.__table__)
    return {c.key: getattr(evaluation, c.key) for c in table.columns if c.key != "id"}


def check_values(prepared: PreparedCheck, stage: str, actor: str, now: datetime) -> dict[str, Any]:
    """The row of a gate evaluation (purpose 'check') made from a prepared check, evaluated now."""
    stored_facts, rows, passed, used, digest = prepared.memo
    return {
        "system_id": prepared.system_id,
        "release_id": prepared.release_id,
        "stage": stage,
        "purpose": "check",
        "policies": used,
        "facts": stored_facts,
        "results": rows,
        "passed": passed,
        "digest": digest,
        "actor": actor,
        "evaluated_at": now,
    }


def check_gate(ctx: Ctx, system_key: str, version: int, stage: str) -> GateEvaluation:
    """`charter gate check`: evaluate and store, without moving anything."""
    evaluation = evaluate_check(ctx, system_key, version, stage)
    return store_evaluation(ctx, evaluation)


def evaluate_check(ctx: Ctx, system_key: str, version: int, stage: str) -> GateEvaluation:
    """The reading half of `check_gate`: the evaluation of a check, not yet stored. It only reads (except
    the shipped defaults, installed before the first gate ever), so it can run in a read-only transaction
    and leave `store_evaluation` a short write of its own."""
    ctx.require("gate:check")
    from charter.releases.service import get_release, require_stage_allowed

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


def list_evaluations(ctx: Ctx, system_key: str, version: int, stage: str | None = None) -> list[GateEvaluation]:
    ctx.require("releases:read")
    from charter.releases.service import get_release

    _system, release = get_release(ctx.session, system_key, version)
    stmt = select(GateEvaluation).where(GateEvaluation.release_id == release.id)
    if stage is not None:
        stmt = stmt.where(GateEvaluation.stage == stage)
    return list(ctx.session.execute(stmt.order_by(GateEvaluation.id.desc()).limit(200)).scalars())


def read_evaluation(ctx: Ctx, evaluation_id: int) -> tuple[GateEvaluation, str, int]:
    ctx.require("releases:read")
    from charter.inventory.models import AISystem
    from charter.releases.models import Release

    row = ctx.session.execute(
        select(GateEvaluation, AISystem.key, Release.version)
        .join(AISystem, AISystem.id == GateEvaluation.system_id)
        .join(Release, Release.id == GateEvaluation.release_id)
        .where(GateEvaluation.id == evaluation_id)
    ).first()
    if row is None:
        raise NotFound(f"no gate evaluation {evaluation_id}", entity="gate_evaluation")
    return row[0], row[1], row[2]


def check_stage_name(stage: str) -> None:
    from charter.releases.rules import STAGES

    if stage not in STAGES:
        raise ValidationFailed(f"unknown stage '{stage}'; stages: {', '.join(STAGES)}")
