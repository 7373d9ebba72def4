"""Notification use cases: channels, subscriptions, the inbox, and notify() — the one entry point
other modules (incidents, alerts, approvals, deadlines) call to tell people something.

notify() never delivers: it writes the inbox rows and one outbox row per subscribed channel in the
caller's transaction, so a message exists if and only if the event that caused it committed.
Delivery happens later, from the sweeper (charter.notifications.delivery.deliver_pending).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any

import apprise
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from charter.access.models import User
from charter.context import Ctx
from charter.kit.errors import Conflict, NotFound, PermissionDenied, StaleVersion, ValidationFailed
from charter.ledger.chain import snapshot
from charter.ledger.rules import to_jsonable
from charter.notifications.models import Notification, NotificationChannel, NotificationSubscription, OutboxMessage
from charter.notifications.rules import EVENT_TYPES, is_http_url, matches, valid_event_pattern
from charter.notifications.schemas import (
    ChannelCreate,
    ChannelRead,
    ChannelUpdate,
    SubscriptionCreate,
    SubscriptionRead,
)
from charter.notifications.targets import AllowList, TargetRefused, apprise_url_needs_check, check_url

# ----------------------------------------------------------------------------- notify


def notify(
    ctx: Ctx,
    event_type: str,
    *,
    recipients: Iterable[int],
    subject: str,
    body: str = "",
    payload: dict[str, Any] | None = None,
    per_recipient: dict[int, dict[str, Any]] | None = None,
    entity: tuple[str, str] | None = None,
    organisation: bool = True,
) -> list[Notification]:
    """Queue a message for each recipient (user ids) and, if `organisation`, for the organisation's channels.

    Each recipient gets an inbox row and one outbox row per enabled channel they subscribed to this
    event type on. `per_recipient[user_id]` is merged into that person's payload (e.g. a signed link).
    Called inside another use case (whose permission was checked); flushes, never commits.
    """
    payload = dict(payload or {})
    now = ctx.now()
    entity_type, entity_id = entity if entity else (None, None)
    created: list[Notification] = []
    targets: list[int | None] = list(dict.fromkeys(recipients))
    if organisation:
        targets.append(None)
    subs = _subscriptions_for(ctx.session, event_type, targets)
    for user_id in targets:
        channels = subs.get(user_id, [])
        if user_id is None and not channels:
            continue  # no organisation channel wants this event: no organisation inbox row either
        extra = (per_recipient or {}).get(user_id, {}) if user_id is not None else {}
        note = Notification(
            user_id=user_id,
            event_type=event_type,
            subject=subject[:300],
            body=body,
            payload=to_jsonable({**payload, **extra}),
            entity_type=entity_type,
            entity_id=entity_id,
            created_at=now,
        )
        ctx.session.add(note)
        ctx.session.flush()
        for channel_id in channels:
            ctx.session.add(
                OutboxMessage(
                    notification_id=note.id,
                    channel_id=channel_id,
                    status="pending",
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
        created.append(note)
    ctx.session.flush()
    return created


def _subscriptions_for(session: Session, event_type: str, users: list[int | None]) -> dict[int | None, list[int]]:
    """Enabled channels per subscriber whose pattern matches event_type (each channel once)."""
    ids = [u for u in users if u is not None]
    who = NotificationSubscription.user_id.in_(ids) if ids else None
    cond = (
        or_(NotificationSubscription.user_id.is_(None), who)
        if who is not None
        else (NotificationSubscription.user_id.is_(None))
    )
    rows = session.execute(
        select(NotificationSubscription.user_id, NotificationSubscription.event_type, NotificationChannel.id)
        .join(NotificationChannel, NotificationChannel.id == NotificationSubscription.channel_id)
        .where(cond, NotificationChannel.enabled.is_(True))
        .order_by(NotificationSubscription.id)
    ).all()
    out: dict[int | None, list[int]] = {}
    for user_id, pattern, channel_id in rows:
        if matches(pattern, event_type) and channel_id not in out.setdefault(user_id, []):
            out[user_id].append(channel_id)
    return out


# ----------------------------------------------------------------------------- channels


def _mask(channel: NotificationChannel) -> str:
    if channel.kind == "webhook":
        return channel.target
    scheme, sep, _rest = channel.target.partition("://")
    return f"{scheme}://…" if sep else "…"


def channel_read(session: Session, channel: NotificationChannel, *, show_secret: bool = False) -> ChannelRead:
    owner = session.get(User, channel.owner_id).username if channel.owner_id else None  # type: ignore[union-attr]
    return ChannelRead(
        id=channel.id,
        name=channel.name,
        kind=channel.kind,
        target=_mask(channel),
        owner=owner,
        enabled=channel.enabled,
        created_at=channel.created_at,
        updated_at=channel.updated_at,
        version=channel.version,
        secret=channel.secret if show_secret else None,
    )


def _check_address(ctx: Ctx, target: str) -> None:
    """Never at an internal address, unless the operator's allow-list names it (targets.py)."""
    try:
        check_url(target, AllowList.parse(ctx.settings.webhook_allow), unresolved_ok=True)
    except TargetRefused as exc:
        raise ValidationFailed(str(exc), errors=[{"loc": ["target"], "msg": str(exc)}]) from None


def _validate_target(ctx: Ctx, kind: str, target: str) -> None:
    if kind == "webhook":
        if not is_http_url(target):
            raise ValidationFailed(
                f"target: a webhook needs an http:// or https:// URL, got {target!r}",
                errors=[{"loc": ["target"], "msg": "not an http(s) URL"}],
            )
        _check_address(ctx, target)
        return
    if apprise_url_needs_check(target):
        _check_address(ctx, target)

    if not apprise.Apprise().add(target):
        raise ValidationFailed(
            "target: Apprise does not recognise this URL; see https://github.com/caronc/apprise/wiki "
            "for the URL of each service (e.g. slack://..., mailto://..., msteams://..., json://host/path)",
            errors=[{"loc": ["target"], "msg": "unknown Apprise URL"}],
        )


def _snap(channel: NotificationChannel) -> dict[str, Any]:
    data = snapshot(channel)
    if channel.kind == "apprise":
        data["target"] = _mask(channel)  # Apprise URLs carry service credentials
    return data


def get_channel(ctx: Ctx, channel_id: int, *, for_write: bool = False) -> NotificationChannel:
    channel = ctx.session.get(NotificationChannel, channel_id)
    visible = channel is not None and (
        channel.owner_id == ctx.principal.user_id or ctx.principal.can("notifications:manage")
    )
    if channel is None or not visible:
        raise NotFound(f"no notification channel {channel_id} of yours", entity="channel")
    if for_write and channel.owner_id is None:
        ctx.require("notifications:manage")
    return channel


def create_channel(ctx: Ctx, data: ChannelCreate) -> NotificationChannel:
    ctx.require("notifications:own")
    if data.organisation:
        ctx.require("notifications:manage")
    elif ctx.principal.user_id is None:
        raise ValidationFailed("only a user has personal channels; pass organisation=true")
    owner_id = None if data.organisation else ctx.principal.user_id
    _validate_target(ctx, data.kind, data.target)
    exists = ctx.session.execute(
        select(NotificationChannel.id).where(
            NotificationChannel.name == data.name,
            NotificationChannel.owner_id.is_(None) if owner_id is None else NotificationChannel.owner_id == owner_id,
        )
    ).first()
    if exists:
        raise Conflict(f"a channel named '{data.name}' already exists")
    now = ctx.now()
    secret = data.secret or (secrets.token_urlsafe(32) if data.kind == "webhook" else None)
    channel = NotificationChannel(
        name=data.name,
        kind=data.kind,
        target=data.target,
        secret=secret,
        owner_id=owner_id,
        enabled=True,
        created_at=now,
        updated_at=now,
        version=1,
    )
    ctx.session.add(channel)
    ctx.session.flush()
    ctx.record("notification.channel.created", "notification_channel", channel.id, after=_snap(channel))
    return channel


def update_channel(ctx: Ctx, channel_id: int, data: ChannelUpdate) -> NotificationChannel:
    ctx.require("notifications:own")
    channel = get_channel(ctx, channel_id, for_write=True)
    if data.version != channel.version:
        raise StaleVersion(f"channel {channel_id}", data.version, channel.version)
    before = _snap(channel)
    if data.target is not None:
        _validate_target(ctx, channel.kind, data.target)
        channel.target = data.target
    if data.name is not None:
        channel.name = data.name
    if data.enabled is not None:
        channel.enabled = data.enabled
    if data.rotate_secret:
        if channel.kind != "webhook":
            raise ValidationFailed("rotate_secret: only webhook channels have a signing secret")
        channel.secret = secrets.token_urlsafe(32)
    channel.version += 1
    channel.updated_at = ctx.now()
    ctx.session.flush()
    reason = "signing secret rotated" if data.rotate_secret else None
    ctx.record("notification.channel.updated", "notification_channel", channel.id, before, _snap(channel), reason)
    return channel


def delete_channel(ctx: Ctx, channel_id: int) -> None:
    ctx.require("notifications:own")
    channel = get_channel(ctx, channel_id, for_write=True)
    before = _snap(channel)
    for sub in ctx.session.scalars(
        select(NotificationSubscription).where(NotificationSubscription.channel_id == channel.id)
    ):
        ctx.session.delete(sub)
    channel.enabled = False  # outbox rows and their delivery log stay; the channel is retired, not erased
    channel.name = f"{channel.name} (deleted {channel.id})"[:100]
    channel.version += 1
    channel.updated_at = ctx.now()
    ctx.session.flush()
    ctx.record("notification.channel.deleted", "notification_channel", channel.id, before=before)


def list_channels(ctx: Ctx) -> list[ChannelRead]:
    ctx.require("notifications:own")
    stmt = select(NotificationChannel).where(~NotificationChannel.name.like("% (deleted %)"))
    if ctx.principal.can("notifications:manage"):
        stmt = stmt.where(
            or_(NotificationChannel.owner_id.is_(None), NotificationChannel.owner_id == ctx.principal.user_id)
        )
    else:
        stmt = stmt.where(NotificationChannel.owner_id == ctx.principal.user_id)
    return [channel_read(ctx.session, c) for c in ctx.session.scalars(stmt.order_by(NotificationChannel.id))]


# ----------------------------------------------------------------------------- subscriptions


def _sub_read(session: Session, sub: NotificationSubscription) -> SubscriptionRead:
    channel = session.get(NotificationChannel, sub.channel_id)
    user = session.get(User, sub.user_id) if sub.user_id else None
    return SubscriptionRead(
        id=sub.id,
        user=user.username if user else None,
        event_type=sub.event_type,
        channel_id=sub.channel_id,
        channel=channel.name if channel else "?",
        created_at=sub.created_at,
    )


def subscribe(ctx: Ctx, data: SubscriptionCreate) -> SubscriptionRead:
    ctx.require("notifications:own")
    if not valid_event_pattern(data.event_type):
        raise ValidationFailed(
            f"event_type {data.event_type!r} is not an event type or pattern; use one of "
            f"{', '.join(sorted(EVENT_TYPES))}, a prefix such as 'incident.*', or '*'",
            errors=[{"loc": ["event_type"], "msg": "unknown event type pattern"}],
        )
    if data.organisation:
        ctx.require("notifications:manage")
    elif ctx.principal.user_id is None:
        raise ValidationFailed("only a user has personal subscriptions; pass organisation=true")
    channel = get_channel(ctx, data.channel_id)
    user_id = None if data.organisation else ctx.principal.user_id
    if user_id is not None and channel.owner_id not in (None, user_id):
        raise PermissionDenied("you can only subscribe on your own channels or organisation channels")
    if user_id is None and channel.owner_id is not None:
        raise ValidationFailed("an organisation subscription needs an organisation channel")
    dup = ctx.session.execute(
        select(NotificationSubscription.id).where(
            NotificationSubscription.event_type == data.event_type,
            NotificationSubscription.channel_id == channel.id,
            NotificationSubscription.user_id.is_(None)
            if user_id is None
            else NotificationSubscription.user_id == user_id,
        )
    ).first()
    if dup:
        raise Conflict(f"already subscribed to '{data.event_type}' on channel '{channel.name}'")
    sub = NotificationSubscription(
        user_id=user_id, event_type=data.event_type, channel_id=channel.id, created_at=ctx.now()
    )
    ctx.session.add(sub)
    ctx.session.flush()
    ctx.record("notification.subscribed", "notification_subscription", sub.id, after=snapshot(sub))
    return _sub_read(ctx.session, sub)


def unsubscribe(ctx: Ctx, subscription_id: int) -> None:
    ctx.require("notifications:own")
    sub = ctx.session.get(NotificationSubscription, subscription_id)
    mine = sub is not None and (
        sub.user_id == ctx.principal.user_id or (sub.user_id is None and ctx.principal.can("notifications:manage"))
    )
    if sub is None or not mine:
        raise NotFound(f"no subscription {subscription_id} of yours", entity="subscription")
    before = snapshot(sub)
    ctx.session.delete(sub)
    ctx.session.flush()
    ctx.record("notification.unsubscribed", "notification_subscription", subscription_id, before=before)


def list_subscriptions(ctx: Ctx) -> list[SubscriptionRead]:
    ctx.require("notifications:own")
    cond = NotificationSubscription.user_id == ctx.principal.user_id
    if ctx.principal.can("notifications:manage"):
        cond = or_(cond, NotificationSubscription.user_id.is_(None))
    subs = ctx.session.scalars(select(NotificationSubscription).where(cond).order_by(NotificationSubscription.id))
    return [_sub_read(ctx.session, s) for s in subs]


def test_channel(ctx: Ctx, channel_id: int) -> Notification:
    """Queue a test message straight to one channel (delivered by the next sweep or deliver_pending)."""
    ctx.require("notifications:own")
    channel = get_channel(ctx, channel_id, for_write=True)
    if not channel.enabled:
        raise Conflict(f"channel '{channel.name}' is disabled; enable it first")
    now = ctx.now()
    note = Notification(
        user_id=channel.owner_id,
        event_type="notification.test",
        subject=f"Charter test message for channel '{channel.name}'",
        body=f"Sent by {ctx.principal.name}. If you read this, the channel works.",
        payload={},
        created_at=now,
    )
    ctx.session.add(note)
    ctx.session.flush()
    ctx.session.add(
        OutboxMessage(
            notification_id=note.id,
            channel_id=channel.id,
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )
    ctx.session.flush()
    return note
