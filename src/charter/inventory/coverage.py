"""Coverage part (charter.kit.coverage): the system's own register entry.

`inventory:system-register` is met when the system has an owner and a classified EU AI Act risk tier with its
reason; partial when either is missing.
"""

from __future__ import annotations

from typing import Final

from charter.context import Ctx
from charter.inventory.models import AISystem
from charter.kit.coverage import ControlState, EvidenceItem, Subject

KINDS: Final = ("inventory",)


def control_states(ctx: Ctx, subject: Subject) -> list[ControlState]:
    ctx.require("systems:read")
    system = ctx.session.get(AISystem, subject.id)
    if system is None:
        return []
    proof = EvidenceItem(f"system:{system.key}", f"{system.key} {system.name}", system.updated_at,
                         ledger=("system", system.key))  # fmt: skip
    gaps = []
    if system.owner_id is None:
        gaps.append("no owner")
    if system.risk_tier == "unclassified":
        gaps.append("risk tier not classified")
    elif not system.risk_tier_reason:
        gaps.append(f"risk tier {system.risk_tier} has no reason recorded")
    if gaps:
        return [ControlState("inventory:system-register", "partial", "registered; " + ", ".join(gaps), (proof,))]
    why = f"registered with an owner, risk tier {system.risk_tier} ({system.risk_tier_reason})"
    return [ControlState("inventory:system-register", "met", why, (proof,))]
