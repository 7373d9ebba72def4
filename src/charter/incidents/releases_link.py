"""Incidents ↔ releases: the release deployed when an incident started, and rollbacks started from it.

Uses the releases module's own use cases: `history.deployed_at` ("what was deployed at stage X at time T")
and `deploy.rollback`, which records the incident key on the deployment; the incident records the
deployment as a 'rollback' link and a timeline event — linked both ways.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from charter.context import Ctx
from charter.incidents.models import Incident
from charter.incidents.rules import ENDED
from charter.incidents.schemas import RollbackIn
from charter.incidents.store import add_link, automatic, get_incident
from charter.incidents.timeline import add_event
from charter.inventory.models import AISystem
from charter.kit.errors import Conflict, ValidationFailed
from charter.releases import deploy, history
from charter.releases.history import deployed_at
from charter.releases.schemas import RollbackIn as ReleaseRollback
from charter.releases.store import get_release, release_ref

RELEASE_STAGES = ("sandbox", "pilot", "production")


def incident_stage(system: AISystem) -> str | None:
    """The release stage an incident on this system concerns: production, else the system's own stage."""
    if system.stage == "production":
        return "production"
    return system.stage if system.stage in RELEASE_STAGES else None


class DeployedAt(NamedTuple):
    stage: str | None
    release_id: int | None
    label: str | None


def deployed_when(ctx: Ctx, system: AISystem, at: datetime) -> DeployedAt:
    """(stage, release id, label) of what was deployed at the incident's stage at time `at`."""
    stage = incident_stage(system)
    if stage is None:
        return DeployedAt(None, None, None)
    pointer = deployed_at(automatic(ctx), system.key, stage, at)
    if pointer.version is None:
        return DeployedAt(stage, None, None)
    _system, release = get_release(ctx.session, system.key, pointer.version)
    return DeployedAt(stage, release.id, f"{release_ref(system, release)} ({stage})")


def rollback_from_incident(ctx: Ctx, key: str, data: RollbackIn) -> Incident:
    """Roll back the incident's system at its stage to the previously deployed approved release."""
    ctx.require("incidents:write")
    incident = get_incident(ctx.session, key, lock=True)
    if incident.status_category in ENDED:
        raise Conflict(f"incident {incident.key} is {incident.status}; reopen it before acting on it")
    system = ctx.session.get(AISystem, incident.system_id)
    assert system is not None
    stage = data.stage or incident.system_stage or incident_stage(system)
    if stage is None:
        raise ValidationFailed(
            f"system '{system.key}' is in stage '{system.stage}', which has no deployments; name a stage",
            errors=[{"loc": ["stage"], "msg": "required"}],
        )
    move = deploy.rollback(
        ctx,
        system.key,
        ReleaseRollback(
            stage=stage, reason=data.reason, incident=incident.key, emergency=incident.severity == "CRITICAL"
        ),
    )
    read = history.to_deployment_read(ctx.session, system, [move])[0]
    add_link(
        ctx,
        incident,
        "rollback",
        str(move.id),
        label=f"{system.key} {stage}: release {read.from_version} → {read.to_version}",
        data={
            "deployment_id": move.id,
            "stage": stage,
            "from_version": read.from_version,
            "to_version": read.to_version,
            "kind": move.kind,
        },
    )
    add_event(
        ctx,
        incident,
        "rollback",
        f"rolled back {system.key} at {stage}: release {read.from_version} → {read.to_version} ({data.reason})",
        {"deployment_id": move.id, "stage": stage, "from_version": read.from_version, "to_version": read.to_version},
    )
    incident.version += 1
    incident.updated_at = ctx.now()
    ctx.session.flush()
    ctx.record(
        "incident.rollback",
        "incident",
        incident.key,
        after={"deployment_id": move.id, "stage": stage, "to_version": read.to_version},
        reason=data.reason,
    )
    return incident
