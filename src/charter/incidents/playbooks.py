"""Playbooks: the incident-response runbook for the incident's severity, started as a procedure run.

On open and on every severity change, the severity's playbook (severities.yaml `playbook`) starts as a
run of the procedures module attached to the incident, unless this incident already has a run of that
template. Its items are tasks: assigned to the commander (or the reporter), due per the template.
"""

from __future__ import annotations

import importlib.util

from sqlalchemy import func, select

from charter.access.models import User
from charter.context import Ctx
from charter.incidents import catalog
from charter.incidents.models import Incident
from charter.incidents.store import add_link, automatic, links, role_holder
from charter.incidents.timeline import add_event
from charter.procedures import service as procedures
from charter.procedures.models import RunItem


def available() -> bool:
    return importlib.util.find_spec("charter.procedures.service") is not None


def start_for_severity(ctx: Ctx, incident: Incident) -> int | None:
    """Start the severity's playbook for the incident (once per template); returns the run id."""
    template = catalog.load().severity(incident.severity).playbook
    if not template:
        return None
    for link in links(ctx.session, incident.id, "procedure_run"):
        if link.data.get("template") == template:
            return None
    if not available():
        add_event(
            ctx,
            incident,
            "playbook",
            f"playbook '{template}' not started: the procedures module is not installed",
            {"template": template},
        )
        return None

    owner_id = role_holder(ctx.session, incident.id, "commander") or incident.reporter_id
    owner = ctx.session.get(User, owner_id) if owner_id else None
    auto = automatic(ctx)
    run = procedures.start_run(
        auto,
        template,
        "incident",
        incident.id,
        title=f"{incident.key} — {template}",
        assignee_id=owner.id if owner else None,
    )
    tasks = ctx.session.execute(select(func.count()).select_from(RunItem).where(RunItem.run_id == run.id)).scalar()
    add_link(
        ctx,
        incident,
        "procedure_run",
        str(run.id),
        label=run.title,
        data={"template": template, "severity": incident.severity},
    )
    add_event(
        ctx,
        incident,
        "playbook",
        f"playbook '{template}' started as procedure run {run.id}"
        + f" with {tasks} tasks"
        + (f", assigned to {owner.username}" if owner else ""),
        {"template": template, "run_id": run.id, "severity": incident.severity},
    )
    return int(run.id)
