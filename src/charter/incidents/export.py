"""Markdown export of a postmortem (for wikis, regulators, the board pack)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from charter.incidents.postmortems.service import read
from charter.incidents.queries import to_read
from charter.incidents.rules import format_duration
from charter.incidents.store import get_incident
from charter.kit.clock import isoformat

if TYPE_CHECKING:
    from datetime import datetime

    from charter.context import Ctx

LABELS = {
    "time_to_detect": "Time to detect",
    "time_to_acknowledge": "Time to acknowledge",
    "time_to_mitigate": "Time to mitigate",
    "time_to_resolve": "Time to resolve",
}


def _ts(value: datetime | None) -> str:
    return isoformat(value)[:16].replace("T", " ") + " UTC" if value else "—"


def _bullets(items: list[str]) -> list[str]:
    return [f"- {i}" for i in items] if items else ["- (none)"]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def postmortem_markdown(ctx: Ctx, key: str) -> str:
    pm = read(ctx, key)
    inc = to_read(ctx.session, get_incident(ctx.session, key), ctx.now())
    lines = [
        f"# Postmortem: {inc.key} — {inc.title}",
        "",
        f"- **Status**: {pm.status}"
        + (f" (approved by {pm.approved_by} on {_ts(pm.approved_at)})" if pm.approved_by else ""),
        f"- **Severity**: {inc.severity}  ·  **Harm category**: {inc.harm_category or '—'}",
        f"- **System**: {inc.system}  ·  **Release**: {inc.release or '—'}  ·  **Stage**: {inc.system_stage or '—'}",
        f"- **Commander**: {inc.commander or '—'}  ·  **Author**: {pm.author or '—'}",
        f"- **Started**: {_ts(inc.started_at)}  ·  **Detected**: {_ts(inc.detected_at)}  ·  "
        f"**Resolved**: {_ts(inc.resolved_at)}",
    ]
    if inc.regulatory.serious:
        lines.append(
            f"- **EU AI Act serious incident** ({inc.regulatory.article}): due {_ts(inc.regulatory.deadline)}, "
            f"reported {_ts(inc.regulatory.reported_at)}"
        )
    lines += ["", "## Summary", "", pm.summary or "(none)", "", "## Impact", ""]
    lines.append(f"- Users affected: {pm.impact_users if pm.impact_users is not None else 'unknown'}")
    if pm.impact_duration_minutes is not None:
        lines.append(f"- Duration: {format_duration(timedelta(minutes=pm.impact_duration_minutes))}")
    lines += [f"- Harm: {pm.impact_harm or '(none)'}", "", "## Detection", "", pm.detection or "(none)", ""]
    lines += ["| Measure | Value |", "|---|---|"]
    for name, label in LABELS.items():
        secs = pm.durations.get(name)
        lines.append(f"| {label} | {format_duration(timedelta(seconds=secs)) if secs is not None else '—'} |")
    lines += ["", "## Root cause", "", pm.root_cause or "(none)", "", "### Contributing factors", ""]
    lines += _bullets(pm.contributing_factors)
    lines += ["", "### Five whys", ""]
    lines += [f"{i}. {why}" for i, why in enumerate(pm.five_whys, 1)] or ["(none)"]
    lines += ["", "## What went well", "", *_bullets(pm.went_well)]
    lines += ["", "## What went badly", "", *_bullets(pm.went_badly)]
    lines += ["", "## Action items", ""]
    if pm.action_items:
        lines += ["| # | Action | Owner | Due | Status | Changes |", "|---|---|---|---|---|---|"]
        for a in pm.action_items:
            link = f"{a.link_type} {a.link_ref}" if a.link_type else "—"
            status = a.status + (" (overdue)" if a.overdue else "")
            lines.append(f"| {a.id} | {_cell(a.title)} | {a.owner} | {a.due_date} | {status} | {_cell(link)} |")
    else:
        lines.append("(none)")
    if pm.review_note:
        lines += ["", "## Review note", "", pm.review_note]
    return "\n".join(lines) + "\n"
