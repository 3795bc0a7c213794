"""The per-address login penalty, on trio's autojump clock."""

from __future__ import annotations

import pytest
import trio

from pop3srv.auth.penalty import LoginPenalty, address_of
from pop3srv.config import PenaltySettings


def _penalty() -> LoginPenalty:
    return LoginPenalty(PenaltySettings(free_failures=2, start=1.0, maximum=15.0))


async def test_delays_grow_after_free_failures_and_cap() -> None:
    penalty = _penalty()
    delays = []
    for _ in range(8):
        delays.append(penalty.delay("192.0.2.1"))
        penalty.failed("192.0.2.1")
    assert delays == [0, 0, 0, 1, 2, 4, 8, 15]


async def test_other_addresses_are_not_slowed() -> None:
    penalty = _penalty()
    for _ in range(10):
        penalty.failed("192.0.2.1")
    assert penalty.delay("192.0.2.2") == 0


async def test_success_forgives(autojump_clock: object) -> None:
    penalty = _penalty()
    for _ in range(5):
        penalty.failed("a")
    penalty.succeeded("a")
    assert penalty.delay("a") == 0


async def test_forgotten_after_quiet_period(autojump_clock: object) -> None:
    penalty = LoginPenalty(PenaltySettings(free_failures=0), forget_after=60)
    penalty.failed("a")
    assert penalty.delay("a") == 1
    await trio.sleep(61)
    assert penalty.delay("a") == 0


async def test_memory_is_bounded() -> None:
    penalty = LoginPenalty(PenaltySettings(free_failures=0), max_addresses=100)
    for index in range(1000):
        penalty.failed(f"10.0.{index // 256}.{index % 256}")
    assert penalty.delay("10.0.0.0") == 0  # the oldest were dropped
    assert penalty.delay("10.0.3.231") == 1


@pytest.mark.parametrize(
    ("peer", "address"),
    [("127.0.0.1:5", "127.0.0.1"), ("[::1]:5", "::1"), ("memory", "memory")],
)
def test_address_of(peer: str, address: str) -> None:
    assert address_of(peer) == address


async def test_delayed_lists_waiting_addresses_and_forgive_clears(autojump_clock: object) -> None:
    penalty = _penalty()
    for _ in range(5):
        penalty.failed("192.0.2.1")
    await trio.sleep(1)
    for _ in range(3):
        penalty.failed("192.0.2.2")
    penalty.failed("192.0.2.3")  # still within the free failures: not delayed
    rows = [(e.address, e.delay, e.failures) for e in penalty.delayed()]
    assert rows == [("192.0.2.2", 1.0, 3), ("192.0.2.1", 4.0, 5)]  # most recent failure first
    assert penalty.forgive("192.0.2.1")
    assert not penalty.forgive("192.0.2.1")
    assert penalty.delay("192.0.2.1") == 0
    assert [e.address for e in penalty.delayed()] == ["192.0.2.2"]
