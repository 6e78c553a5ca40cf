"""Which network addresses ``web_fetch`` may reach: public ones only, unless the config allows.

An agent must not become a proxy into the user's machine or network, so a host
is refused when *any* address it resolves to is loopback, private, link-local,
shared (carrier-grade NAT), multicast or otherwise not globally routable. IPv6
forms that carry an IPv4 address (mapped, 6to4, NAT64) are judged by that
IPv4 address.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class RefusedAddress(ValueError):
    """A URL whose host is (or resolves to) an address that is not public."""


def non_public_kind(address: str) -> str | None:
    """Why ``address`` is not public ("loopback", "private", ...), or None when it is."""
    try:
        ip: IPAddress = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return "not an IP address"
    ip = _embedded_ipv4(ip) or ip
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_multicast:
        return "multicast"
    if ip.is_private:
        return "private"
    if not ip.is_global:
        return "not publicly routable"
    return None


async def resolve(host: str) -> list[str]:
    """Every address ``host`` resolves to (an IP literal resolves to itself)."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise RefusedAddress(f"could not resolve {host}: {exc.strerror or exc}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def check_url(url: str) -> None:
    """Raise ``RefusedAddress`` unless ``url`` is http(s) and its host resolves only to public
    addresses."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise RefusedAddress("only http:// and https:// URLs can be fetched")
    host = parts.hostname
    if not host:
        raise RefusedAddress("the URL has no host")
    refuse_non_public(host, await resolve(host.rstrip(".")))


def refuse_non_public(host: str, addresses: list[str]) -> None:
    """Raise ``RefusedAddress`` if any of the addresses ``host`` resolved to is not public."""
    for address in addresses:
        kind = non_public_kind(address)
        if kind is not None:
            raise RefusedAddress(
                f"{host} resolves to {address}, which is {kind}; "
                "this agent may fetch only public addresses"
            )


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None
