"""PROXY protocol headers as HAProxy and AWS NLB send them, built for tests."""

from __future__ import annotations

import ipaddress
import struct

from pop3srv.proxyproto import V2_SIGNATURE


def v1(source: tuple[str, int], destination: tuple[str, int] = ("127.0.0.1", 2110)) -> bytes:
    family = "TCP6" if ":" in source[0] else "TCP4"
    line = f"PROXY {family} {source[0]} {destination[0]} {source[1]} {destination[1]}\r\n"
    return line.encode()


def v2(
    source: tuple[str, int] | None,
    destination: tuple[str, int] = ("127.0.0.1", 2110),
    *,
    tlvs: bytes = b"",
    command: int = 0x1,
) -> bytes:
    """A v2 header; ``source`` None makes a LOCAL one (a health check)."""
    if source is None:
        return V2_SIGNATURE + struct.pack("!BBH", 0x20, 0x00, len(tlvs)) + tlvs
    src, dst = ipaddress.ip_address(source[0]), ipaddress.ip_address(destination[0])
    family = 0x11 if src.version == 4 else 0x21
    block = src.packed + dst.packed + struct.pack("!HH", source[1], destination[1])
    payload = block + tlvs
    return V2_SIGNATURE + struct.pack("!BBH", 0x20 | command, family, len(payload)) + payload


def tlv(kind: int, value: bytes) -> bytes:
    return struct.pack("!BH", kind, len(value)) + value
