"""Coverage part (charter.kit.coverage): the system's risk register and the matrices its risks are scored on.

`risk:register` is met when the system has risks, every one not closed is assessed and none is past its review
date; partial when some are unassessed or overdue; missing when it has none. `risk-matrix:<name>` is met for
each matrix the system's assessed risks use.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import select

from charter.context import Ctx
from charter.kit.clock import as_utc
from charter.kit.coverage import ControlState, EvidenceItem, Subject
from charter.risk.models import Risk

KINDS: Final = ("risk", "risk-matrix")


def control_states(ctx: Ctx, subject: Subject) -> list[ControlState]:
    ctx.require("risks:read")
    risks = list(ctx.session.execute(select(Risk).where(Risk.system_id == subject.id).order_by(Risk.number)).scalars())
    if not risks:
        return [ControlState("risk:register", "missing", "the system has no risks in the register")]
    now = ctx.now()
    open_risks = [r for r in risks if r.status != "closed"]
    unassessed = [r.key for r in open_risks if r.inherent_level is None]
    overdue = [r.key for r in open_risks if as_utc(r.next_review_at) < now]
    proofs = tuple(
        EvidenceItem(f"risk:{r.key}", f"{r.key} {r.title} ({r.status}, {r.level or 'unscored'})", r.updated_at,
                     ledger=("risk", r.key))
        for r in risks
    )  # fmt: skip
    problems = [f"unassessed: {', '.join(unassessed)}"] if unassessed else []
    problems += [f"past review date: {', '.join(overdue)}"] if overdue else []
    if problems:
        why = f"{len(risks)} risks registered; " + "; ".join(problems)
        states = [ControlState("risk:register", "partial", why, proofs)]
    else:
        why = f"{len(risks)} risks registered, every open one assessed and within its review date"
        states = [ControlState("risk:register", "met", why, proofs)]
    matrices = sorted({r.matrix_name for r in risks if r.matrix_name and r.inherent_level})
    for name in matrices:
        used = tuple(p for p, r in zip(proofs, risks, strict=True) if r.matrix_name == name)
        states.append(ControlState(f"risk-matrix:{name}", "met", f"{len(used)} risks scored on matrix {name}", used))
    return states
