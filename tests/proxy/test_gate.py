"""Who may send PROXY headers, and the stream handed on after one (memory streams)."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from pop3srv.proxied import PrefixedStream, ProxyConfigError, ProxyGate, ProxyRefused
from tests.proxy.headers import v2


@pytest.mark.parametrize(
    ("peer", "trusted"),
    [
        ("10.1.2.3:5", True),
        ("[::ffff:10.1.2.3]:5", True),  # an IPv4 balancer on a dual-stack socket
        ("[fd00::7]:5", True),
        ("11.0.0.1:5", False),
        ("[fd01::7]:5", False),
        ("memory", False),
    ],
)
def test_trusted_sources(peer: str, trusted: bool) -> None:
    assert ProxyGate(["10.0.0.0/8", "fd00::/16"]).is_trusted(peer) is trusted


def test_a_bad_cidr_is_a_configuration_error() -> None:
    with pytest.raises(ProxyConfigError, match="not an address or CIDR"):
        ProxyGate(["10.0.0.0/33"])


async def test_bytes_after_the_header_come_first_from_the_stream() -> None:
    client, server = trio.testing.memory_stream_pair()
    await client.send_all(v2(("192.0.2.1", 7)) + b"CAPA\r\n")
    stream, peer = await ProxyGate(["127.0.0.1"]).accept(
        server, "127.0.0.1:9", trio.current_time() + 5
    )
    assert peer == "192.0.2.1:7"
    assert isinstance(stream, PrefixedStream)
    assert await stream.receive_some(2) == b"CA"
    assert await stream.receive_some() == b"PA\r\n"
    await client.send_all(b"NOOP\r\n")
    assert await stream.receive_some() == b"NOOP\r\n"
    await stream.send_all(b"+OK\r\n")
    assert await client.receive_some() == b"+OK\r\n"
    await stream.aclose()


async def test_a_silent_balancer_is_refused_at_the_deadline(
    autojump_clock: trio.testing.MockClock,
) -> None:
    _client, server = trio.testing.memory_stream_pair()
    with pytest.raises(ProxyRefused, match="in time"):
        await ProxyGate(["127.0.0.1"]).accept(server, "127.0.0.1:9", trio.current_time() + 30)


async def test_a_connection_closed_before_any_byte_is_refused_quietly() -> None:
    client, server = trio.testing.memory_stream_pair()
    await client.aclose()
    with pytest.raises(ProxyRefused) as info:
        await ProxyGate(["127.0.0.1"]).accept(server, "127.0.0.1:9", trio.current_time() + 5)
    assert info.value.quiet


async def test_a_connection_closed_inside_the_header_is_not_quiet() -> None:
    client, server = trio.testing.memory_stream_pair()
    await client.send_all(b"PROXY TCP4 ")
    await client.aclose()
    with pytest.raises(ProxyRefused, match="closed inside") as info:
        await ProxyGate(["127.0.0.1"]).accept(server, "127.0.0.1:9", trio.current_time() + 5)
    assert not info.value.quiet
