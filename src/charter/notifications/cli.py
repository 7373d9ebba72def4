"""`charter notify ...`: your inbox, channels (Apprise URLs, signed webhooks) and subscriptions."""

from __future__ import annotations

import typer

from charter.kit.cli import JsonOpt, client, handle_errors, output

app = typer.Typer(help="Notifications: inbox, channels (Apprise, webhooks), subscriptions.", no_args_is_help=True)
channel_app = typer.Typer(help="Channels: where your notifications go.", no_args_is_help=True)
app.add_typer(channel_app, name="channel")


@app.command("inbox")
@handle_errors
def inbox(unread: bool = typer.Option(False, help="only unread"), as_json: bool = JsonOpt) -> None:
    """Your notifications, newest first."""
    with client() as c:
        rows = c.get("/api/v1/notifications", unread=str(unread).lower(), limit=100)
    output(rows, ("id", "created_at", "event_type", "subject", "read_at"), as_json)


@app.command("read")
@handle_errors
def read(notification_id: int) -> None:
    """Mark a notification read."""
    with client() as c:
        c.post(f"/api/v1/notifications/{notification_id}/read")
    typer.echo(f"notification {notification_id} marked read")


@channel_app.command("add")
@handle_errors
def channel_add(
    name: str,
    kind: str = typer.Option(..., "--kind", help="webhook or apprise"),
    target: str = typer.Option(..., "--url", help="webhook URL, or an Apprise URL (slack://..., mailto://...)"),
    secret: str = typer.Option(None, help="webhook signing secret (default: generated and shown once)"),
    organisation: bool = typer.Option(False, "--org", help="an organisation channel (notifications:manage)"),
    as_json: bool = JsonOpt,
) -> None:
    """Add a channel. A webhook's signing secret is printed once: keep it to verify X-Charter-Signature."""
    body = {"name": name, "kind": kind, "target": target, "secret": secret, "organisation": organisation}
    with client() as c:
        data = c.post("/api/v1/notifications/channels", body)
    if as_json:
        output(data, (), True)
        return
    typer.echo(f"channel {data['id']} '{data['name']}' ({data['kind']}) added")
    if data.get("secret"):
        typer.echo(f"signing secret (shown once): {data['secret']}")


@channel_app.command("list")
@handle_errors
def channel_list(as_json: bool = JsonOpt) -> None:
    """Your channels (and the organisation's, if you manage them)."""
    with client() as c:
        rows = c.get("/api/v1/notifications/channels")
    output(rows, ("id", "name", "kind", "target", "owner", "enabled", "version"), as_json)


@channel_app.command("remove")
@handle_errors
def channel_remove(channel_id: int) -> None:
    """Retire a channel and its subscriptions."""
    with client() as c:
        c.delete(f"/api/v1/notifications/channels/{channel_id}")
    typer.echo(f"channel {channel_id} removed")


@channel_app.command("test")
@handle_errors
def channel_test(channel_id: int) -> None:
    """Queue a test message to a channel (delivered by the next sweep)."""
    with client() as c:
        c.post(f"/api/v1/notifications/channels/{channel_id}/test")
    typer.echo(f"test message queued for channel {channel_id}")


@app.command("subscribe")
@handle_errors
def subscribe(
    event_type: str = typer.Argument(..., help="e.g. incident.escalated, incident.*, or *"),
    channel_id: int = typer.Option(..., "--channel", help="channel id (see 'charter notify channel list')"),
    organisation: bool = typer.Option(False, "--org", help="subscribe the organisation"),
    as_json: bool = JsonOpt,
) -> None:
    """Receive an event type on a channel."""
    body = {"event_type": event_type, "channel_id": channel_id, "organisation": organisation}
    with client() as c:
        output(c.post("/api/v1/notifications/subscriptions", body), ("id", "user", "event_type", "channel"), as_json)


@app.command("unsubscribe")
@handle_errors
def unsubscribe(subscription_id: int) -> None:
    """Stop a subscription."""
    with client() as c:
        c.delete(f"/api/v1/notifications/subscriptions/{subscription_id}")
    typer.echo(f"subscription {subscription_id} removed")


@app.command("subscriptions")
@handle_errors
def subscriptions(as_json: bool = JsonOpt) -> None:
    """Your subscriptions."""
    with client() as c:
        rows = c.get("/api/v1/notifications/subscriptions")
    output(rows, ("id", "user", "event_type", "channel_id", "channel"), as_json)


@app.command("events")
@handle_errors
def events(as_json: bool = JsonOpt) -> None:
    """Event types you can subscribe to."""
    with client() as c:
        data = c.get("/api/v1/notifications/event-types")
    output([{"event_type": k, "meaning": v} for k, v in data.items()], ("event_type", "meaning"), as_json)


@app.command("outbox")
@handle_errors
def outbox(status: str = typer.Option(None, help="pending, delivered or failed"), as_json: bool = JsonOpt) -> None:
    """The delivery log (notifications:manage)."""
    with client() as c:
        rows = c.get("/api/v1/notifications/outbox", status=status)
    output(rows, ("id", "event_type", "recipient", "channel", "status", "attempts", "last_error"), as_json)


@app.command("deliver")
@handle_errors
def deliver(as_json: bool = JsonOpt) -> None:
    """Deliver due messages now (the server's sweeper does this every few seconds)."""
    with client() as c:
        output(c.post("/api/v1/notifications/deliver"), ("attempted", "delivered", "retrying", "failed"), as_json)
