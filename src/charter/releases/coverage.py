"""Coverage part (charter.kit.coverage): gate rules, judged by the system's latest gate evaluation of their stage.

`gate:<policy>/<rule>` is met when the rule passed in the latest evaluation of its stage for the system; missing
when it failed there or its policy is disabled; partial when the rule is enforced but has not been evaluated for
the system yet (or only in an older policy version).
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import select

from charter.context import Ctx
from charter.kit.clock import isoformat
from charter.kit.coverage import ControlState, EvidenceItem, Subject
from charter.policy.queries import list_policies
from charter.releases.models import GateEvaluation, Release

KINDS: Final = ("gate",)


def _latest_by_stage(ctx: Ctx, subject: Subject) -> dict[str, tuple[GateEvaluation, int]]:
    rows = ctx.session.execute(
        select(GateEvaluation, Release.version)
        .join(Release, Release.id == GateEvaluation.release_id)
        .where(GateEvaluation.system_id == subject.id)
        .order_by(GateEvaluation.evaluated_at.desc(), GateEvaluation.id.desc())
    ).all()
    latest: dict[str, tuple[GateEvaluation, int]] = {}
    for evaluation, version in rows:
        latest.setdefault(evaluation.stage, (evaluation, version))
    return latest


def control_states(ctx: Ctx, subject: Subject) -> list[ControlState]:
    ctx.require("releases:read")
    policies = {p.name: p for p in list_policies(ctx)}  # newest version of each
    latest = _latest_by_stage(ctx, subject)
    states = []
    for name in sorted(policies):
        policy = policies[name]
        found = latest.get(policy.stage)
        for rule in policy.rules:
            control = f"gate:{name}/{rule['id']}"
            if not policy.enabled:
                states.append(ControlState(control, "missing", f"policy {name} v{policy.version} is disabled"))
                continue
            if found is None:
                why = f"enforced at the {policy.stage} gate; no release of this system has been evaluated there yet"
                states.append(ControlState(control, "partial", why))
                continue
            evaluation, version = found
            where = f"{policy.stage} gate, release v{version}, {isoformat(evaluation.evaluated_at)}"
            proof = EvidenceItem(
                ref=f"gate-evaluation:{evaluation.id}",
                title=f"gate evaluation of release v{version} at {policy.stage} ({evaluation.purpose})",
                at=evaluation.evaluated_at,
                sha256=evaluation.digest,
                ledger=("policy", f"{name}@{policy.version}"),
            )
            result = next(
                (r for r in evaluation.results if r.get("policy") == name and r.get("rule") == rule["id"]), None
            )
            if result is None:
                why = f"enforced since policy v{policy.version}; the latest evaluation ({where}) predates it"
                states.append(ControlState(control, "partial", why, (proof,)))
            elif result.get("passed"):
                states.append(ControlState(control, "met", f"passed at the {where}", (proof,)))
            else:
                why = f"failed at the {where}: {result.get('reason') or 'no reason given'}"
                states.append(ControlState(control, "missing", why, (proof,)))
    return states
