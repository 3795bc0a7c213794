"""Connections through a load balancer that speaks the PROXY protocol (``proxy-protocol``).

``ProxyGate.accept`` runs first on every connection of a listener with ``proxy-protocol`` on:
a connection whose socket peer is not in ``proxy-trusted`` is refused, with or without a header;
from a trusted balancer the header is read (bounded in time and size, parsed by
``pop3srv.proxyproto``) and the client's real address becomes the connection's peer. Bytes
that came after the header are handed back first by the returned stream, so a TLS ClientHello
sent in the same segment is not lost.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

import trio

from pop3srv.netaddr import host_of
from pop3srv.proxyproto import ProxyHeaderError, ProxyHeaderParser

RECEIVE_SIZE = 4096

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class ProxyConfigError(ValueError):
    """A ``proxy-trusted`` entry is not an address or CIDR."""


class ProxyRefused(Exception):
    """The connection may not go on; the message says why (safe to log). ``quiet``: it closed
    before sending a byte (a port probe or a TCP health check), not worth a log line."""

    def __init__(self, reason: str, *, quiet: bool = False) -> None:
        super().__init__(reason)
        self.quiet = quiet


class PrefixedStream(trio.abc.Stream):
    """A stream that returns ``prefix`` before anything else it receives."""

    def __init__(self, stream: trio.abc.Stream, prefix: bytes) -> None:
        self.transport_stream = stream
        self._prefix = prefix

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        if self._prefix:
            size = len(self._prefix) if max_bytes is None else max_bytes
            data, self._prefix = self._prefix[:size], self._prefix[size:]
            return data
        return bytes(await self.transport_stream.receive_some(max_bytes))

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self.transport_stream.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.transport_stream.wait_send_all_might_not_block()

    async def aclose(self) -> None:
        await self.transport_stream.aclose()


class ProxyGate:
    """Who may send PROXY headers, and reading them."""

    def __init__(self, trusted: Sequence[str]) -> None:
        networks: list[IPNetwork] = []
        for cidr in trusted:
            try:
                networks.append(ipaddress.ip_network(cidr.strip(), strict=False))
            except ValueError:
                raise ProxyConfigError(
                    f"proxy-trusted: {cidr!r} is not an address or CIDR"
                ) from None
        self.trusted = tuple(networks)

    def is_trusted(self, peer: str) -> bool:
        try:
            address = ipaddress.ip_address(host_of(peer))
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self.trusted)

    async def accept(
        self, stream: trio.abc.Stream, peer: str, deadline: float
    ) -> tuple[trio.abc.Stream, str]:
        """The stream to go on with and the client's address; ``ProxyRefused`` if neither."""
        if not self.is_trusted(peer):
            raise ProxyRefused("not a trusted proxy (proxy-trusted)")
        parser = ProxyHeaderParser()
        received = 0
        with trio.move_on_at(deadline):
            while True:
                data = await stream.receive_some(RECEIVE_SIZE)
                if not data and not received:
                    raise ProxyRefused("closed before sending anything", quiet=True)
                received += len(data)
                try:
                    if not data:
                        parser.eof()
                    header = parser.feed(bytes(data))
                except ProxyHeaderError as exc:
                    raise ProxyRefused(str(exc)) from None
                if header is not None:
                    real = header.peer or peer
                    return (PrefixedStream(stream, header.rest) if header.rest else stream), real
        raise ProxyRefused("no complete PROXY protocol header in time")
