"""Read-ahead: while one message is sent, the next ones are fetched (RETR and TOP loops).

Mail clients fetch messages one after another; against S3 each GET costs a round trip
(10-150 ms off loopback), so a 200-message download is latency-bound. Once a session asks for
message n right after n-1 (or for one that was read ahead), the next messages are fetched in the
background, in the session's own nursery, and the command that asks for one of them finds it
ready. Pipelined commands (mpop) take the same path: they are answered one at a time.

Bounds (memory stays bounded whatever the clients do):

* per session at most ``count`` messages ahead and ``max_bytes`` octets reserved; a RETR
  message larger than ``max_message`` is never read ahead (it is streamed in its turn), a TOP
  reads ahead at most ``top_bytes`` of a message (the first range the TOP path asks for);
* the octets reserved by every session together never exceed the process-wide ``ByteBudget``;
  a read-ahead that does not fit is simply not started (nothing waits for the budget);
* reservations are taken before a fetch starts and given back when its message was sent,
  dropped or cancelled, so the budget's accounting is exact at any moment.

Cancellation: everything read ahead is dropped at once (fetches cancelled, bodies closed,
reservations given back) on QUIT, when the connection ends (the nursery is cancelled), and when
the client stalls: no command has used the read-ahead for ``stall`` seconds (a client that
stops reading cannot send its next command). A prefetched failure is kept and reported when
its message is asked for, as an ``-ERR`` for that command only, exactly as without read-ahead.
"""

from __future__ import annotations

import collections
import math
from collections.abc import Iterable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import NamedTuple

import trio

from pop3srv.storage.base import MessageStore, StoreError

#: What the read-ahead of one session may hold (defaults; ``ReadAheadLimits``).
COUNT = 8
SESSION_BYTES = 1024 * 1024
MAX_MESSAGE = 256 * 1024
TOP_BYTES = 64 * 1024
STALL = 2.0
#: The process-wide budget: 1,000 sessions reading ahead cannot take more than this.
GLOBAL_BYTES = 64 * 1024 * 1024


class ByteBudget:
    """Octets reserved for read-ahead across all sessions; never more than ``limit``."""

    def __init__(self, limit: int = GLOBAL_BYTES) -> None:
        if limit < 0:
            raise ValueError("limit must be >= 0")
        self.limit = limit
        self.used = 0
        self.peak = 0

    def take(self, octets: int) -> bool:
        """Reserve ``octets`` if they fit; False (and nothing reserved) otherwise."""
        if self.used + octets > self.limit:
            return False
        self.used += octets
        self.peak = max(self.peak, self.used)
        return True

    def give_back(self, octets: int) -> None:
        self.used -= octets
        assert self.used >= 0, "read-ahead budget given back more than was taken"


@dataclass(frozen=True)
class ReadAheadLimits:
    count: int = COUNT
    max_bytes: int = SESSION_BYTES
    max_message: int = MAX_MESSAGE
    top_bytes: int = TOP_BYTES
    stall: float = STALL


@dataclass
class Prefetched:
    """A message read ahead: its octets (``complete``: the whole object, else a prefix), or
    the store error that fetching it raised."""

    key: str
    top: bool
    size: int
    reserved: int
    data: bytes = b""
    complete: bool = False
    error: StoreError | None = None
    done: trio.Event = field(default_factory=trio.Event)
    #: the scope of the fetcher reading it, while it does (cancelled to drop this fetch)
    fetcher: trio.CancelScope | None = None


class Upcoming(NamedTuple):
    """A message the session may ask for next: its number, key and listed size (a tuple:
    up to ``count`` of them are made per message sent)."""

    number: int
    key: str
    size: int


class ReadAhead:
    """One session's read-ahead, running in that session's nursery."""

    def __init__(
        self,
        store: MessageStore,
        budget: ByteBudget,
        nursery: trio.Nursery,
        limits: ReadAheadLimits | None = None,
    ) -> None:
        self._store = store
        self._budget = budget
        self._nursery = nursery
        self._limits = limits or ReadAheadLimits()
        self._items: dict[tuple[str, bool], Prefetched] = {}
        self._reserved = 0
        self._last: tuple[int, bool] | None = None
        #: the last message number planned, for RETR (False) and TOP (True) loops: the next
        #: plan starts after it instead of walking the messages already in flight
        self._through: dict[bool, int] = {}
        self._active = False
        #: fetches planned and not yet taken up by a fetcher
        self._queue: collections.deque[Prefetched] = collections.deque()
        #: fetchers with nothing to do park here (the session's nursery ends them)
        self._idle = trio.lowlevel.ParkingLot()
        self._fetchers = 0
        #: when the session stalls unless it uses the read-ahead again (``_touch``); a plain
        #: float the watchdog reads when it wakes: moving a cancel scope's deadline on every
        #: message (trio re-files it in its deadline heap) cost more than the check
        self._stall_at = math.inf
        self._watching = False
        self.started = 0

    @property
    def reserved(self) -> int:
        """Octets this session holds reserved in the budget now."""
        return self._reserved

    def __len__(self) -> int:
        return len(self._items)

    def take(self, number: int, key: str, *, top: bool) -> Prefetched | None:
        """The read-ahead of message ``key`` (None: not read ahead). The caller sends it,
        after ``await item.done.wait()``, then calls ``release(item)``."""
        item = self._items.pop((key, top), None)
        sequential = self._last is not None and self._last == (number - 1, top)
        self._last = (number, top)
        self._active = item is not None or sequential
        if item is None:  # the run broke (a jump, a second pass): plan from here again
            self._through.pop(top, None)
        return item

    def start_after(self, number: int, *, top: bool) -> int:
        """Where the messages ``plan`` needs begin, after message ``number`` was taken:
        past the ones already planned (still in flight or waiting)."""
        return max(number, self._through.get(top, 0))

    def plan(self, upcoming: Iterable[Upcoming], *, top: bool) -> None:
        """After ``take``: read ahead the messages the session will probably ask for next
        (only while the session reads in order); ``upcoming`` may start at ``start_after``."""
        if not self._active:
            return
        self._touch()
        for message in upcoming:
            if len(self._items) >= self._limits.count:
                return
            if (message.key, top) in self._items:
                continue
            if top:
                reserve = min(message.size, self._limits.top_bytes)
            elif message.size > self._limits.max_message:
                continue  # streamed in its turn, never held whole
            else:
                reserve = message.size
            if self._reserved + reserve > self._limits.max_bytes or not self._budget.take(reserve):
                return
            self._reserved += reserve
            item = Prefetched(message.key, top, message.size, reserve)
            self._items[(message.key, top)] = item
            self._through[top] = message.number
            self.started += 1
            self._queue.append(item)
            if self._idle:  # a parked fetcher takes it
                self._idle.unpark()
            elif self._fetchers < self._limits.count:  # all busy: one more
                self._fetchers += 1
                self._nursery.start_soon(self._fetcher)

    def release(self, item: Prefetched) -> None:
        """Give back an item's reservation (its message was sent or dropped)."""
        if not item.done.is_set():
            if item.fetcher is not None:  # being fetched: its fetcher drops it, goes on
                item.fetcher.cancel()
            else:  # not started: no fetcher will take it up
                item.done.set()
        if item.reserved:
            self._budget.give_back(item.reserved)
            self._reserved -= item.reserved
            item.reserved = 0
        item.data = b""

    def cancel(self) -> None:
        """Drop everything read ahead now: fetches cancelled, reservations given back."""
        items, self._items = list(self._items.values()), {}
        self._queue.clear()
        for item in items:
            self.release(item)
        self._last = None
        self._through.clear()
        self._active = False

    def _touch(self) -> None:
        """The session used the read-ahead: restart the stall timer."""
        self._stall_at = trio.current_time() + self._limits.stall
        if not self._watching:
            self._watching = True
            self._nursery.start_soon(self._watchdog)

    async def _watchdog(self) -> None:
        # wakes at the stall time seen when it last looked; a session still reading has
        # moved it on since, so it sleeps again until then (at most one wake-up per stall)
        while (stall_at := self._stall_at) > trio.current_time():
            await trio.sleep_until(stall_at)
        # the stall time passed: nobody is using what was read ahead
        self._watching = False
        self.cancel()

    async def _fetcher(self) -> None:
        """Fetches planned messages one after another, parked while there are none: a task
        per message (its spawn, its own cancel scope, its end) cost more CPU than waking a
        parked one. ``release`` drops the message being fetched by cancelling the fetcher's
        scope; it then goes on under a new one. Ended with the session's nursery."""
        queue = self._queue
        while True:
            with trio.CancelScope() as scope:
                while not scope.cancel_called:
                    while not queue:
                        await self._idle.park()
                    item = queue.popleft()
                    if item.done.is_set():  # released before it was started
                        continue
                    item.fetcher = scope
                    try:
                        await self._fetch(item)
                    finally:
                        item.fetcher = None

    async def _fetch(self, item: Prefetched) -> None:
        limit = item.reserved
        prefix_only = item.top and item.size > limit  # TOP: the first range is enough
        parts: list[bytes] = []
        total = 0
        try:
            first = limit if item.top else None
            async with aclosing(self._store.stream(item.key, first_chunk=first)) as chunks:
                complete = True
                async for chunk in chunks:
                    room = limit - total
                    total += len(chunk)
                    if total > limit:  # larger than listed: keep a prefix only
                        parts.append(chunk[:room])
                        complete = False
                        break
                    parts.append(chunk)
                    if prefix_only and total >= limit:
                        complete = False
                        break
                item.complete = complete
                item.data = b"".join(parts)
        except StoreError as exc:
            item.error = exc
        finally:
            item.done.set()
