"""Coverage part (charter.kit.coverage): incident handling content, in force for every incident of a system.

`incident:escalation/<policy>` is met when that escalation policy is installed. The other incident controls
(`incident:<file>[/<name>]`: severities, lifecycle, roles, regulatory clocks, alert → incident) are the incident
catalog the module validates at start-up and applies to every incident: met, with the system's incidents as
evidence that the process ran (none yet is said so).
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import select

from charter.context import Ctx
from charter.incidents.models import EscalationPolicy, Incident
from charter.kit.coverage import ControlState, EvidenceItem, Subject

KINDS: Final = ("incident",)
BUILT_IN: Final = (
    "incident:severities",
    "incident:lifecycle",
    "incident:taxonomy/roles",
    "incident:alerts/open_incident_for",
    "incident:regulatory/serious_incident",
)


def control_states(ctx: Ctx, subject: Subject) -> list[ControlState]:
    ctx.require("incidents:read")
    incidents = list(
        ctx.session.execute(
            select(Incident).where(Incident.system_id == subject.id).order_by(Incident.id.desc()).limit(20)
        ).scalars()
    )
    proofs = tuple(
        EvidenceItem(f"incident:{i.key}", f"{i.key} {i.title} ({i.status})", i.detected_at, ledger=("incident", i.key))
        for i in incidents
    )
    ran = f"{len(incidents)} incident(s) of this system handled under it" if incidents else "no incident yet"
    states = [
        ControlState(control, "met", f"applied by the incidents module to every incident; {ran}", proofs)
        for control in BUILT_IN
    ]
    for key in ctx.session.execute(select(EscalationPolicy.key).order_by(EscalationPolicy.key)).scalars():
        states.append(ControlState(f"incident:escalation/{key}", "met", f"escalation policy {key} is installed"))
    return states
