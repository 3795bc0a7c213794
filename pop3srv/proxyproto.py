"""The PROXY protocol (HAProxy, AWS NLB), versions 1 and 2, sans-I/O: bytes in, one header out.

A balancer that speaks it sends one header before the client's first byte, naming the client's
real address. ``ProxyHeaderParser.feed`` takes the bytes as they arrive (a header may be split
across reads) and returns ``None`` until the header is complete, then a ``ProxyHeader`` with
the bytes that followed it (``rest``, e.g. a TLS ClientHello sent in the same segment). Anything
that is not a well-formed header, or one longer than the limits below, raises
``ProxyHeaderError`` with a short reason safe to log.

Specification: https://www.haproxy.org/download/3.0/doc/proxy-protocol.txt. Only stream
transports over IPv4/IPv6 carry an address; ``UNKNOWN`` (v1), ``LOCAL`` (v2, health checks) and
other families keep the connection's own address (``source`` None). v2 TLVs are skipped.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

from pop3srv.netaddr import hostport

V1_PREFIX = b"PROXY "
#: the spec's bound: 107 bytes including CRLF
V1_MAX_LENGTH = 107
V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
V2_FIXED = 16
#: address block + TLVs; AWS NLB and HAProxy send a few hundred bytes at most
V2_MAX_PAYLOAD = 1536

_V2_LOCAL, _V2_PROXY = 0x0, 0x1
_V2_TCP4, _V2_TCP6 = 0x11, 0x21


class ProxyHeaderError(Exception):
    """Not a valid PROXY protocol header; the message says why (no client data in it)."""


@dataclass(frozen=True)
class ProxyHeader:
    """A complete header. ``source`` is the client (``None``: keep the socket's peer)."""

    version: int
    command: str  # "PROXY", "LOCAL" (v2) or "UNKNOWN" (v1)
    source: tuple[str, int] | None = None
    destination: tuple[str, int] | None = None
    rest: bytes = b""

    @property
    def peer(self) -> str | None:
        """The client as a ``host:port`` / ``[v6]:port`` peer, or None."""
        if self.source is None:
            return None
        host, port = self.source
        return hostport(host, port)


class ProxyHeaderParser:
    """Collects bytes until one header is complete; feed it the first reads of a connection."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> ProxyHeader | None:
        """Add received bytes; the header once complete, else None (more is needed)."""
        self._buffer += data
        buffer = bytes(self._buffer)
        if _is_prefix(buffer, V2_SIGNATURE):
            return _parse_v2(buffer)
        if _is_prefix(buffer, V1_PREFIX):
            return _parse_v1(buffer)
        raise ProxyHeaderError("no PROXY protocol header")

    def eof(self) -> None:
        """The peer closed before a header was complete."""
        raise ProxyHeaderError("connection closed inside the PROXY protocol header")


def _is_prefix(buffer: bytes, signature: bytes) -> bool:
    """Whether the buffer so far agrees with ``signature`` (it may still be shorter)."""
    common = min(len(buffer), len(signature))
    return buffer[:common] == signature[:common]


def _parse_v1(buffer: bytes) -> ProxyHeader | None:
    end = buffer.find(b"\r\n", 0, V1_MAX_LENGTH)
    if end < 0:
        if len(buffer) >= V1_MAX_LENGTH:
            raise ProxyHeaderError("PROXY v1 header longer than 107 bytes")
        if b"\n" in buffer or b"\r" in buffer[:-1]:
            raise ProxyHeaderError("PROXY v1 header not ended by CRLF")
        return None
    try:
        line = buffer[:end].decode("ascii")
    except UnicodeDecodeError:
        raise ProxyHeaderError("PROXY v1 header is not ASCII") from None
    rest = buffer[end + 2 :]
    parts = line.split(" ")
    if len(parts) >= 2 and parts[1] == "UNKNOWN":
        return ProxyHeader(1, "UNKNOWN", rest=rest)
    if len(parts) != 6 or parts[1] not in ("TCP4", "TCP6"):
        raise ProxyHeaderError("malformed PROXY v1 header")
    version = 4 if parts[1] == "TCP4" else 6
    source = (_v1_address(parts[2], version), _v1_port(parts[4]))
    destination = (_v1_address(parts[3], version), _v1_port(parts[5]))
    return ProxyHeader(1, "PROXY", source, destination, rest)


def _v1_address(text: str, version: int) -> str:
    if "%" in text:  # an IPv6 zone names an interface of the balancer's host, never a client
        raise ProxyHeaderError("malformed address in PROXY v1 header (zone id)")
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise ProxyHeaderError("malformed address in PROXY v1 header") from None
    if address.version != version:
        raise ProxyHeaderError("address family does not match in PROXY v1 header")
    return str(address)


def _v1_port(text: str) -> int:
    if not text.isdigit() or not text.isascii() or (len(text) > 1 and text[0] == "0"):
        raise ProxyHeaderError("malformed port in PROXY v1 header")
    port = int(text)
    if port > 65535:
        raise ProxyHeaderError("port out of range in PROXY v1 header")
    return port


def _parse_v2(buffer: bytes) -> ProxyHeader | None:
    if len(buffer) < V2_FIXED:
        return None
    version_command, family, length = struct.unpack("!BBH", buffer[12:V2_FIXED])
    if version_command >> 4 != 2:
        raise ProxyHeaderError("unsupported PROXY protocol version")
    command = version_command & 0x0F
    if command not in (_V2_LOCAL, _V2_PROXY):
        raise ProxyHeaderError("unknown PROXY v2 command")
    if length > V2_MAX_PAYLOAD:
        raise ProxyHeaderError(f"PROXY v2 header longer than {V2_MAX_PAYLOAD} bytes")
    if len(buffer) < V2_FIXED + length:
        return None
    payload = buffer[V2_FIXED : V2_FIXED + length]
    rest = buffer[V2_FIXED + length :]
    if command == _V2_LOCAL:
        return ProxyHeader(2, "LOCAL", rest=rest)
    if family == _V2_TCP4:
        source, destination = _v2_addresses(payload, 4, 4)
    elif family == _V2_TCP6:
        source, destination = _v2_addresses(payload, 16, 6)
    else:  # UDP, unix sockets, unspecified: the connection's own address stands
        return ProxyHeader(2, "PROXY", rest=rest)
    return ProxyHeader(2, "PROXY", source, destination, rest)


def _v2_addresses(
    payload: bytes, size: int, version: int
) -> tuple[tuple[str, int], tuple[str, int]]:
    if len(payload) < 2 * size + 4:
        raise ProxyHeaderError("PROXY v2 address block too short")
    make = ipaddress.IPv4Address if version == 4 else ipaddress.IPv6Address
    source = str(make(payload[:size]))
    destination = str(make(payload[size : 2 * size]))
    source_port, destination_port = struct.unpack("!HH", payload[2 * size : 2 * size + 4])
    return (source, source_port), (destination, destination_port)
