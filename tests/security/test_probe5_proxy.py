"""Probe 5: a PROXY v1 header's IPv6 source may not carry a zone (scope) id.

``ipaddress`` accepts ``fe80::1%<anything but %>``, so ``PROXY TCP6 ::1%<ESC>[31m... ::1 1 2``
became the peer ``[::1%\\x1b[31m...]:1`` as it was: raw into the lines that log the peer with
``%s`` (a lock taken over, a connection that failed) and loopback for the plaintext-login and
default-password rules. A zone names an interface of the balancer's host, never a client; v2
carries 16 bytes, which cannot have one. Only a trusted balancer sends the header, so this is
defence in depth against a broken or compromised one."""

from __future__ import annotations

import pytest

from pop3srv.proxyproto import ProxyHeaderError, ProxyHeaderParser


@pytest.mark.parametrize(
    "source",
    [b"::1%\x1b[31mevil", b"fe80::1%eth0", b"2001:db8::1%1", b"::1%lo"],
)
def test_a_v1_address_with_a_zone_is_refused(source: bytes) -> None:
    with pytest.raises(ProxyHeaderError, match="address"):
        ProxyHeaderParser().feed(b"PROXY TCP6 " + source + b" ::1 1234 110\r\n")


def test_a_zone_in_the_destination_is_refused_too() -> None:
    with pytest.raises(ProxyHeaderError, match="address"):
        ProxyHeaderParser().feed(b"PROXY TCP6 2001:db8::1 fe80::1%eth0 1234 110\r\n")


def test_plain_v6_and_v4_sources_still_parse() -> None:
    header = ProxyHeaderParser().feed(b"PROXY TCP6 2001:db8::1 ::1 1234 110\r\n")
    assert header is not None and header.peer == "[2001:db8::1]:1234"
    header = ProxyHeaderParser().feed(b"PROXY TCP4 192.0.2.1 127.0.0.1 1234 110\r\n")
    assert header is not None and header.peer == "192.0.2.1:1234"
