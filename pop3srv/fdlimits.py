"""File descriptors: the process's budget and the listeners that respect it.

At start the soft ``RLIMIT_NOFILE`` is raised to the hard limit, and the connection caps are
sized from it (``FdBudget``): the admin app gets its own small cap, POP3 keeps the larger share,
and a reserve is left for files, S3 connections and logs, so no one listener can starve the
other. ``CappedListener`` stops accepting while its cap is reached (further connections wait in
the kernel's backlog, holding no descriptor of ours); ``BackoffListener`` answers an accept that
fails for lack of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM) by waiting, longer each
time, and logging once per episode, instead of retrying ten times a second.
"""

from __future__ import annotations

import errno
import logging
import resource
from dataclasses import dataclass

import trio

log = logging.getLogger(__name__)

#: descriptors kept free for message files, S3/HTTP connections, logs and the listeners
RESERVE = 64
#: descriptors one POP3 connection may hold: its socket and, on the folder store, the mailbox
#: directory, its ``flock``-ed handle (pop3srv.locks) and a message file (S3: one connection)
PER_POP3_CONNECTION = 4
ADMIN_MIN, ADMIN_MAX = 16, 256
CAPACITY_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
BACKOFF_FIRST, BACKOFF_MAX = 0.1, 5.0
#: the soft limit asked for when the hard limit is unlimited (Linux's default nr_open)
UNLIMITED_TARGET = 1 << 20


def raise_nofile_limit() -> int:
    """Raise the soft descriptor limit to the hard one (an unlimited hard limit: to
    ``UNLIMITED_TARGET``); returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = UNLIMITED_TARGET if hard == resource.RLIM_INFINITY else hard
    if soft == resource.RLIM_INFINITY:
        return UNLIMITED_TARGET
    if soft >= target:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError) as exc:
        log.warning("cannot raise the open-files limit from %d to %d: %s", soft, target, exc)
        return soft
    return target


@dataclass(frozen=True)
class FdBudget:
    """Connection caps that fit in ``limit`` descriptors with headroom."""

    limit: int
    admin: int
    pop3: int

    @classmethod
    def from_limit(cls, limit: int, pop3_configured: int) -> FdBudget:
        admin = max(ADMIN_MIN, min(ADMIN_MAX, limit // 8))
        pop3 = max(1, min(pop3_configured, (limit - RESERVE - admin) // PER_POP3_CONNECTION))
        return cls(limit=limit, admin=admin, pop3=pop3)


class BackoffListener(trio.abc.Listener[trio.abc.Stream]):
    """Wraps a listener; accept waits and retries when the process is out of descriptors."""

    def __init__(self, inner: trio.abc.Listener[trio.abc.Stream], name: str) -> None:
        self.inner = inner
        self.name = name

    async def accept(self) -> trio.abc.Stream:
        wait = BACKOFF_FIRST
        while True:
            try:
                stream = await self.inner.accept()
            except OSError as exc:
                if exc.errno not in CAPACITY_ERRNOS:
                    raise
                if wait == BACKOFF_FIRST:
                    log.error(
                        "%s: cannot accept connections: %s (out of file descriptors or memory);"
                        " pausing accept, backing off up to %g s",
                        self.name,
                        exc.strerror,
                        BACKOFF_MAX,
                    )
                await trio.sleep(wait)
                wait = min(wait * 2, BACKOFF_MAX)
                continue
            if wait != BACKOFF_FIRST:
                log.info("%s: accepting connections again", self.name)
            return stream

    async def aclose(self) -> None:
        await self.inner.aclose()


class CappedListener(trio.abc.Listener[trio.abc.Stream]):
    """Accepts only while a slot of ``slots`` (shared by a server's listeners) is free; the
    connection's handler must release the slot when it is done with the connection."""

    def __init__(self, inner: trio.abc.Listener[trio.abc.Stream], slots: trio.Semaphore) -> None:
        self.inner = inner
        self.slots = slots

    async def accept(self) -> trio.abc.Stream:
        await self.slots.acquire()
        try:
            return await self.inner.accept()
        except BaseException:
            self.slots.release()
            raise

    async def aclose(self) -> None:
        await self.inner.aclose()
