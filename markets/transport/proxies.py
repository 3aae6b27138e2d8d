"""The client's address: the peer's, or, behind a trusted proxy (TRUSTED_PROXIES), the nearest untrusted hop
of X-Forwarded-For. Rate limits and the socket counts key on it."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from starlette.requests import HTTPConnection

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(entries: Sequence[str]) -> list[Network]:
    """TRUSTED_PROXIES entries (addresses or CIDR networks); ValueError names a bad one."""
    return [ipaddress.ip_network(entry, strict=False) for entry in entries]


def client_address(connection: HTTPConnection, networks: Sequence[Network]) -> str:
    """The peer's address, or the nearest untrusted hop of X-Forwarded-For when the peer is a trusted proxy."""
    peer = connection.client.host if connection.client else "unknown"
    if not networks or not is_trusted(peer, networks):
        return peer
    hops = [h.strip() for h in connection.headers.get("x-forwarded-for", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if not is_trusted(hop, networks):
            return hop
    return hops[0] if hops else peer


def is_trusted(address: str, networks: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)
