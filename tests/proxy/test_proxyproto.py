"""The PROXY protocol parser as a table: what each byte string yields, fed whole and split."""

from __future__ import annotations

import pytest

from pop3srv.proxyproto import (
    V2_SIGNATURE,
    ProxyHeader,
    ProxyHeaderError,
    ProxyHeaderParser,
)
from tests.proxy.headers import tlv, v2

DST4 = ("10.0.0.1", 2110)
DST6 = ("2001:db8::1", 2995)

VALID: list[tuple[str, bytes, ProxyHeader]] = [
    (
        "v1 tcp4",
        b"PROXY TCP4 192.0.2.7 10.0.0.1 40000 2110\r\n",
        ProxyHeader(1, "PROXY", ("192.0.2.7", 40000), DST4),
    ),
    (
        "v1 tcp6",
        b"PROXY TCP6 2001:db8::7 2001:db8::1 40000 2995\r\n",
        ProxyHeader(1, "PROXY", ("2001:db8::7", 40000), DST6),
    ),
    ("v1 unknown", b"PROXY UNKNOWN\r\n", ProxyHeader(1, "UNKNOWN")),
    (
        "v1 unknown with addresses",
        b"PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n",
        ProxyHeader(1, "UNKNOWN"),
    ),
    (
        "v1 longest",
        b"PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
        b"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n",
        ProxyHeader(
            1,
            "PROXY",
            ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535),
            ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535),
        ),
    ),
    (
        "v2 tcp4",
        v2(("192.0.2.7", 40000), DST4),
        ProxyHeader(2, "PROXY", ("192.0.2.7", 40000), DST4),
    ),
    (
        "v2 tcp6",
        v2(("2001:db8::7", 40000), DST6),
        ProxyHeader(2, "PROXY", ("2001:db8::7", 40000), DST6),
    ),
    (
        "v2 tcp4 with TLVs (AWS NLB VPC endpoint id, HAProxy unique id)",
        v2(("192.0.2.7", 1), DST4, tlvs=tlv(0xEA, b"\x01vpce-0123456789abcdef") + tlv(0x05, b"u")),
        ProxyHeader(2, "PROXY", ("192.0.2.7", 1), DST4),
    ),
    ("v2 local (health check)", v2(None), ProxyHeader(2, "LOCAL")),
    ("v2 local with TLVs", v2(None, tlvs=tlv(0x04, b"")), ProxyHeader(2, "LOCAL")),
    (
        "v2 unspecified family",
        V2_SIGNATURE + b"\x21\x00\x00\x00",
        ProxyHeader(2, "PROXY"),
    ),
    (
        "v2 unix stream",
        V2_SIGNATURE + b"\x21\x31\x00\xd8" + bytes(216),
        ProxyHeader(2, "PROXY"),
    ),
]

INVALID: list[tuple[str, bytes, str]] = [
    ("garbage", b"USER alice\r\n", "no PROXY protocol header"),
    ("tls hello", b"\x16\x03\x01\x02\x00\x01", "no PROXY protocol header"),
    ("lowercase", b"proxy TCP4 1.2.3.4 1.2.3.4 1 2\r\n", "no PROXY protocol header"),
    ("v1 bad family", b"PROXY UDP4 1.2.3.4 1.2.3.4 1 2\r\n", "malformed"),
    ("v1 missing port", b"PROXY TCP4 1.2.3.4 1.2.3.4 1\r\n", "malformed"),
    ("v1 extra field", b"PROXY TCP4 1.2.3.4 1.2.3.4 1 2 3\r\n", "malformed"),
    ("v1 double space", b"PROXY TCP4  1.2.3.4 1.2.3.4 1 2\r\n", "malformed"),
    ("v1 bad address", b"PROXY TCP4 1.2.3.400 1.2.3.4 1 2\r\n", "malformed address"),
    ("v1 host name", b"PROXY TCP4 example.com 1.2.3.4 1 2\r\n", "malformed address"),
    ("v1 v6 address as tcp4", b"PROXY TCP4 ::1 1.2.3.4 1 2\r\n", "family"),
    ("v1 port too big", b"PROXY TCP4 1.2.3.4 1.2.3.4 65536 2\r\n", "out of range"),
    ("v1 port leading zero", b"PROXY TCP4 1.2.3.4 1.2.3.4 01 2\r\n", "malformed port"),
    ("v1 negative port", b"PROXY TCP4 1.2.3.4 1.2.3.4 -1 2\r\n", "malformed port"),
    ("v1 bare LF", b"PROXY TCP4 1.2.3.4 1.2.3.4 1 2\n", "CRLF"),
    ("v1 not ascii", "PROXY TCP4 1.2.3.4 1.2.3.4 1 ²\r\n".encode(), "ASCII"),
    ("v1 oversized", b"PROXY UNKNOWN " + b"x" * 120 + b"\r\n", "longer than 107"),
    ("v2 version 1", V2_SIGNATURE + b"\x11\x11\x00\x0c" + bytes(12), "version"),
    ("v2 unknown command", V2_SIGNATURE + b"\x22\x11\x00\x0c" + bytes(12), "command"),
    ("v2 short address", V2_SIGNATURE + b"\x21\x11\x00\x08" + bytes(8), "too short"),
    ("v2 short v6 address", V2_SIGNATURE + b"\x21\x21\x00\x0c" + bytes(12), "too short"),
    ("v2 oversized", V2_SIGNATURE + b"\x21\x11\xff\xff", "longer than"),
]

TRUNCATED = [
    b"PROXY TCP4 192.0.2.7 10.0.0.1 40000 2110",
    b"PROXY TCP4 192.0.2.7 10.0.0.1 40000 2110\r",
    b"PROX",
    V2_SIGNATURE[:5],
    V2_SIGNATURE + b"\x21\x11",
    v2(("192.0.2.7", 40000))[:-1],
]


@pytest.mark.parametrize(("name", "data", "expected"), VALID, ids=[v[0] for v in VALID])
def test_a_whole_header_parses(name: str, data: bytes, expected: ProxyHeader) -> None:
    assert ProxyHeaderParser().feed(data) == expected


@pytest.mark.parametrize(("name", "data", "expected"), VALID, ids=[v[0] for v in VALID])
def test_a_header_split_into_single_bytes_parses_only_at_its_last_byte(
    name: str, data: bytes, expected: ProxyHeader
) -> None:
    parser = ProxyHeaderParser()
    results = [parser.feed(data[i : i + 1]) for i in range(len(data))]
    assert results[:-1] == [None] * (len(data) - 1)
    assert results[-1] == expected


@pytest.mark.parametrize(("name", "data", "expected"), VALID, ids=[v[0] for v in VALID])
def test_bytes_after_the_header_are_handed_back(
    name: str, data: bytes, expected: ProxyHeader
) -> None:
    parser = ProxyHeaderParser()
    assert parser.feed(data[:3]) is None
    header = parser.feed(data[3:] + b"\x16\x03\x01 hello")
    assert header is not None
    assert header.rest == b"\x16\x03\x01 hello"


@pytest.mark.parametrize(("name", "data", "reason"), INVALID, ids=[v[0] for v in INVALID])
def test_a_bad_header_is_refused_with_a_reason(name: str, data: bytes, reason: str) -> None:
    with pytest.raises(ProxyHeaderError, match=reason):
        ProxyHeaderParser().feed(data)


@pytest.mark.parametrize(("name", "data", "reason"), INVALID, ids=[v[0] for v in INVALID])
def test_a_bad_header_is_refused_when_it_arrives_byte_by_byte(
    name: str, data: bytes, reason: str
) -> None:
    parser = ProxyHeaderParser()
    with pytest.raises(ProxyHeaderError, match=reason):
        for i in range(len(data)):
            parser.feed(data[i : i + 1])


@pytest.mark.parametrize("data", TRUNCATED)
def test_a_truncated_header_waits_for_more_and_fails_at_eof(data: bytes) -> None:
    parser = ProxyHeaderParser()
    assert parser.feed(data) is None
    with pytest.raises(ProxyHeaderError, match="closed"):
        parser.eof()


def test_an_endless_v1_line_is_refused_at_the_limit_not_buffered() -> None:
    parser = ProxyHeaderParser()
    assert parser.feed(b"PROXY TCP4 ") is None
    with pytest.raises(ProxyHeaderError, match="107"):
        for _ in range(1000):
            parser.feed(b"1")


@pytest.mark.parametrize(
    ("header", "peer"),
    [
        (ProxyHeader(1, "PROXY", ("192.0.2.7", 4), DST4), "192.0.2.7:4"),
        (ProxyHeader(2, "PROXY", ("2001:db8::7", 4), DST6), "[2001:db8::7]:4"),
        (ProxyHeader(2, "LOCAL"), None),
        (ProxyHeader(1, "UNKNOWN"), None),
    ],
)
def test_the_peer_is_written_like_a_socket_peer(header: ProxyHeader, peer: str | None) -> None:
    assert header.peer == peer
