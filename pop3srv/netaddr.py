"""Loopback detection for host names, addresses and ``host:port`` peers (one rule for the
listeners, the admin app and the configuration checks), and URLs as logs may show them."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import SplitResult, urlsplit


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


def hostport(host: str, port: int) -> str:
    """``host:port``, or ``[v6]:port`` for an IPv6 host: a peer as ``host_of`` reads it."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def is_loopback_peer(peer: str) -> bool:
    """Whether a ``host:port`` peer is loopback; in-memory test streams (``memory``) are."""
    return peer == "memory" or is_loopback_host(host_of(peer))


#: IPv4 clients translated to IPv6 (RFC 6052), e.g. by SIIT-DC in front of an IPv6-only server
NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")


def client_group(host: str, ipv6_prefix_length: int = 64) -> str:
    """The key a client address is counted under for penalties and per-address caps: an IPv6
    address stands for its whole ``/ipv6_prefix_length`` network (a host usually owns a /64 and
    can pick any address in it); IPv4 (also IPv4-mapped, and translated into the NAT64
    well-known prefix) and non-addresses are kept as they are."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        if address in NAT64_WELL_KNOWN:  # an IPv4 client translated (RFC 6052): count that
            return str(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        prefix = max(0, min(128, ipv6_prefix_length))
        return str(ipaddress.IPv6Network((address, prefix), strict=False))
    return str(address)


#: an IPv6 client is also counted in this network (a site's allocation: 65,536 /64s, free from
#: tunnel brokers) when ``ipv6-prefix-length`` is longer
NETWORK_PREFIX = 48
#: a network's free failures, parallel attempts and connections, in multiples of an address's
NETWORK_SHARE = 8


def client_network(host: str, ipv6_prefix_length: int = 64) -> str | None:
    """The wider network an IPv6 client (``client_group``) is also counted in: its
    ``/NETWORK_PREFIX``; None for IPv4 (also mapped or translated), non-addresses, and when
    ``ipv6_prefix_length`` is not longer than ``NETWORK_PREFIX``."""
    if ipv6_prefix_length <= NETWORK_PREFIX:
        return None
    try:  # a non-address keeps its own text as its group: it has no network (not itself)
        group = ipaddress.IPv6Network(client_group(host, ipv6_prefix_length), strict=False)
    except ValueError:
        return None
    return str(group.supernet(new_prefix=NETWORK_PREFIX))


def safe_url(url: str) -> str:
    """The URL for logs and messages: a password is replaced by ``***`` (user-info without a
    password entirely) and the query and fragment (where API keys tend to live) by ``?***``."""
    try:
        parts = urlsplit(url)
        user = parts.username or ""
        has_password = parts.password is not None
    except ValueError:  # unparsable: hide whatever precedes an "@" and follows a "?"
        shown = "***@" + url.rpartition("@")[2] if "@" in url else url
        return shown.split("?")[0].split("#")[0] + ("?***" if "?" in url or "#" in url else "")
    host = parts.netloc.rpartition("@")[2]
    if has_password:
        netloc = f"{user}:***@{host}"
    elif "@" in parts.netloc:  # user-info alone is often a token (https://TOKEN@host/)
        netloc = f"***@{host}"
    else:
        netloc = parts.netloc
    hidden = "***" if parts.query or parts.fragment else ""
    return SplitResult(parts.scheme, netloc, parts.path, hidden, "").geturl()


#: a URL's user-info in free text: scheme, "//", then up to the "@" before the host
_USER_INFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)[^\s/?#\"']*@")


def redact_urls(text: str) -> str:
    """``text`` (a library's error message) with the user-info of every URL in it replaced by
    ``***``: botocore and httpx quote a request's URL whole, password included."""
    return _USER_INFO.sub(r"\g<scheme>***@", text)
