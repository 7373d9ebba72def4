"""Notifications of the approval flow: approvers are told a release awaits them, the requester hears the
decision (event types approval.requested and approval.decided; subscribe a channel to receive them)."""

from __future__ import annotations

from charter.access.service import users_who_can
from charter.context import Ctx
from charter.inventory.models import AISystem
from charter.notifications.service import notify
from charter.releases.models import Release, ReleaseApproval


def approval_requested(ctx: Ctx, system: AISystem, release: Release, stage: str, reason: str | None) -> None:
    approvers = users_who_can(ctx.session, "releases:approve", exclude=(release.requested_by_id, ctx.principal.user_id))
    ref = f"{system.key}@{release.version}"
    notify(
        ctx,
        "approval.requested",
        recipients=approvers,
        subject=f"{system.name}: release {release.version} awaits approval for {stage}",
        body=f"{ctx.principal.name} asks to take {ref} to {stage}" + (f": {reason}" if reason else "."),
        payload={
            "system": system.key,
            "release": release.version,
            "stage": stage,
            "requested_by": ctx.principal.name,
            "url": f"{ctx.settings.base_url}/systems/{system.key}/releases/{release.version}/approve",
        },
        entity=("release", ref),
    )


def approval_decided(ctx: Ctx, system: AISystem, release: Release, decision: ReleaseApproval, status: str) -> None:
    if release.requested_by_id is None or release.requested_by_id == ctx.principal.user_id:
        return
    verb = "approved" if decision.decision == "approve" else "rejected"
    ref = f"{system.key}@{release.version}"
    notify(
        ctx,
        "approval.decided",
        recipients=[release.requested_by_id],
        subject=f"{system.name}: release {release.version} {verb} for {decision.stage} by {decision.username}",
        body=(decision.comment or "") + f"\nStatus at {decision.stage}: {status}.",
        payload={
            "system": system.key,
            "release": release.version,
            "stage": decision.stage,
            "decision": decision.decision,
            "by": decision.username,
            "status": status,
            "url": f"{ctx.settings.base_url}/systems/{system.key}/releases/{release.version}",
        },
        entity=("release", ref),
        organisation=False,
    )
