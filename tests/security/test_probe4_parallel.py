"""Security probe 4: the free failures of an address hold in parallel too.

With a slow check (an HTTP callback: 0.5 s on the running server), 45 connections from one
fresh address, one guess each at 45 user names (password spraying), had 44 passwords checked
at once before the address's first delay (``login-penalty-free`` is 2). Now at most
``MAX_PARALLEL_PER_ADDRESS`` checks of one address (IPv6: its network) run at once; the others
are refused with ``[SYS/TEMP]`` at once (clients retry), and are not counted as bad passwords."""

from __future__ import annotations

import trio

from pop3srv.login import MAX_PARALLEL_PER_ADDRESS
from tests.security.support import SlowRefusals, guess, handler

ATTACKER = "192.0.2.77:40000"


async def test_a_burst_from_one_address_is_bounded(autojump_clock: object) -> None:
    checks = SlowRefusals()
    pop3 = handler(checks)
    replies: list[bytes] = []
    async with trio.open_nursery() as nursery:
        for index in range(45):
            nursery.start_soon(guess, pop3, ATTACKER, f"user{index}", replies)
    assert checks.checked == MAX_PARALLEL_PER_ADDRESS  # before: 45
    busy = [r for r in replies if r.startswith(b"-ERR [SYS/TEMP] too many logins in progress")]
    assert len(busy) == 45 - MAX_PARALLEL_PER_ADDRESS


async def test_other_addresses_and_ipv6_networks_are_counted_apart(
    autojump_clock: object,
) -> None:
    checks = SlowRefusals()
    pop3 = handler(checks)
    replies: list[bytes] = []
    async with trio.open_nursery() as nursery:
        for index in range(MAX_PARALLEL_PER_ADDRESS + 2):  # one network, several addresses
            peer = f"[2001:db8:5:5::{index + 1:x}]:1"
            nursery.start_soon(guess, pop3, peer, f"a{index}", replies)
        for index in range(3):  # three other addresses
            nursery.start_soon(guess, pop3, f"198.51.100.{index + 1}:1", "b", replies)
    assert checks.checked == MAX_PARALLEL_PER_ADDRESS + 3
