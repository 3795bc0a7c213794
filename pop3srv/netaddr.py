"""Loopback detection for host names, addresses and ``host:port`` peers (one rule for the
listeners, the admin app and the configuration checks)."""

from __future__ import annotations

import ipaddress


def is_loopback_host(host: str | None) -> bool:
    """``localhost`` (and ``*.localhost``), 127.0.0.0/8, ``::1``, and IPv4-mapped loopback."""
    if not host:
        return False
    name = host.strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def host_of(peer: str) -> str:
    """The host part of a ``host:port`` / ``[v6]:port`` peer."""
    return peer.rsplit(":", 1)[0].strip("[]") if ":" in peer else peer


def is_loopback_peer(peer: str) -> bool:
    """Whether a ``host:port`` peer is loopback; in-memory test streams (``memory``) are."""
    return peer == "memory" or is_loopback_host(host_of(peer))


def client_group(host: str, ipv6_prefix_length: int = 64) -> str:
    """The key a client address is counted under for penalties and per-address caps: an IPv6
    address stands for its whole ``/ipv6_prefix_length`` network (a host usually owns a /64 and
    can pick any address in it); IPv4 (also IPv4-mapped) and non-addresses are kept as they are."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        prefix = max(0, min(128, ipv6_prefix_length))
        return str(ipaddress.IPv6Network((address, prefix), strict=False))
    return str(address)
