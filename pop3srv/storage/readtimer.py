"""Read deadlines of many waits kept by one task, instead of a cancel scope per wait.

``s3http`` waits for each piece of an S3 response on a plaintext socket; entering and leaving
a ``CancelScope`` with a deadline around every such wait was ~6 % of the server's CPU per small
message read from S3 (py-spy). Here a wait notes its deadline (a dict entry); one system task
sleeps until the earliest deadline noted and calls ``on_timeout`` for every wait whose deadline
passed while it was still on (``s3http`` then wakes the waiter, whose read fails as a timeout).
Every deadline is ``now + timeout``, so a wait noted while the task sleeps never ends before
the task wakes: it wakes about once per ``timeout`` while waits go on, never per wait, and ends
when it finds no wait left (the next wait starts it again).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

import trio

K = TypeVar("K", bound=Hashable)


class ReadTimer(Generic[K]):
    """The deadlines of the waits on ``K`` (a connection), each ``timeout`` after it began."""

    __slots__ = ("_on_timeout", "_scope", "_timeout", "_waiting")

    def __init__(self, timeout: float, on_timeout: Callable[[K], None]) -> None:
        self._timeout = timeout
        self._on_timeout = on_timeout
        self._waiting: dict[K, float] = {}
        self._scope: trio.CancelScope | None = None

    def arm(self, key: K) -> None:
        """A wait on ``key`` begins (its deadline: ``timeout`` from now)."""
        if self._scope is None:
            self._scope = trio.CancelScope()
            trio.lowlevel.spawn_system_task(self._run, self._scope, name="s3http read timeouts")
        self._waiting[key] = trio.current_time() + self._timeout

    def disarm(self, key: K) -> None:
        """The wait on ``key`` ended (in time, or however it ended)."""
        self._waiting.pop(key, None)

    def close(self) -> None:
        """End the task (the endpoint is closed)."""
        if self._scope is not None:
            self._scope.cancel()
            self._scope = None

    async def _run(self, scope: trio.CancelScope) -> None:
        waiting = self._waiting
        try:
            with scope:
                while waiting:  # (the wait that started this task is noted before it runs)
                    await trio.sleep_until(min(waiting.values()))
                    now = trio.current_time()
                    for key, deadline in list(waiting.items()):
                        if deadline <= now:
                            del waiting[key]
                            self._on_timeout(key)
        finally:  # nothing left to watch, close(), or the run's end: the next wait restarts it
            if self._scope is scope:
                self._scope = None
