"""Coverage part (charter.kit.coverage): the red-team suites run against the system.

`redteam-suite:<key>` is met when the latest completed run covering the suite left no open or triaged HIGH or
CRITICAL finding on the system; partial when such findings are still open; not reported (so missing) when the
suite never ran against the system.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import select

from charter.context import Ctx
from charter.kit.coverage import ControlState, EvidenceItem, Subject
from charter.redteam.models import Finding, RedteamRun
from charter.redteam.rules import LIVE

KINDS: Final = ("redteam-suite",)
UNRESOLVED: Final = LIVE


def control_states(ctx: Ctx, subject: Subject) -> list[ControlState]:
    ctx.require("redteam:read")
    runs = ctx.session.execute(
        select(RedteamRun)
        .where(RedteamRun.system_id == subject.id, RedteamRun.status == "completed")
        .order_by(RedteamRun.finished_at.desc(), RedteamRun.id.desc())
    ).scalars()
    latest: dict[str, RedteamRun] = {}
    for run in runs:
        for suite in run.suites or []:
            latest.setdefault(str(suite), run)
    if not latest:
        return []
    serious = list(
        ctx.session.execute(
            select(Finding.id, Finding.title, Finding.severity).where(
                Finding.system_id == subject.id,
                Finding.status.in_(UNRESOLVED),
                Finding.severity.in_(("high", "critical")),
            )
        ).all()
    )
    states = []
    for suite in sorted(latest):
        run = latest[suite]
        proof = EvidenceItem(f"redteam-run:{run.id}", f"red-team run {run.id}: {run.attempts_total} attempts, "
                             f"{run.hits} hits", run.finished_at, ledger=("redteam_run", str(run.id)))  # fmt: skip
        where = f"suite {suite} ran in red-team run {run.id}"
        if serious:
            why = f"{where}; {len(serious)} HIGH/CRITICAL finding(s) still open: " + ", ".join(
                f"#{f.id} {f.title}" for f in serious[:5]
            )
            states.append(ControlState(f"redteam-suite:{suite}", "partial", why, (proof,)))
        else:
            why = f"{where}; no HIGH or CRITICAL finding open"
            states.append(ControlState(f"redteam-suite:{suite}", "met", why, (proof,)))
    return states
