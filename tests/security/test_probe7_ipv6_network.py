"""Probe 7: one IPv6 /48 was 65,536 fresh clients for the login penalty.

Penalties and parallel bounds counted an IPv6 client by its /64. A /48 (a site's allocation,
free from tunnel brokers) holds 65,536 of them: on the running server (PROXY protocol from a
trusted balancer carrying the /48's addresses) 200 guesses at one user from 200 /64s of one /48
were all checked within 10 s, each /64 with its own free failures and no delay before its
check; and 65,536 single failures evicted every other record of the bounded table, forgiving
the addresses that had earned delays. Now a /64 is also counted in its /48
(``NETWORK_PREFIX``), which gets ``NETWORK_SHARE`` times an address's free failures and
parallel attempts, kept in a table of its own."""

from __future__ import annotations

from contextlib import ExitStack

import trio

from pop3srv.admission import Admission
from pop3srv.auth.penalty import LoginPenalty
from pop3srv.config import PenaltySettings
from pop3srv.login import MAX_PARALLEL_PER_ADDRESS
from pop3srv.netaddr import NETWORK_SHARE
from tests.security.support import SlowRefusals, guess, handler

SETTINGS = PenaltySettings(free_failures=2, start=1, maximum=15)


def _address(subnet: int, host: int = 1) -> str:
    return f"2001:db8:77:{subnet:x}::{host:x}"


async def test_addresses_of_one_network_are_delayed_together(autojump_clock: object) -> None:
    penalty = LoginPenalty(SETTINGS)
    free = SETTINGS.free_failures * NETWORK_SHARE
    for subnet in range(free + 1):  # one failure from each /64
        penalty.failed(_address(subnet), "victim")
    fresh = _address(0xFFFF)
    assert penalty.delay(fresh) > 0  # before: 0 for every fresh /64
    assert penalty.retry_after(fresh) > 0
    assert penalty.delay("2001:db8:78::1") == 0  # another /48 is not delayed
    assert any(entry.address == "2001:db8:77::/48" for entry in penalty.delayed())


async def test_a_flood_of_addresses_does_not_forgive_a_network(autojump_clock: object) -> None:
    penalty = LoginPenalty(SETTINGS, max_addresses=100)
    for _ in range(40):
        penalty.failed(_address(1), "victim")
    assert penalty.delay(_address(1)) == SETTINGS.maximum
    for subnet in range(2, 200):  # the table holds 100: the first /64's record is evicted
        penalty.failed(f"2001:db8:99:{subnet:x}::1")
    assert penalty.delay(_address(1)) > 0  # before: 0, forgiven by eviction
    assert penalty.delay(_address(5)) > 0


async def test_a_success_forgives_the_network_too(autojump_clock: object) -> None:
    penalty = LoginPenalty(SETTINGS)
    for subnet in range(SETTINGS.free_failures * NETWORK_SHARE + 1):
        penalty.failed(_address(subnet), "alice")
    penalty.succeeded(_address(0xFFFF), "alice")  # her own /64 had no failures
    assert penalty.delay(_address(0xFFFF)) > 0  # the others' failures are not hers to forgive
    for subnet in range(SETTINGS.free_failures * NETWORK_SHARE + 1):
        penalty.succeeded(_address(subnet), "alice")
    assert penalty.delay(_address(0xFFFF)) == 0
    assert penalty.forgive(_address(3)) is False


async def test_the_network_is_forgiven_by_the_admin(autojump_clock: object) -> None:
    penalty = LoginPenalty(SETTINGS)
    for subnet in range(40):
        penalty.failed(_address(subnet), "victim")
    assert penalty.forgive("2001:db8:77::/48")
    assert penalty.delay(_address(0xFFFF)) == 0


async def test_a_forgiven_address_is_not_delayed_by_its_network(autojump_clock: object) -> None:
    """Before: forgiving an address with failures of its own kept its network's, so it was
    still delayed after the admin forgave it (one without any lost its network's)."""
    penalty = LoginPenalty(SETTINGS)
    for forgiven in (_address(1, 5), "2001:db8:77:2::/64"):  # an address, a delayed() key
        for subnet in range(40):
            penalty.failed(_address(subnet % 4), "victim")
        assert penalty.delay(forgiven) > 0
        assert penalty.forgive(forgiven)
        assert penalty.delay(forgiven) == 0


async def test_a_longer_configured_group_has_no_network_tier(autojump_clock: object) -> None:
    penalty = LoginPenalty(SETTINGS, ipv6_prefix_length=48)
    for subnet in range(40):
        penalty.failed(f"2001:db8:{subnet:x}::1", "victim")
    assert penalty.network("2001:db8:1::1") is None
    assert penalty.delay("2001:db8:ffff::1") == 0
    assert penalty.delay("10.0.0.1") == 0 and penalty.network("10.0.0.1") is None


async def test_a_parallel_burst_from_one_network_is_bounded(autojump_clock: object) -> None:
    """200 /64s of one /48 at once, through the login gate: at most the network's share of
    checks run (before: all 200)."""
    checks = SlowRefusals()
    pop3 = handler(checks)
    replies: list[bytes] = []
    async with trio.open_nursery() as nursery:
        for subnet in range(200):
            nursery.start_soon(guess, pop3, f"[{_address(subnet)}]:1", "bob", replies)
    bound = MAX_PARALLEL_PER_ADDRESS * NETWORK_SHARE
    assert checks.checked <= bound
    assert sum(r.startswith(b"-ERR [SYS/TEMP] too many logins") for r in replies) >= 200 - bound


def test_one_network_cannot_take_every_connection_slot() -> None:
    """``max-connections-per-ip`` held per /64 only: one /48's /64s took all of
    ``max-connections`` (the slots before login, TLS handshakes included)."""
    admission = Admission(max_total=1000, max_per_address=10)
    with ExitStack() as held:
        admitted = 0
        for subnet in range(200):
            address = _address(subnet)
            if admission.refusal(address) is None:
                held.enter_context(admission.admitted(address))
                admitted += 1
        assert admitted == 10 * NETWORK_SHARE  # before: 200 (all, up to max-connections)
        assert admission.refusal("2001:db8:78::1") is None  # another /48
        assert admission.refusal("192.0.2.1") is None
    assert admission.refusal(_address(0)) is None and admission.total == 0
