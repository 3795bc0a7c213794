"""Probe 5: IPv4 clients translated into the NAT64 well-known prefix were one client.

Behind stateless IPv4-to-IPv6 translation in front of an IPv6-only server (SIIT-DC, RFC 7755),
every IPv4 client arrives as ``64:ff9b::<its IPv4 address>`` (RFC 6052). Per-address caps and
login penalties grouped IPv6 by /64, so all IPv4 clients of the world shared one key: one
client's wrong passwords delayed everybody's logins, and 50 connections in all
(``max-connections-per-ip``) served every IPv4 user. Addresses of the well-known prefix
``64:ff9b::/96`` are now counted by the IPv4 address they carry, as IPv4-mapped ones already
were (a network-specific translation prefix cannot be known; ``ipv6-prefix-length: 128`` is the
setting for those)."""

from __future__ import annotations

import pytest

from pop3srv.auth.penalty import LoginPenalty
from pop3srv.config import PenaltySettings
from pop3srv.netaddr import client_group


@pytest.mark.parametrize(
    ("host", "group"),
    [
        ("64:ff9b::a00:1", "10.0.0.1"),
        ("64:ff9b::c000:202", "192.0.2.2"),
        ("[64:ff9b::c000:202]", "192.0.2.2"),
        ("::ffff:10.0.0.1", "10.0.0.1"),
        ("2001:db8::1", "2001:db8::/64"),
    ],
)
def test_translated_ipv4_clients_are_told_apart(host: str, group: str) -> None:
    assert client_group(host) == group


async def test_one_translated_client_does_not_delay_another() -> None:
    penalty = LoginPenalty(PenaltySettings(free_failures=2, start=1, maximum=15))
    for _ in range(5):
        penalty.failed("64:ff9b::c000:202", "victim")
    assert penalty.delay("64:ff9b::c000:202") > 0
    assert penalty.delay("64:ff9b::cb00:7105") == 0  # 203.0.113.5
