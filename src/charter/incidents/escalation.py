"""Escalation: page level 1 when an incident opens; escalate level by level until someone acknowledges.

Timers are columns on the incident (next_escalation_at), so a restart loses nothing; `sweep(ctx)` is
driven by the periodic sweeper and takes the one-sweeper lock first. A unique (incident, round, level)
row per page is the backstop: even two sweepers that got past the lock could not page a level twice.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from charter.access.models import User
from charter.context import Ctx
from charter.incidents import catalog
from charter.incidents.models import EscalationPolicy, Incident, IncidentEscalation
from charter.incidents.rules import Policy, Target, format_duration, next_escalation_step
from charter.incidents.timeline import add_event
from charter.inventory.models import AISystem
from charter.kit.errors import NotFound, ValidationFailed
from charter.kit.roles import ROLES
from charter.kit.settings import Settings
from charter.ledger.chain import snapshot
from charter.notifications.service import notify
from charter.sweeps import sweep_lock

SWEEP_NAME = "incidents.escalation"


# ----------------------------------------------------------------------------- policies


def _installed(session: Session) -> dict[str, Policy]:
    cat = catalog.load()
    out: dict[str, Policy] = {}
    for row in session.scalars(select(EscalationPolicy).order_by(EscalationPolicy.id)):
        out[row.key] = catalog.parse_policy(row.definition, cat.severities)
    return out


def all_policies(session: Session) -> dict[str, Policy]:
    """Shipped policies, overridden by installed ones of the same key."""
    return {**catalog.load().policies, **_installed(session)}


def get_policy(session: Session, key: str) -> Policy:
    policies = all_policies(session)
    if key not in policies:
        raise ValidationFailed(
            f"unknown escalation policy '{key}'; policies are: {', '.join(sorted(policies))}",
            errors=[{"loc": ["escalation_policy"], "msg": "unknown policy"}],
        )
    return policies[key]


def policy_for_system(session: Session, system_key: str) -> Policy:
    policies = all_policies(session)
    for policy in policies.values():
        if system_key in policy.systems:
            return policy
    return policies[catalog.load().default_policy]


def policy_doc(policy: Policy) -> dict[str, Any]:
    def target(t: Target) -> dict[str, Any]:
        if t.user:
            return {"user": t.user}
        if t.role:
            return {"role": t.role}
        return {"system_owner": True}

    return {
        "key": policy.key,
        "name": policy.name,
        "systems": list(policy.systems),
        "ack_timeouts": {k: format_duration(v) for k, v in policy.ack_timeouts.items()},
        "repeat": policy.repeat,
        "levels": [{"notify": [target(t) for t in level]} for level in policy.levels],
    }


def list_policies(ctx: Ctx) -> list[dict[str, Any]]:
    ctx.require("incidents:read")
    installed = _installed(ctx.session)
    return [
        {**policy_doc(p), "origin": "installed" if k in installed else "shipped"}
        for k, p in sorted(all_policies(ctx.session).items())
    ]


def install_policy(ctx: Ctx, definition: dict[str, Any]) -> dict[str, Any]:
    """Install (or replace) an escalation policy; applies to the next escalation step of every incident."""
    ctx.require("incidents:manage")
    policy = catalog.parse_policy(definition, catalog.load().severities)
    for level in policy.levels:
        for t in level:
            if t.user and ctx.session.execute(select(User.id).where(User.username == t.user)).first() is None:
                raise ValidationFailed(f"escalation policy: no user named '{t.user}'")
            if t.role and t.role not in ROLES:
                raise ValidationFailed(f"escalation policy: unknown role '{t.role}'; roles are {', '.join(ROLES)}")
    doc = policy_doc(policy)
    now = ctx.now()
    row = ctx.session.execute(select(EscalationPolicy).where(EscalationPolicy.key == policy.key)).scalar_one_or_none()
    before = snapshot(row) if row else None
    if row is None:
        row = EscalationPolicy(key=policy.key, definition=doc, created_at=now, updated_at=now, version=1)
        ctx.session.add(row)
    else:
        row.definition = doc
        row.updated_at = now
        row.version += 1
    ctx.session.flush()
    ctx.record("incident.policy.installed", "escalation_policy", policy.key, before=before, after=snapshot(row))
    return {**doc, "origin": "installed"}


# ----------------------------------------------------------------------------- recipients and paging


def recipients(session: Session, incident: Incident, targets: tuple[Target, ...]) -> list[User]:
    """Active users a level pages, each once, in target order."""
    found: dict[int, User] = {}
    for t in targets:
        stmt = select(User).where(User.disabled.is_(False))
        if t.user:
            stmt = stmt.where(User.username == t.user)
        elif t.role:
            stmt = stmt.where(User.role == t.role)
        else:
            owner = session.execute(select(AISystem.owner_id).where(AISystem.id == incident.system_id)).scalar()
            if owner is None:
                continue
            stmt = stmt.where(User.id == owner)
        for user in session.scalars(stmt.order_by(User.username)):
            found.setdefault(user.id, user)
    return list(found.values())


def ack_token(settings: Settings, incident_key: str, user_id: int, expires_at: datetime) -> str:
    """A signed, expiring acknowledgement link token for one person and one incident."""
    payload = f"{incident_key}:{user_id}:{int(expires_at.timestamp())}"
    body = base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")
    mac = hmac.new(settings.secret.encode(), f"ack:{payload}".encode(), hashlib.sha256).hexdigest()
    return f"{body}.{mac}"


def ack_url(settings: Settings, incident_key: str, user_id: int, expires_at: datetime) -> str:
    return f"{settings.base_url}/api/v1/incidents/ack-link/{ack_token(settings, incident_key, user_id, expires_at)}"


def verify_ack_token(settings: Settings, token: str, now: datetime) -> tuple[str, int]:
    """(incident key, user id) of a valid token; ValidationFailed says why a token is refused."""
    body, _, mac = token.partition(".")
    try:
        payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
        key, user_id, expires = payload.rsplit(":", 2)
        uid, exp = int(user_id), int(expires)
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed("this acknowledgement link is malformed; use the link from the notification") from None
    expected = hmac.new(settings.secret.encode(), f"ack:{payload}".encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, mac):
        raise ValidationFailed("this acknowledgement link's signature is not valid")
    if now.timestamp() > exp:
        raise ValidationFailed(
            f"this acknowledgement link has expired; acknowledge with 'charter incident ack {key}' or in the console"
        )
    return key, uid


def _page(ctx: Ctx, incident: Incident, round_: int, level: int, reason: str) -> list[str] | None:
    """Record and notify one escalation step. None if that step was already paged (a racing sweeper)."""
    policy = get_policy(ctx.session, incident.escalation_policy)
    people = recipients(ctx.session, incident, policy.levels[level - 1])
    names = [u.username for u in people]
    try:
        with ctx.session.begin_nested():
            ctx.session.add(
                IncidentEscalation(
                    incident_id=incident.id, round=round_, level=level, at=ctx.now(), reason=reason, recipients=names
                )
            )
    except IntegrityError:
        return None
    if people:
        cat = catalog.load()
        expires = ctx.now() + timedelta(hours=cat.ack_link_hours)
        base = ctx.settings.base_url
        event = "incident.opened" if reason == "opened" else "incident.escalated"
        system = ctx.session.get(AISystem, incident.system_id)
        verb = (
            "opened"
            if reason == "opened"
            else f"escalated to level {level}" + (f" (round {round_})" if round_ > 1 else "")
        )
        notify(
            ctx,
            event,
            recipients=[u.id for u in people],
            subject=f"[{incident.severity}] {incident.key} {verb}: {incident.title}",
            body=(
                f"{incident.severity} incident on {system.key if system else '?'}, not yet acknowledged. "
                f"Status: {incident.status}. Acknowledge to stop escalation."
            ),
            payload={
                "incident": incident.key,
                "severity": incident.severity,
                "system": system.key if system else None,
                "level": level,
                "round": round_,
                "url": f"{base}/api/v1/incidents/{incident.key}",
            },
            per_recipient={u.id: {"ack_url": ack_url(ctx.settings, incident.key, u.id, expires)} for u in people},
            entity=("incident", incident.key),
        )
    return names


def _schedule(incident: Incident, policy: Policy, now: datetime) -> None:
    timeout = policy.ack_timeout(incident.severity)
    incident.next_escalation_at = now + timeout if timeout is not None else None


def start(ctx: Ctx, incident: Incident) -> None:
    """Page the first level that has anyone to page, and set the timer for the next step."""
    _advance(ctx, incident, reason="opened")


def _advance(ctx: Ctx, incident: Incident, reason: str) -> bool:
    """Move to the next step with someone to page (skipping empty levels). False if the chain is exhausted."""
    policy = get_policy(ctx.session, incident.escalation_policy)
    now = ctx.now()
    round_, level = incident.escalation_round, incident.escalation_level
    while True:
        step = next_escalation_step(policy, round_, level)
        if step is None:
            incident.escalation_exhausted = True
            incident.next_escalation_at = None
            add_event(
                ctx,
                incident,
                "escalation",
                f"escalation exhausted: nobody acknowledged after {policy.repeat + 1} round(s) of policy "
                f"'{policy.key}'",
                {"policy": policy.key},
            )
            return False
        round_, level = step
        paged = _page(ctx, incident, round_, level, reason)
        if paged is None:  # someone else already paged this step: leave the incident to them
            return True
        if paged:
            break
        add_event(ctx, incident, "escalation", f"level {level} has nobody to page; skipped", {"level": level})
    incident.escalation_round, incident.escalation_level = round_, level
    incident.last_escalated_at = now
    _schedule(incident, policy, now)
    add_event(
        ctx,
        incident,
        "escalation",
        f"paged level {level}" + (f" (round {round_})" if round_ > 1 else "") + f": {', '.join(paged)}",
        {"level": level, "round": round_, "recipients": paged, "next_escalation_at": incident.next_escalation_at},
    )
    return True


def on_severity_change(ctx: Ctx, incident: Incident) -> None:
    """The ack timeout depends on severity: re-time the pending step from when it was paged."""
    if incident.acknowledged_at is not None or incident.escalation_exhausted or incident.status_category != "open":
        return
    policy = get_policy(ctx.session, incident.escalation_policy)
    timeout = policy.ack_timeout(incident.severity)
    since = incident.last_escalated_at or ctx.now()
    incident.next_escalation_at = since + timeout if timeout is not None else None


def stop(incident: Incident) -> None:
    incident.next_escalation_at = None


def state(session: Session, incident: Incident) -> dict[str, Any]:
    try:
        policy = get_policy(session, incident.escalation_policy)
        levels, timeout = len(policy.levels), format_duration(policy.ack_timeout(incident.severity))
    except ValidationFailed:
        levels, timeout = 0, None
    return {
        "policy": incident.escalation_policy,
        "round": incident.escalation_round,
        "level": incident.escalation_level,
        "levels": levels,
        "next_escalation_at": incident.next_escalation_at,
        "exhausted": incident.escalation_exhausted,
        "ack_timeout": timeout,
    }


def paged_user_ids(session: Session, incident: Incident) -> list[int]:
    names: set[str] = set()
    for row in session.scalars(select(IncidentEscalation).where(IncidentEscalation.incident_id == incident.id)):
        names.update(row.recipients or [])
    if not names:
        return []
    return list(session.scalars(select(User.id).where(User.username.in_(names))))


# ----------------------------------------------------------------------------- the sweep


def sweep(ctx: Ctx) -> dict[str, Any]:
    """Escalate every unacknowledged open incident whose timer is due. One sweeper at a time."""
    ctx.require("incidents:manage")
    if not sweep_lock(ctx.session, SWEEP_NAME):
        return {"skipped": "another sweeper is escalating right now"}
    now = ctx.now()
    stmt = (
        select(Incident)
        .where(
            Incident.next_escalation_at.is_not(None),
            Incident.next_escalation_at <= now,
            Incident.acknowledged_at.is_(None),
            Incident.status_category == "open",
        )
        .order_by(Incident.next_escalation_at, Incident.id)
    )
    if ctx.session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    escalated: list[str] = []
    exhausted: list[str] = []
    for incident in list(ctx.session.scalars(stmt)):
        before = {
            "escalation_round": incident.escalation_round,
            "escalation_level": incident.escalation_level,
            "next_escalation_at": incident.next_escalation_at,
        }
        try:
            moved = _advance(ctx, incident, reason="timeout")
        except (ValidationFailed, NotFound) as exc:  # e.g. its policy was removed: stop, say so
            incident.next_escalation_at = None
            add_event(ctx, incident, "escalation", f"escalation stopped: {exc.detail}")
            moved = False
        incident.updated_at = now
        incident.version += 1
        ctx.session.flush()
        after = {
            "escalation_round": incident.escalation_round,
            "escalation_level": incident.escalation_level,
            "next_escalation_at": incident.next_escalation_at,
        }
        action = "incident.escalated" if moved else "incident.escalation.exhausted"
        ctx.record(action, "incident", incident.key, before=before, after=after, reason="not acknowledged in time")
        (escalated if moved else exhausted).append(incident.key)
    return {"escalated": escalated, "exhausted": exhausted}
