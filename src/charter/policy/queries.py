"""Reading gate policies: the latest versions, one version, the versions of a name, what a gate applies."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from charter.context import Ctx
from charter.kit.cache import HeadCache
from charter.kit.errors import NotFound
from charter.ledger.head import session_head
from charter.policy.facts import providers
from charter.policy.models import Policy
from charter.policy.programs import compile_rules
from charter.policy.schemas import PolicyRead, RuleSpec


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


@dataclass(frozen=True)
class PolicyView:
    """A stored policy version, detached from any session (versions never change)."""

    id: int
    name: str
    version: int
    stage: str
    enabled: bool
    rules: list[dict[str, Any]]


_views: HeadCache[str, list[PolicyView]] = HeadCache("policy.latest_versions", 4)


def gate_policies(session: Session, stage: str, *, head: str | None = None) -> list[PolicyView]:
    """The enabled policies a gate of `stage` applies (the latest version of each name). A pure read: the
    shipped defaults are installed by `charter db upgrade` and at server start, never here. The list is
    reused while the ledger head is unchanged (saving a policy is a ledger-recorded change)."""
    head = head or session_head(session)
    views = _views.get("latest", head)
    if views is None:
        views = [
            PolicyView(p.id, p.name, p.version, p.stage, p.enabled, list(p.rules)) for p in latest_policies(session)
        ]
        _views.put("latest", head, views)
    return [v for v in views if v.enabled and v.stage == stage]


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


def facts_schema(ctx: Ctx) -> list[dict[str, Any]]:
    """Every facts namespace a rule can use, with its CEL types and where it comes from."""
    ctx.require("policies:read")
    return providers()
