"""Finding 3 (blind SSRF): channel targets on internal addresses are refused, at save time and at send time."""

from __future__ import annotations

import ipaddress

import pytest
from sqlalchemy import select

from charter.kit.errors import ValidationFailed
from charter.notifications import service
from charter.notifications.delivery import deliver_pending
from charter.notifications.models import OutboxMessage
from charter.notifications.schemas import ChannelCreate, ChannelUpdate, SubscriptionCreate
from charter.notifications.targets import AllowList, pinned, why_internal
from tests.conftest import Actors
from tests.notifications.receiver import Receiver

INTERNAL = [
    "http://127.0.0.1/hook",
    "http://127.1.2.3:8080/",
    "http://[::1]/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00:ec2::254]/",
    "http://10.0.0.7/",
    "http://172.16.3.4/",
    "http://192.168.1.1/",
    "http://100.100.100.200/",
    "http://0.0.0.0:9000/",
    "http://[::ffff:127.0.0.1]/",
    "http://localhost:8000/",
    "https://user:pw@127.0.0.1:8443/x",
]


@pytest.fixture
def strict(actors: Actors) -> Actors:
    """The server as shipped: no allow-list."""
    actors.settings = actors.settings.model_copy(update={"webhook_allow": ""})
    return actors


@pytest.mark.parametrize("url", INTERNAL)
def test_a_viewer_cannot_aim_a_webhook_at_an_internal_address(strict: Actors, url: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        service.create_channel(strict.ctx("viewer"), ChannelCreate(name="x", kind="webhook", target=url))
    assert "CHARTER_WEBHOOK_ALLOW" in str(err.value) and "only public addresses are allowed" in str(err.value)
    assert strict.session.scalars(select(OutboxMessage)).all() == []


@pytest.mark.parametrize("url", ["json://127.0.0.1:8080/hook", "xml://169.254.169.254/", "form://[::1]/"])
def test_apprise_urls_that_speak_http_are_checked_too(strict: Actors, url: str) -> None:
    with pytest.raises(ValidationFailed, match="CHARTER_WEBHOOK_ALLOW"):
        service.create_channel(strict.ctx("engineer"), ChannelCreate(name="a", kind="apprise", target=url))


def test_the_api_answers_422_naming_what_is_allowed(client_for, strict: Actors) -> None:  # type: ignore[no-untyped-def]
    r = client_for("viewer").post(
        "/api/v1/notifications/channels",
        json={"name": "meta", "kind": "webhook", "target": "http://169.254.169.254/latest/meta-data/"},
    )
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "169.254.169.254 is a cloud metadata address" in r.json()["detail"]


def test_moving_a_channel_to_an_internal_address_is_refused(strict: Actors) -> None:
    channel = service.create_channel(
        strict.ctx("engineer"), ChannelCreate(name="ok", kind="webhook", target="http://93.184.216.34/hook")
    )
    with pytest.raises(ValidationFailed, match="loopback"):
        service.update_channel(
            strict.ctx("engineer"),
            channel.id,
            ChannelUpdate(version=channel.version, target="http://127.0.0.1/"),
        )


def test_the_allow_list_admits_the_internal_receiver_it_names(actors: Actors, receiver: Receiver) -> None:
    assert actors.settings.webhook_allow == "127.0.0.1"
    channel = service.create_channel(
        actors.ctx("engineer"), ChannelCreate(name="in", kind="webhook", target=receiver.url + "/in")
    )
    with pytest.raises(ValidationFailed, match="private address"):  # allowed: 127.0.0.1 only
        service.create_channel(
            actors.ctx("engineer"), ChannelCreate(name="p", kind="webhook", target="http://10.1.1.1/")
        )
    assert channel.id


def test_at_send_time_the_address_is_checked_again_and_nothing_is_sent(actors: Actors, receiver: Receiver) -> None:
    """A channel saved while an address was allowed (or a name that now resolves inside) is refused at send."""
    channel = service.create_channel(
        actors.ctx("engineer"), ChannelCreate(name="was-ok", kind="webhook", target=receiver.url)
    )
    service.subscribe(actors.ctx("engineer"), SubscriptionCreate(event_type="*", channel_id=channel.id))
    service.notify(actors.ctx(), "incident.opened", recipients=[actors.users["engineer"].id], subject="x")
    actors.session.commit()
    actors.settings = actors.settings.model_copy(update={"webhook_allow": ""})
    report = deliver_pending(actors.ctx())
    assert (report.attempted, report.delivered) == (1, 0)
    assert receiver.received == []
    outbox = actors.session.scalars(select(OutboxMessage)).one()
    assert outbox.last_error is not None and "loopback" in outbox.last_error


def test_a_host_name_is_sent_to_the_checked_address_with_its_own_host_header(
    actors: Actors, receiver: Receiver
) -> None:
    port = receiver.url.rsplit(":", 1)[1]
    channel = service.create_channel(
        actors.ctx("engineer"), ChannelCreate(name="named", kind="webhook", target=f"http://localhost:{port}/n")
    )
    service.subscribe(actors.ctx("engineer"), SubscriptionCreate(event_type="*", channel_id=channel.id))
    service.notify(actors.ctx(), "incident.opened", recipients=[actors.users["engineer"].id], subject="x")
    actors.session.commit()
    actors.settings = actors.settings.model_copy(update={"webhook_allow": "127.0.0.1,::1"})
    assert deliver_pending(actors.ctx()).delivered == 1
    [got] = receiver.received
    assert got.headers["host"] == f"localhost:{port}"


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "a loopback address"),
        ("169.254.169.254", "a cloud metadata address"),
        ("169.254.10.1", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("10.2.3.4", "a private address"),
        ("fc00::1", "a private address"),
        ("224.0.0.1", "a multicast address"),
        ("0.0.0.0", "the unspecified address"),
        ("::ffff:10.0.0.1", "a private address"),
        ("100.64.0.1", "not a public address"),
        ("93.184.216.34", None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_addresses_are_classified(address: str, why: str | None) -> None:
    assert why_internal(ipaddress.ip_address(address)) == why


def test_the_allow_list_reads_addresses_networks_and_hosts() -> None:
    allow = AllowList.parse(" 10.0.0.0/8, 127.0.0.1 ,hooks.internal., [::1]")
    assert allow.allows("x", ipaddress.ip_address("10.9.9.9"))
    assert allow.allows("HOOKS.internal", ipaddress.ip_address("192.168.0.1"))
    assert allow.allows("y", ipaddress.ip_address("::1"))
    assert not allow.allows("y", ipaddress.ip_address("192.168.0.1"))
    with pytest.raises(ValueError, match="CHARTER_WEBHOOK_ALLOW"):
        AllowList.parse("10.0.0.0/33x")


def test_pinning_keeps_path_port_and_credentials() -> None:
    url, host = pinned("https://u:p@hooks.example.com:8443/a?b=1", ipaddress.ip_address("203.0.113.5"))
    assert (url, host) == ("https://u:p@203.0.113.5:8443/a?b=1", "hooks.example.com:8443")
    url, host = pinned("http://h.example/", ipaddress.ip_address("2001:db8::1"))
    assert (url, host) == ("http://[2001:db8::1]/", "h.example")
