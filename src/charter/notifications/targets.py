"""Where a notification may be sent: no server-side request forgery through a channel target.

A webhook (or an Apprise URL that makes Charter speak HTTP itself: json://, xml://, form://) whose host is,
or resolves to, a loopback, link-local (cloud metadata at 169.254.169.254 included), private, shared,
multicast, reserved or unspecified address is refused, unless the operator's allow-list
(CHARTER_WEBHOOK_ALLOW: comma-separated IP addresses, networks in CIDR form, or host names) names it.

Checked twice: when the channel is saved (resolving the host, every address it resolves to) and when a
message is sent, on the addresses resolved for that very connection; the webhook then connects to the
address that was checked (the Host header and TLS server name stay the host's), so a DNS answer that
changes between the check and the connection (DNS rebinding) cannot reach an address that was refused.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit, urlunsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Cloud metadata services reachable without link-local addressing (AWS IPv6, Alibaba, Oracle legacy).
METADATA: Final = frozenset(
    ipaddress.ip_address(a) for a in ("fd00:ec2::254", "100.100.100.200", "192.0.0.192", "169.254.169.254")
)
ALLOWED_RULE: Final = (
    "only public addresses are allowed; an operator can allow internal receivers with CHARTER_WEBHOOK_ALLOW "
    "(comma-separated addresses, CIDR networks or host names)"
)
# Apprise schemes that make Charter itself send HTTP to the host in the URL.
HTTP_APPRISE_SCHEMES: Final = frozenset({"json", "jsons", "xml", "xmls", "form", "forms"})


class TargetRefused(ValueError):
    """A target whose address is not allowed; the message says which address, why, and what is allowed."""


@dataclass(frozen=True)
class AllowList:
    networks: tuple[IPNetwork, ...] = ()
    hosts: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, text: str) -> AllowList:
        """'10.0.0.0/8, 127.0.0.1, hooks.internal' → networks and host names; ValueError names a bad item."""
        networks: list[IPNetwork] = []
        hosts: set[str] = set()
        for raw in text.split(","):
            item = raw.strip()
            if not item:
                continue
            try:
                networks.append(ipaddress.ip_network(item.strip("[]"), strict=False))
                continue
            except ValueError:
                pass
            name = item.lower().rstrip(".")
            if not name or any(not part or len(part) > 63 for part in name.split(".")) or "/" in name:
                raise ValueError(f"CHARTER_WEBHOOK_ALLOW: {item!r} is neither an IP address, a CIDR network nor a host")
            hosts.add(name)
        return cls(tuple(networks), frozenset(hosts))

    def allows(self, host: str, address: IPAddress) -> bool:
        return host.lower().rstrip(".") in self.hosts or any(address in n for n in self.networks)


def why_internal(address: IPAddress) -> str | None:
    """Why an address is not a public one (None if it is)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return why_internal(address.ipv4_mapped)
    if address in METADATA:
        return "a cloud metadata address"
    for attr, what in (
        ("is_loopback", "a loopback address"),
        ("is_link_local", "a link-local address"),
        ("is_unspecified", "the unspecified address"),
        ("is_multicast", "a multicast address"),
        ("is_private", "a private address"),
        ("is_reserved", "a reserved address"),
    ):
        if getattr(address, attr):
            return what
    if not address.is_global:
        return "not a public address"
    return None


def host_of(url: str) -> tuple[str, int] | None:
    """The host and port an http(s)-style URL connects to, or None if it has no host."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname:
        return None
    secure = parts.scheme in ("https", "jsons", "xmls", "forms")
    return parts.hostname, port or (443 if secure else 80)


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address the host resolves to (a literal address is itself). TargetRefused if it does not resolve."""
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise TargetRefused(f"target: the host {host!r} does not resolve ({exc})") from None
    found: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    return found


def check_addresses(host: str, addresses: list[IPAddress], allow: AllowList) -> None:
    """Refuse if any address is internal and not allowed (a host with one bad address is refused)."""
    for address in addresses:
        why = why_internal(address)
        if why is not None and not allow.allows(host, address):
            shown = host if host == str(address) else f"{host} ({address})"
            raise TargetRefused(f"target: {shown} is {why}; {ALLOWED_RULE}")


def check_url(url: str, allow: AllowList, *, unresolved_ok: bool = False) -> list[IPAddress]:
    """Resolve the URL's host and check every address; the checked addresses are returned.

    unresolved_ok (when a channel is saved): a host that does not resolve yet is accepted, since every send
    resolves and checks again; one that resolves to an internal address is refused at once.
    """
    where = host_of(url)
    if where is None:
        raise TargetRefused(f"target: {url!r} names no host to connect to")
    host, port = where
    try:
        addresses = resolve(host, port)
    except TargetRefused:
        if unresolved_ok:
            return []
        raise
    check_addresses(host, addresses, allow)
    return addresses


def apprise_url_needs_check(url: str) -> bool:
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    return scheme in HTTP_APPRISE_SCHEMES


def pinned(url: str, address: IPAddress) -> tuple[str, str]:
    """The URL with its host replaced by the checked address, and the Host header to send."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    literal = f"[{address}]" if isinstance(address, ipaddress.IPv6Address) else str(address)
    netloc = literal if parts.port is None else f"{literal}:{parts.port}"
    if "@" in parts.netloc:
        netloc = parts.netloc.rsplit("@", 1)[0] + "@" + netloc
    host_header = host if parts.port is None else f"{host}:{parts.port}"
    if ":" in host and not host.startswith("["):
        host_header = f"[{host}]" if parts.port is None else f"[{host}]:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)), host_header
