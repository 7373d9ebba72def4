"""Policy use cases: save a new (compiled) version, install the shipped defaults."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from charter.context import Ctx
from charter.kit.errors import ValidationFailed
from charter.kit.principal import SYSTEM
from charter.ledger.chain import snapshot
from charter.policy.content import shipped
from charter.policy.models import Policy
from charter.policy.programs import compile_rules
from charter.policy.schemas import SLUG, PolicySave


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


def install_defaults(ctx: Ctx) -> list[tuple[Policy, bool]]:
    """Install (or update to) the shipped policies: each becomes a new version where it differs."""
    ctx.require("policies:manage")
    out = []
    for doc in shipped():
        data = PolicySave.model_validate(doc.model_dump(exclude={"name"}) | {"reason": "shipped default policy"})
        out.append(_save(ctx, doc.name, data, "shipped"))
    return out


def ensure_defaults(ctx: Ctx) -> list[str]:
    """Install each shipped policy whose name was never saved, as the system (`charter db upgrade` and server
    start). A policy that exists in any version (even disabled) is left alone: the organisation owns it now."""
    docs = shipped()
    existing = set(ctx.session.execute(select(Policy.name).where(Policy.name.in_([d.name for d in docs]))).scalars())
    system_ctx = ctx.acting_as(SYSTEM)
    installed = []
    for doc in docs:
        if doc.name in existing:
            continue
        data = PolicySave.model_validate(doc.model_dump(exclude={"name"}) | {"reason": "shipped default policy"})
        try:
            with ctx.session.begin_nested():
                _save(system_ctx, doc.name, data, "shipped")
            installed.append(doc.name)
        except IntegrityError:  # installed concurrently by another process
            continue
    return installed
