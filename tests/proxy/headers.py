"""PROXY protocol headers as HAProxy and AWS NLB send them, and POP3 clients that send them
first, for tests."""

from __future__ import annotations

import contextlib
import ipaddress
import poplib
import socket
import ssl
import struct

from pop3srv.proxyproto import V2_SIGNATURE


def _to(source: tuple[str, int] | None) -> tuple[str, int]:
    """The balancer's own address, of the client's family."""
    return ("::1", 2110) if source is not None and ":" in source[0] else ("127.0.0.1", 2110)


def v1(source: tuple[str, int], destination: tuple[str, int] | None = None) -> bytes:
    family = "TCP6" if ":" in source[0] else "TCP4"
    destination = destination or _to(source)
    line = f"PROXY {family} {source[0]} {destination[0]} {source[1]} {destination[1]}\r\n"
    return line.encode()


def v2(
    source: tuple[str, int] | None,
    destination: tuple[str, int] | None = None,
    *,
    tlvs: bytes = b"",
    command: int = 0x1,
) -> bytes:
    """A v2 header; ``source`` None makes a LOCAL one (a health check)."""
    if source is None:
        return V2_SIGNATURE + struct.pack("!BBH", 0x20, 0x00, len(tlvs)) + tlvs
    destination = destination or _to(source)
    src, dst = ipaddress.ip_address(source[0]), ipaddress.ip_address(destination[0])
    family = 0x11 if src.version == 4 else 0x21
    block = src.packed + dst.packed + struct.pack("!HH", source[1], destination[1])
    payload = block + tlvs
    return V2_SIGNATURE + struct.pack("!BBH", 0x20 | command, family, len(payload)) + payload


def tlv(kind: int, value: bytes) -> bytes:
    return struct.pack("!BH", kind, len(value)) + value


class ProxiedPOP3(poplib.POP3):
    """poplib through a balancer: ``header`` goes out first on the new connection."""

    def __init__(self, host: str, port: int, header: bytes, timeout: float = 30) -> None:
        self._header = header
        super().__init__(host, port, timeout=timeout)

    def _create_socket(self, timeout: float) -> socket.socket:
        sock = socket.create_connection((self.host, self.port), timeout)
        sock.sendall(self._header)
        return sock


class ProxiedPOP3SSL(poplib.POP3_SSL):
    """Implicit TLS through a balancer: the header, then the TLS handshake."""

    def __init__(
        self, host: str, port: int, header: bytes, context: ssl.SSLContext, timeout: float = 30
    ) -> None:
        self._header = header
        self._tls = context
        super().__init__(host, port, context=context, timeout=timeout)

    def _create_socket(self, timeout: float) -> socket.socket:
        sock = socket.create_connection((self.host, self.port), timeout)
        sock.sendall(self._header)
        return self._tls.wrap_socket(sock, server_hostname=self.host)


def tls_greeting_with_header_in_one_segment(
    port: int, header: bytes, context: ssl.SSLContext
) -> bytes:
    """Send the header and the TLS ClientHello in one write (as a balancer may), then read the
    POP3 greeting over TLS."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname="localhost")
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        with contextlib.suppress(ssl.SSLWantReadError):
            tls.do_handshake()
        sock.sendall(header + outgoing.read())
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                if pending := outgoing.read():
                    sock.sendall(pending)
                data = sock.recv(65536)
                assert data, "closed during the handshake"
                incoming.write(data)
        if pending := outgoing.read():
            sock.sendall(pending)
        while True:
            try:
                return tls.read(4096)
            except ssl.SSLWantReadError:
                data = sock.recv(65536)
                assert data, "closed before the greeting"
                incoming.write(data)
