from __future__ import annotations

from tests.notifications.receiver import Receiver


def test_a_user_adds_a_webhook_sees_the_secret_once_and_subscribes(client_for, receiver: Receiver) -> None:
    c = client_for("engineer")
    r = c.post("/api/v1/notifications/channels", json={"name": "pager", "kind": "webhook", "target": receiver.url})
    assert r.status_code == 201, r.text
    channel = r.json()
    assert channel["secret"] and channel["owner"] == "engineer"
    listed = c.get("/api/v1/notifications/channels").json()
    assert [ch["name"] for ch in listed] == ["pager"] and listed[0]["secret"] is None
    r = c.post("/api/v1/notifications/subscriptions", json={"event_type": "incident.*", "channel_id": channel["id"]})
    assert r.status_code == 201, r.text
    assert c.get("/api/v1/notifications/subscriptions").json()[0]["event_type"] == "incident.*"


def test_a_test_message_reaches_the_channel_after_deliver(client_for, receiver: Receiver) -> None:
    eng = client_for("engineer")
    channel = eng.post(
        "/api/v1/notifications/channels", json={"name": "pager", "kind": "webhook", "target": receiver.url}
    ).json()
    assert eng.post(f"/api/v1/notifications/channels/{channel['id']}/test").status_code == 202
    assert eng.post("/api/v1/notifications/deliver").status_code == 403  # delivering everything is for managers
    report = client_for("admin").post("/api/v1/notifications/deliver").json()
    assert report["delivered"] == 1
    assert receiver.received[0].json()["event"] == "notification.test"
    log = client_for("admin").get("/api/v1/notifications/outbox").json()
    assert log[0]["deliveries"][0]["status_code"] == 200


def test_bad_input_is_answered_with_what_is_allowed(client_for) -> None:
    c = client_for("engineer")
    r = c.post("/api/v1/notifications/channels", json={"name": "x", "kind": "sms", "target": "https://x"})
    assert r.status_code == 422 and "kind" in r.json()["detail"]
    r = c.post("/api/v1/notifications/channels", json={"name": "x", "kind": "webhook", "target": "gopher://x"})
    assert r.status_code == 422 and "http:// or https://" in r.json()["detail"]
    r = c.post(
        "/api/v1/notifications/channels",
        json={"name": "o", "kind": "webhook", "target": "https://x", "organisation": True},
    )
    assert r.status_code == 403 and "notifications:manage" in r.json()["detail"]
    r = c.post("/api/v1/notifications/subscriptions", json={"event_type": "incident.opened", "channel_id": 999})
    assert r.status_code == 404


def test_the_inbox_shows_only_your_notifications(client_for, actors) -> None:
    from charter.notifications.service import notify

    notify(actors.ctx(), "incident.opened", recipients=[actors.users["engineer"].id], subject="for engineer")
    actors.session.commit()
    eng = client_for("engineer")
    inbox = eng.get("/api/v1/notifications").json()
    assert [n["subject"] for n in inbox] == ["for engineer"]
    assert client_for("approver").get("/api/v1/notifications").json() == []
    assert client_for("approver").post(f"/api/v1/notifications/{inbox[0]['id']}/read").status_code == 404
    read = eng.post(f"/api/v1/notifications/{inbox[0]['id']}/read").json()
    assert read["read_at"] is not None
    assert eng.get("/api/v1/notifications", params={"unread": "true"}).json() == []
