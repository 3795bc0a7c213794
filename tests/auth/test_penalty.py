"""The per-address login penalty, on trio's autojump clock."""

from __future__ import annotations

import trio

from pop3srv.auth.penalty import LoginPenalty
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


async def test_retry_after_counts_down_the_earned_delay(autojump_clock: object) -> None:
    penalty = _penalty()
    for _ in range(5):
        penalty.failed("192.0.2.1")
    assert penalty.delay("192.0.2.1") == 4  # the next attempt's wait
    assert penalty.retry_after("192.0.2.1") == 4
    await trio.sleep(3)
    assert penalty.retry_after("192.0.2.1") == 1
    await trio.sleep(2)
    assert penalty.retry_after("192.0.2.1") == 0
    assert penalty.delay("192.0.2.1") == 4  # still counted until it decays


async def test_delayed_lists_addresses_and_forgive_drops_one(autojump_clock: object) -> None:
    penalty = _penalty()
    for _ in range(3):
        penalty.failed("192.0.2.1")
        penalty.failed("2001:db8::7")
    penalty.failed("192.0.2.9")  # a free failure: not delayed
    listed = {entry.address: entry for entry in penalty.delayed()}
    assert set(listed) == {"192.0.2.1", "2001:db8::/64"}
    assert listed["192.0.2.1"].failures == 3 and listed["192.0.2.1"].delay == 1
    assert penalty.forgive("2001:db8::1234")  # any address of the network
    assert penalty.forgive("192.0.2.1")
    assert not penalty.forgive("192.0.2.1")
    assert penalty.delayed() == []


async def test_failures_decay_by_one_a_minute(autojump_clock: object) -> None:
    penalty = LoginPenalty(PenaltySettings(free_failures=0), decay=60)
    for _ in range(3):
        penalty.failed("a")
    assert penalty.delay("a") == 4
    await trio.sleep(61)
    assert penalty.delay("a") == 2
    await trio.sleep(120)
    assert penalty.delay("a") == 0


async def test_long_user_names_are_counted_by_digest() -> None:
    penalty = _penalty()
    long_name = "x" * 16_000
    for _ in range(6):
        penalty.failed("192.0.2.1", long_name)
    by_name = penalty.user_delay(long_name.upper())
    assert max(penalty.delay("192.0.2.9"), by_name) == 1  # case-folded, then hashed
    assert all(len(key) < 100 for key in penalty._users)


async def test_decay_does_not_renew_the_retry_after(autojump_clock: object) -> None:
    penalty = _penalty()
    for _ in range(7):
        penalty.failed("192.0.2.1")
    assert penalty.retry_after("192.0.2.1") == 15
    await trio.sleep(61)  # one failure decayed; the last one's delay is long over
    assert penalty.retry_after("192.0.2.1") == 0
    assert penalty.delay("192.0.2.1") == 8  # six failures left
