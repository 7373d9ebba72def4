"""Policy use cases: save (a new, compiled version), read, validate, install the shipped defaults."""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from charter.errors import NotFound, ValidationFailed
from charter.ledger.service import snapshot
from charter.policy.models import Policy
from charter.policy.rules import RuleDoesNotCompile
from charter.policy.schemas import SLUG, PolicyRead, PolicySave, RuleSpec

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from charter.context import Ctx

_compiled_lock = threading.Lock()


def compile_rules(rules: Sequence[RuleSpec], source: str = "rules") -> list[Any]:
    """Compile and type-check every rule against the current facts schema. Every broken rule is reported
    with its id and the line and column of the error inside its expression (422)."""
    from charter.policy.facts import environment
    from charter.policy.rules import template_references

    env = environment()
    programs: list[Any] = []
    errors: list[dict[str, Any]] = []
    for i, rule in enumerate(rules):
        try:
            programs.append(env.compile(rule.expression))
        except RuleDoesNotCompile as exc:
            errors.extend(
                {
                    "loc": ["rules", i, "expression"],
                    "rule": rule.id,
                    "line": p.line,
                    "column": p.column,
                    "msg": p.message,
                }
                for p in exc.problems
            )
        for ref in template_references(rule.message):
            ns = ref.split(".")[0]
            if ns not in env.schema:
                errors.append(
                    {
                        "loc": ["rules", i, "message"],
                        "rule": rule.id,
                        "line": 1,
                        "column": 1,
                        "msg": f"the message refers to '{{{ref}}}', but there is no facts namespace '{ns}'",
                    }
                )
    if errors:
        first = errors[0]
        more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
        raise ValidationFailed(
            f"{source}: rule '{first['rule']}' does not compile at line {first['line']}, column {first['column']}: "
            f"{first['msg']}{more}",
            errors=errors,
        )
    return programs


def programs_for(policy: Policy | PolicyView) -> list[Any]:
    """Compiled rules of a stored policy version, cached (versions are immutable)."""
    from charter.policy.facts import environment

    env = environment()
    key = tuple(r["expression"] for r in policy.rules)  # by content: ids are reused after a rollback
    with _compiled_lock:
        cached = env.programs.get(key)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    out: list[Any] = []
    for raw in policy.rules:
        try:
            out.append(env.compile(raw["expression"]))
        except RuleDoesNotCompile as exc:  # e.g. a provider's schema changed since the policy was saved
            out.append(exc)
    with _compiled_lock:
        if len(env.programs) > 2_000:
            env.programs.clear()
        env.programs[key] = out
    return out


def to_read(policy: Policy) -> PolicyRead:
    return PolicyRead.model_validate(policy)


def get_policy(session: Session, name: str, version: int | None = None) -> Policy:
    stmt = select(Policy).where(Policy.name == name)
    stmt = stmt.where(Policy.version == version) if version is not None else stmt.order_by(Policy.version.desc())
    policy = session.execute(stmt.limit(1)).scalar_one_or_none()
    if policy is None:
        what = f"version {version} of policy '{name}'" if version is not None else f"policy '{name}'"
        raise NotFound(f"no {what}; list policies with 'charter policy list'", entity="policy")
    return policy


def latest_policies(session: Session) -> list[Policy]:
    latest = select(Policy.name, func.max(Policy.version).label("v")).group_by(Policy.name).subquery()
    stmt = select(Policy).join(latest, (Policy.name == latest.c.name) & (Policy.version == latest.c.v))
    return list(session.execute(stmt.order_by(Policy.stage, Policy.name)).scalars())


def active_policies(session: Session, stage: str) -> list[Policy]:
    """The latest version of every policy name, where that version is enabled and for this stage."""
    return [p for p in latest_policies(session) if p.enabled and p.stage == stage]


@dataclass(frozen=True)
class PolicyView:
    """A stored policy version, detached from any session (versions never change)."""

    id: int
    name: str
    version: int
    stage: str
    enabled: bool
    rules: list[dict[str, Any]]


_views: tuple[str, list[PolicyView]] | None = None


def gate_policies(ctx: Ctx, stage: str, *, state: str | None) -> tuple[list[PolicyView], str | None]:
    """The policies a gate applies, the shipped defaults installed first, and the ledger state after that.
    Given the ledger state, the list is reused while the ledger head is unchanged (saving a policy is a
    ledger-recorded change)."""
    global _views
    from charter.ledger.head import session_head

    cache = state is not None
    with _compiled_lock:
        cached = _views
    if state is not None and cached is not None and cached[0] == state:
        views = cached[1]
    else:
        ensure_defaults(ctx)
        views = [
            PolicyView(p.id, p.name, p.version, p.stage, p.enabled, list(p.rules)) for p in latest_policies(ctx.session)
        ]
        if cache:
            state = session_head(ctx.session)  # installing the defaults moved the head
            with _compiled_lock:
                _views = (state, views)
    return [v for v in views if v.enabled and v.stage == stage], state


def _same(policy: Policy, data: PolicySave) -> bool:
    return (
        policy.stage == data.stage
        and policy.description == data.description
        and policy.enabled == data.enabled
        and policy.rules == [r.model_dump() for r in data.rules]
    )


def _save(ctx: Ctx, name: str, data: PolicySave, source: str) -> tuple[Policy, bool]:
    compile_rules(data.rules, source=f"policy '{name}'")
    current = ctx.session.execute(
        select(Policy).where(Policy.name == name).order_by(Policy.version.desc()).limit(1)
    ).scalar_one_or_none()
    if current is not None and _same(current, data):
        return current, False
    policy = Policy(
        name=name,
        version=(current.version + 1) if current else 1,
        stage=data.stage,
        description=data.description,
        rules=[r.model_dump() for r in data.rules],
        enabled=data.enabled,
        source=source,
        reason=data.reason,
        created_at=ctx.now(),
        created_by=ctx.principal.actor,
    )
    ctx.session.add(policy)
    ctx.session.flush()
    ctx.record(
        "policy.saved",
        "policy",
        f"{name}@{policy.version}",
        before=snapshot(current, exclude=frozenset({"id"})) if current else None,
        after=snapshot(policy, exclude=frozenset({"id"})),
        reason=data.reason,
    )
    return policy, True


def save_policy(ctx: Ctx, name: str, data: PolicySave) -> tuple[Policy, bool]:
    """Save a new version of policy `name` (compiled first: a broken rule is a 422 with its position).
    Saving content identical to the latest version changes nothing and returns (latest, False)."""
    ctx.require("policies:manage")
    if not re.fullmatch(SLUG, name):
        raise ValidationFailed(
            f"policy name '{name}' must be a slug: lower-case letters, digits and '-', 2-64 characters",
            errors=[{"loc": ["name"], "msg": f"must match {SLUG}"}],
        )
    return _save(ctx, name, data, "user")


def validate_rules(ctx: Ctx, rules: Sequence[RuleSpec]) -> int:
    ctx.require("policies:read")
    compile_rules(rules)
    return len(rules)


def list_policies(ctx: Ctx, stage: str | None = None, include_disabled: bool = True) -> list[Policy]:
    ctx.require("policies:read")
    rows = latest_policies(ctx.session)
    return [p for p in rows if (stage is None or p.stage == stage) and (include_disabled or p.enabled)]


def read_policy(ctx: Ctx, name: str, version: int | None = None) -> Policy:
    ctx.require("policies:read")
    return get_policy(ctx.session, name, version)


def list_versions(ctx: Ctx, name: str) -> list[Policy]:
    ctx.require("policies:read")
    rows = list(ctx.session.execute(select(Policy).where(Policy.name == name).order_by(Policy.version)).scalars())
    if not rows:
        raise NotFound(f"no policy '{name}'", entity="policy")
    return rows


def install_defaults(ctx: Ctx) -> list[tuple[Policy, bool]]:
    """Install (or update to) the shipped policies: each becomes a new version where it differs."""
    ctx.require("policies:manage")
    from charter.policy.content import shipped

    out = []
    for doc in shipped():
        data = PolicySave.model_validate(doc.model_dump(exclude={"name"}) | {"reason": "shipped default policy"})
        out.append(_save(ctx, doc.name, data, "shipped"))
    return out


def ensure_defaults(ctx: Ctx) -> None:
    """Before the first gate: install each shipped policy whose name was never saved (as 'system').

    A policy that exists in any version (even disabled) is left alone: the organisation owns it now.
    """
    from charter.access.principal import SYSTEM
    from charter.context import Ctx as _Ctx
    from charter.policy.content import shipped

    docs = shipped()
    existing = set(ctx.session.execute(select(Policy.name).where(Policy.name.in_([d.name for d in docs]))).scalars())
    missing = [d for d in docs if d.name not in existing]
    if not missing:
        return
    system_ctx = _Ctx(
        session=ctx.session, principal=SYSTEM, clock=ctx.clock, settings=ctx.settings, request_id=ctx.request_id
    )
    for doc in missing:
        data = PolicySave.model_validate(doc.model_dump(exclude={"name"}) | {"reason": "shipped default policy"})
        try:
            with ctx.session.begin_nested():
                _save(system_ctx, doc.name, data, "shipped")
        except IntegrityError:  # installed concurrently by another request
            continue


def check_stage(stage: str) -> None:
    from charter.releases.rules import STAGES

    if stage not in STAGES:
        raise ValidationFailed(f"unknown stage '{stage}'; stages: {', '.join(STAGES)}")
