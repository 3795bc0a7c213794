"""Read-ahead without a network: bounds per session and across sessions (the byte budget's
accounting), cancellation, the stall timer, and failures kept for their own command."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence

import pytest
import trio
import trio.testing

from pop3srv.readahead import ByteBudget, ReadAhead, ReadAheadLimits, Upcoming
from pop3srv.storage.base import MessageGone
from pop3srv.storage.empty import EmptyStore

SIZE = 1000


class SlowStore(EmptyStore):
    """Messages of ``SIZE`` octets; every stream waits for ``gate`` before its data."""

    read_ahead = True

    def __init__(self, gate: trio.Event | None = None, missing: Sequence[str] = ()) -> None:
        self.gate = gate if gate is not None else trio.Event()
        self.missing = set(missing)
        self.open = 0
        self.opened = 0

    async def stream(
        self, key: str, *, first_chunk: int | None = None
    ) -> AsyncGenerator[bytes, None]:
        self.open += 1
        self.opened += 1
        try:
            await self.gate.wait()
            if key in self.missing:
                raise MessageGone("gone")
            yield key.encode().ljust(SIZE, b".")
        finally:
            self.open -= 1


def upcoming(after: int, total: int = 50, size: int = SIZE) -> list[Upcoming]:
    return [Upcoming(n, f"m{n}", size) for n in range(after + 1, total + 1)]


def start(ahead: ReadAhead, number: int) -> None:
    """What a session does for RETR ``number``: take, then plan the next ones."""
    item = ahead.take(number, f"m{number}", top=False)
    if item is not None:
        ahead.release(item)
    ahead.plan(upcoming(number), top=False)


async def test_reads_ahead_only_in_order_and_within_the_session_bounds() -> None:
    store, budget = SlowStore(), ByteBudget(10**9)
    limits = ReadAheadLimits(count=4, max_bytes=3 * SIZE)
    async with trio.open_nursery() as nursery:
        ahead = ReadAhead(store, budget, nursery, limits)
        start(ahead, 5)  # a first RETR: not (yet) a sequence
        assert len(ahead) == 0
        start(ahead, 6)  # 6 after 5: read 7, 8, 9 ahead (3 x SIZE fit, the 4th would not)
        assert len(ahead) == 3
        assert ahead.reserved == budget.used == 3 * SIZE
        await trio.testing.wait_all_tasks_blocked()
        assert store.open == 3
        ahead.cancel()
        await trio.testing.wait_all_tasks_blocked()
        assert store.open == 0
        assert ahead.reserved == budget.used == 0
        nursery.cancel_scope.cancel()  # as the session's nursery is when it ends


async def test_a_prefetched_message_is_whole_and_a_failure_waits_for_its_command() -> None:
    store, budget = SlowStore(missing=["m3"]), ByteBudget()
    async with trio.open_nursery() as nursery:
        ahead = ReadAhead(store, budget, nursery)
        start(ahead, 1)
        start(ahead, 2)
        store.gate.set()
        item = ahead.take(3, "m3", top=False)
        assert item is not None
        await item.done.wait()
        assert isinstance(item.error, MessageGone)
        ahead.release(item)
        item = ahead.take(4, "m4", top=False)
        assert item is not None
        await item.done.wait()
        assert (item.error, item.complete, item.data) == (None, True, b"m4".ljust(SIZE, b"."))
        ahead.release(item)
        ahead.cancel()
        assert budget.used == 0
        nursery.cancel_scope.cancel()


async def test_large_messages_are_streamed_in_their_turn_not_read_ahead() -> None:
    store, budget = SlowStore(), ByteBudget()
    async with trio.open_nursery() as nursery:
        ahead = ReadAhead(store, budget, nursery, ReadAheadLimits(max_message=SIZE - 1))
        ahead.take(1, "m1", top=False)
        ahead.take(2, "m2", top=False)
        ahead.plan(upcoming(2), top=False)
        assert len(ahead) == 0
        ahead.take(3, "m3", top=True)  # TOP after RETR: not a TOP sequence yet
        ahead.plan(upcoming(3), top=True)
        assert len(ahead) == 0
        ahead.take(4, "m4", top=True)  # TOP reads ahead the first range, whatever the size
        ahead.plan(upcoming(4), top=True)
        assert len(ahead) == 8
        assert budget.used == 8 * SIZE == ahead.reserved  # min(size, top_bytes) each
        nursery.cancel_scope.cancel()


async def test_200_sessions_never_exceed_the_global_budget() -> None:
    """The memory bound: 200 sessions reading ahead at once share a 64 KiB budget."""
    gate = trio.Event()
    budget = ByteBudget(64 * 1024)
    stores = [SlowStore(gate) for _ in range(200)]
    async with trio.open_nursery() as nursery:
        sessions = [ReadAhead(store, budget, nursery) for store in stores]
        for ahead in sessions:
            start(ahead, 1)
            start(ahead, 2)
            assert budget.used <= budget.limit
        assert budget.used == sum(ahead.reserved for ahead in sessions)
        assert budget.used > budget.limit - SIZE  # filled up to what fits
        assert budget.peak <= budget.limit
        started = sum(ahead.started for ahead in sessions)
        assert started == budget.used // SIZE
        # as sessions consume, the freed budget lets others read ahead; never beyond it
        gate.set()
        for round_ in range(3, 12):
            for ahead in sessions:
                start(ahead, round_)
                assert budget.used <= budget.limit
            await trio.testing.wait_all_tasks_blocked()
        assert budget.peak <= budget.limit
        assert budget.used == sum(ahead.reserved for ahead in sessions)
        for ahead in sessions:  # every connection dropped: everything given back
            ahead.cancel()
        assert budget.used == 0
        await trio.testing.wait_all_tasks_blocked()
        assert sum(store.open for store in stores) == 0
        nursery.cancel_scope.cancel()


async def test_a_stalled_client_loses_its_read_ahead(
    autojump_clock: trio.testing.MockClock,
) -> None:
    store, budget = SlowStore(), ByteBudget()
    async with trio.open_nursery() as nursery:
        ahead = ReadAhead(store, budget, nursery, ReadAheadLimits(stall=2.0))
        start(ahead, 1)
        start(ahead, 2)
        assert budget.used > 0
        await trio.sleep(1.0)
        start(ahead, 3)  # still reading: the timer restarts
        await trio.sleep(1.5)
        assert budget.used > 0
        await trio.sleep(1.0)  # 2.5 s without a command
        assert budget.used == 0
        assert len(ahead) == 0
        await trio.testing.wait_all_tasks_blocked()
        assert store.open == 0
        start(ahead, 4)  # a command after the stall does not resume at once
        assert len(ahead) == 0
        start(ahead, 5)
        assert len(ahead) > 0
        nursery.cancel_scope.cancel()


def test_budget_refuses_what_does_not_fit() -> None:
    budget = ByteBudget(100)
    assert budget.take(60)
    assert not budget.take(41)
    assert budget.used == 60
    budget.give_back(60)
    assert budget.used == 0
    with pytest.raises(ValueError):
        ByteBudget(-1)


async def test_plans_go_on_after_what_is_in_flight_and_start_again_after_a_jump() -> None:
    """A session reading in order plans only past the messages already planned
    (``start_after``); a jump (here: a second pass from message 1) plans from there again."""
    store, budget = SlowStore(), ByteBudget(10**9)
    limits = ReadAheadLimits(count=3, max_bytes=10**6)
    async with trio.open_nursery() as nursery:
        ahead = ReadAhead(store, budget, nursery, limits)

        def retr(number: int) -> bool:
            item = ahead.take(number, f"m{number}", top=False)
            if item is not None:
                ahead.release(item)
            after = ahead.start_after(number, top=False)
            ahead.plan(upcoming(after, total=20), top=False)
            return item is not None

        assert not retr(1)
        assert not retr(2)  # in order: 3, 4, 5 planned
        assert ahead.start_after(2, top=False) == 5
        assert [retr(n) for n in (3, 4, 5, 6)] == [True] * 4
        assert ahead.start_after(6, top=False) == 9  # 7, 8, 9 in flight
        assert len(ahead) == 3
        assert ahead.start_after(6, top=True) == 6  # a TOP loop has its own run
        assert not retr(1)  # a second pass: the run broke
        assert ahead.start_after(1, top=False) == 1  # planned from here again, not after 9
        ahead.cancel()  # (the stall timer would drop 7, 8, 9) room again, in order: 3, 4, 5
        assert not retr(1)
        assert not retr(2)
        assert ahead.start_after(2, top=False) == 5
        assert [retr(n) for n in (3, 4)] == [True, True]
        ahead.cancel()
        assert ahead.reserved == budget.used == 0
        nursery.cancel_scope.cancel()


async def test_dropping_one_fetch_leaves_the_others_and_the_fetchers_are_reused() -> None:
    """A message dropped while it is fetched is cancelled alone: the other fetches go on and
    its fetcher takes later messages; a session never runs more than ``count`` fetchers."""
    store, budget = SlowStore(), ByteBudget(10**9)
    limits = ReadAheadLimits(count=3, max_bytes=10**6)
    async with trio.open_nursery() as nursery:
        ahead = ReadAhead(store, budget, nursery, limits)
        start(ahead, 1)
        start(ahead, 2)  # 3, 4, 5 planned
        await trio.testing.wait_all_tasks_blocked()
        assert store.open == 3
        dropped = ahead.take(3, "m3", top=False)
        assert dropped is not None
        ahead.release(dropped)  # m3 dropped mid-fetch (e.g. a cancelled send)
        await trio.testing.wait_all_tasks_blocked()
        assert store.open == 2
        assert dropped.done.is_set() and dropped.data == b"" and dropped.error is None
        store.gate.set()
        for number in range(4, 30):  # the session reads on: every message read ahead, whole
            item = ahead.take(number, f"m{number}", top=False)
            assert item is not None
            await item.done.wait()
            assert (item.complete, item.data) == (True, f"m{number}".encode().ljust(SIZE, b"."))
            ahead.release(item)
            ahead.plan(upcoming(ahead.start_after(number, top=False)), top=False)
            assert len(nursery.child_tasks) <= limits.count + 1  # + the stall watchdog
        ahead.cancel()
        await trio.testing.wait_all_tasks_blocked()
        assert store.open == 0
        assert ahead.reserved == budget.used == 0
        nursery.cancel_scope.cancel()


async def test_a_message_dropped_before_its_fetch_started_is_never_fetched() -> None:
    """Released while still queued (no fetcher has taken it up yet): done at once, its
    reservation back, and no fetcher opens it later; the others are fetched whole."""
    store, budget = SlowStore(), ByteBudget(10**9)
    store.gate.set()
    limits = ReadAheadLimits(count=3, max_bytes=10**6)
    async with trio.open_nursery() as nursery:
        ahead = ReadAhead(store, budget, nursery, limits)
        start(ahead, 1)
        start(ahead, 2)  # 3, 4, 5 queued; no fetcher has run yet (no checkpoint since)
        dropped = ahead.take(3, "m3", top=False)
        assert dropped is not None
        ahead.release(dropped)
        assert dropped.done.is_set() and ahead.reserved == budget.used == 2 * SIZE
        await trio.testing.wait_all_tasks_blocked()
        assert store.opened == 2  # m4 and m5 only
        assert dropped.data == b"" and dropped.error is None
        for number in (4, 5):
            item = ahead.take(number, f"m{number}", top=False)
            assert item is not None and item.done.is_set() and item.complete
            ahead.release(item)
        nursery.cancel_scope.cancel()
    assert ahead.reserved == budget.used == 0
