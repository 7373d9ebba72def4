"""Red-team facts for deployment gates (the `redteam` namespace of charter.policy.facts).

redteam.runs_on_release > 0 && redteam.open_by_severity["high"] + redteam.open_by_severity["critical"] == 0
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import func, select

from charter.policy.facts import FactsRequest, register_facts_provider
from charter.redteam.models import RedteamRun
from charter.redteam.queries import open_by_severity

SCHEMA: Final[dict[str, str]] = {
    "open_by_severity": "map(string, int)",
    "open_total": "int",
    "runs_on_release": "int",
    "last_run_age_days": "double",
    "suites_covered": "list(string)",
}


def provide(request: FactsRequest) -> dict[str, Any]:
    """Open (open or triaged) findings by severity; completed runs and imports on this release; the age of the
    newest one for the system (-1.0 when there is none); the suites the release's own runs covered."""
    session, system_id = request.session, request.system.id
    counts = open_by_severity(session, system_id)
    on_release = session.execute(
        select(RedteamRun.suites).where(
            RedteamRun.system_id == system_id,
            RedteamRun.release_id == request.release.id,
            RedteamRun.status == "completed",
        )
    ).all()
    newest = session.execute(
        select(func.max(RedteamRun.finished_at)).where(
            RedteamRun.system_id == system_id, RedteamRun.status == "completed"
        )
    ).scalar_one()
    age = round((request.now - newest).total_seconds() / 86400, 3) if newest is not None else -1.0
    return {
        "open_by_severity": counts,
        "open_total": sum(counts.values()),
        "runs_on_release": len(on_release),
        "last_run_age_days": age,
        "suites_covered": sorted({s for (suites,) in on_release for s in suites}),
    }


# Findings and runs change only through ledger-recorded changes; the age may be a few seconds old.
register_facts_provider("redteam", provide, schema=SCHEMA, cacheable=True)
