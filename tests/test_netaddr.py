"""Peer addresses as the transport, penalties and logs read them."""

from __future__ import annotations

import pytest

from pop3srv.netaddr import host_of


@pytest.mark.parametrize(
    ("peer", "address"),
    [("127.0.0.1:5", "127.0.0.1"), ("[::1]:5", "::1"), ("memory", "memory")],
)
def test_host_of(peer: str, address: str) -> None:
    assert host_of(peer) == address
