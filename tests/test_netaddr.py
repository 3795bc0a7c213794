"""Peer addresses as the transport, penalties and logs read them."""

from __future__ import annotations

import pytest

from pop3srv.netaddr import client_network, host_of


@pytest.mark.parametrize(
    ("peer", "address"),
    [("127.0.0.1:5", "127.0.0.1"), ("[::1]:5", "::1"), ("memory", "memory")],
)
def test_host_of(peer: str, address: str) -> None:
    assert host_of(peer) == address


@pytest.mark.parametrize(
    ("host", "prefix", "network"),
    [
        ("192.0.2.1", 64, None),
        ("::ffff:192.0.2.1", 64, None),  # IPv4-mapped: counted as the IPv4 address
        ("64:ff9b::c000:201", 64, None),  # NAT64: likewise
        ("2001:db8:1:2::3", 0, None),
        ("2001:db8:1:2::3", 48, None),  # the group is the network already
        ("2001:db8:1:2::3", 49, "2001:db8:1::/48"),
        ("2001:db8:1:2::3", 64, "2001:db8:1::/48"),
        ("2001:db8:1:2::3", 128, "2001:db8:1::/48"),
        ("[2001:db8:1:2::3]", 64, "2001:db8:1::/48"),
        ("2001:db8:1:2::/64", 64, "2001:db8:1::/48"),  # a key from the penalty table
        ("memory", 64, None),
        ("unix:/run/pop3", 64, None),  # before: itself, so counted twice under one key
    ],
)
def test_client_network(host: str, prefix: int, network: str | None) -> None:
    assert client_network(host, prefix) == network
