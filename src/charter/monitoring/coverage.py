"""Coverage part (charter.kit.coverage): the system's alert rules.

`alert:<key>` is met when the system has an enabled alert rule with that key, missing when it is disabled
(a rule the system does not have is not reported, so compliance shows it as missing).
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import select

from charter.context import Ctx
from charter.kit.coverage import ControlState, EvidenceItem, Subject
from charter.monitoring.models import AlertRule

KINDS: Final = ("alert",)


def control_states(ctx: Ctx, subject: Subject) -> list[ControlState]:
    ctx.require("metrics:read")
    rules = ctx.session.execute(
        select(AlertRule).where(AlertRule.system_id == subject.id).order_by(AlertRule.key)
    ).scalars()
    states = []
    for rule in rules:
        proof = EvidenceItem(
            ref=f"alert-rule:{subject.key}/{rule.key}",
            title=f"alert rule {rule.key} ({rule.kind}, {rule.severity})",
            at=rule.updated_at,
            ledger=("alert_rule", f"{subject.key}/{rule.key}"),
        )
        if rule.enabled:
            why = f"alert rule {rule.key} is enabled: {rule.description or rule.kind}"
            states.append(ControlState(f"alert:{rule.key}", "met", why, (proof,)))
        else:
            states.append(ControlState(f"alert:{rule.key}", "missing", f"alert rule {rule.key} is disabled", (proof,)))
    return states
