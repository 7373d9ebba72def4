"""Notifications over HTTP: your inbox, your channels and subscriptions; organisation channels and the
delivery log for notifications:manage."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from charter.access.deps import CtxDep
from charter.kit.routing import API
from charter.notifications import delivery, inbox, service
from charter.notifications.rules import EVENT_TYPES
from charter.notifications.schemas import (
    ChannelCreate,
    ChannelRead,
    ChannelUpdate,
    DeliveryReport,
    NotificationRead,
    OutboxRead,
    SubscriptionCreate,
    SubscriptionRead,
)

router = APIRouter(prefix=f"{API}/notifications", tags=["notifications"])


@router.get("", summary="Your notifications, newest first")
def list_notifications(
    ctx: CtxDep, unread: bool = False, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> list[NotificationRead]:
    return inbox.inbox(ctx, unread=unread, limit=limit)


@router.get("/event-types", summary="Event types you can subscribe to")
def event_types(ctx: CtxDep) -> dict[str, str]:
    ctx.require("notifications:own")
    return EVENT_TYPES


@router.post("/{notification_id}/read", summary="Mark one of your notifications read")
def mark_read(notification_id: int, ctx: CtxDep) -> NotificationRead:
    out = inbox.mark_read(ctx, notification_id)
    ctx.commit()
    return out


@router.get("/channels", summary="Your channels (and the organisation's, with notifications:manage)")
def list_channels(ctx: CtxDep) -> list[ChannelRead]:
    return service.list_channels(ctx)


@router.post("/channels", status_code=201, summary="Add a channel: an Apprise URL or a signed webhook")
def create_channel(body: ChannelCreate, ctx: CtxDep) -> ChannelRead:
    channel = service.create_channel(ctx, body)
    ctx.commit()
    return service.channel_read(ctx.session, channel, show_secret=True)


@router.patch("/channels/{channel_id}", summary="Change a channel (send the version you read)")
def update_channel(channel_id: int, body: ChannelUpdate, ctx: CtxDep) -> ChannelRead:
    channel = service.update_channel(ctx, channel_id, body)
    ctx.commit()
    return service.channel_read(ctx.session, channel, show_secret=body.rotate_secret)


@router.delete("/channels/{channel_id}", status_code=204, summary="Retire a channel and its subscriptions")
def delete_channel(channel_id: int, ctx: CtxDep) -> Response:
    service.delete_channel(ctx, channel_id)
    ctx.commit()
    return Response(status_code=204)


@router.post("/channels/{channel_id}/test", status_code=202, summary="Queue a test message to a channel")
def test_channel(channel_id: int, ctx: CtxDep) -> dict[str, int | str]:
    note = service.test_channel(ctx, channel_id)
    ctx.commit()
    return {"notification_id": note.id, "status": "queued"}


@router.get("/subscriptions", summary="Your subscriptions (event type → channel)")
def list_subscriptions(ctx: CtxDep) -> list[SubscriptionRead]:
    return service.list_subscriptions(ctx)


@router.post("/subscriptions", status_code=201, summary="Receive an event type on a channel")
def subscribe(body: SubscriptionCreate, ctx: CtxDep) -> SubscriptionRead:
    out = service.subscribe(ctx, body)
    ctx.commit()
    return out


@router.delete("/subscriptions/{subscription_id}", status_code=204, summary="Stop a subscription")
def unsubscribe(subscription_id: int, ctx: CtxDep) -> Response:
    service.unsubscribe(ctx, subscription_id)
    ctx.commit()
    return Response(status_code=204)


@router.get("/outbox", summary="The delivery log: queued messages and every attempt (notifications:manage)")
def list_outbox(
    ctx: CtxDep,
    status: Literal["pending", "delivered", "failed"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[OutboxRead]:
    return delivery.list_outbox(ctx, status=status, limit=limit)


@router.post("/deliver", summary="Deliver due messages now instead of waiting for the sweeper")
def deliver(ctx: CtxDep) -> DeliveryReport:
    report = delivery.deliver_pending(ctx)
    ctx.commit()
    return report
