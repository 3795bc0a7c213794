"""Maildrop locks: one session per mailbox. Always in this process (the registry); for a
mail folder also across processes on the host (``flock`` on the mailbox directory, so two
servers started on one mail-dir never serve a folder twice at once); with ``lock: s3`` also
across replicas for S3 mailboxes (``storage.s3lock``).

Takeover (``lock-takeover``, on by default): a login that finds its mailbox held by a session
that is idle between commands ends that session (nothing committed: its DELE marks are dropped,
as for any dropped connection) and proceeds, because such a holder is usually a phone whose
network died without a FIN. A holder in the middle of a command or committing a QUIT is waited
for up to ``TAKEOVER_WAIT`` seconds, then the login gets ``[IN-USE]``. Across replicas the
newcomer marks the S3 lock object as wanted; the holder's replica ends its session if idle and
releases the lock (``S3Locks.watch``).
"""

from __future__ import annotations

import fcntl
import logging
import os
from dataclasses import dataclass

import trio

from pop3srv.metrics import Metrics
from pop3srv.registry import SessionRecord, SessionRegistry
from pop3srv.storage.base import FolderLocation, Location, S3Location, StoreError
from pop3srv.storage.folder import open_mail_folder
from pop3srv.storage.s3lease import S3Lease
from pop3srv.storage.s3lock import S3Locks

log = logging.getLogger(__name__)
RELEASE_TIMEOUT = 10.0
TAKEOVER_WAIT = 5.0  # how long a login waits for a busy holder before [IN-USE]
POLL = 0.1  # how often a waiting login looks again whether the holder became idle


@dataclass
class Held:
    """What a session holds: the local lock on ``mailbox`` and maybe an S3 lease."""

    mailbox: str
    remote: S3Lease | None = None
    #: the mail folder's directory, ``flock``-ed while held (closing it lets go)
    folder_fd: int | None = None


class MaildropLocks:
    def __init__(
        self,
        registry: SessionRegistry,
        remote: S3Locks | None = None,
        *,
        takeover: bool = True,
        metrics: Metrics | None = None,
    ) -> None:
        self.registry = registry
        self.remote = remote
        self.takeover = takeover
        self.metrics = metrics

    async def acquire(self, location: Location, record: SessionRecord) -> Held | None:
        """Lock the mailbox of ``location`` for ``record``; None if another session has it.
        Store errors of the remote lock propagate (the login then fails with SYS/TEMP)."""
        mailbox = location.lock_key
        if not await self._acquire_local(mailbox, record):
            return None
        if isinstance(location, FolderLocation):
            fd = await _lock_folder(location)
            if fd == _BUSY:
                self.registry.release_mailbox(mailbox, record)
                return None
            return Held(mailbox, folder_fd=fd)
        if self.remote is None or not isinstance(location, S3Location):
            return Held(mailbox)
        try:
            lease = await self.remote.acquire(
                location,
                record.id,
                record.cancel_scope.cancel,
                requester=record.peer if self.takeover else None,
                on_wanted=lambda peer: self._end_if_idle(record, peer, "s3"),
            )
        except BaseException:
            self.registry.release_mailbox(mailbox, record)
            raise
        if lease is None:
            self.registry.release_mailbox(mailbox, record)
            return None
        return Held(mailbox, lease)

    async def confirm(self, held: Held) -> bool:
        """Whether ``held`` is still this session's lock, checked with S3 for a lease (a
        replica frozen past its lease may have lost it to another replica); the local lock
        cannot be lost while the session lives."""
        if held.remote is None or self.remote is None:
            return True
        if await self.remote.confirm(held.remote):
            return True
        log.warning("maildrop lock no longer held at QUIT; the session's deletions are dropped")
        return False

    async def release(self, held: Held, record: SessionRecord) -> None:
        # The S3 lease first: a login waiting for the local lock then finds it free too.
        if held.remote is not None and self.remote is not None:
            with trio.CancelScope(shield=True), trio.move_on_after(RELEASE_TIMEOUT):
                await self.remote.release(held.remote)
        if held.folder_fd is not None:
            fd, held.folder_fd = held.folder_fd, None
            os.close(fd)  # the flock goes with it
        self.registry.release_mailbox(held.mailbox, record)

    async def _acquire_local(self, mailbox: str, record: SessionRecord) -> bool:
        """This process's lock, taking it over from an idle holder, or waiting a little for a
        busy one; False if it is still held then (or at once without takeover)."""
        with trio.move_on_after(TAKEOVER_WAIT):
            while not self.registry.acquire_mailbox(mailbox, record):
                if not self.takeover:
                    return False
                if (holder := self.registry.mailbox_holder(mailbox)) is not None:
                    self._end_if_idle(holder, record.peer, "local")
                with trio.move_on_after(POLL):
                    await self.registry.mailbox_released(mailbox)
            return True
        return False

    def _end_if_idle(self, holder: SessionRecord, peer: str, lock: str) -> bool:
        """End ``holder`` for a new login from ``peer`` if it is idle; whether it was."""
        if holder.ended_by is not None:
            return True  # already being ended
        if not holder.idle:
            return False
        reason = f"taken over by a new login from {peer}"
        log.info("session %s from %s ended: %s", holder.id, holder.peer, reason)
        if self.metrics is not None:
            self.metrics.lock_takeovers_total.labels(lock).inc()
        self.registry.end(holder, reason)
        return True


_BUSY = -1  # _lock_folder: another process holds the folder


async def _lock_folder(location: FolderLocation) -> int | None:
    """The folder's directory, ``flock``-ed (waiting up to ``TAKEOVER_WAIT`` for a session of
    another process to end); ``_BUSY`` if it does not; None when there is no folder to lock
    (nothing delivered yet; a folder that cannot be opened fails at the store's own check)."""
    try:  # opened as the store opens it (no symlink followed, never above mail-dir)
        fd = open_mail_folder(location)
    except StoreError:
        return None
    if fd is None:
        return None
    try:
        with trio.move_on_after(TAKEOVER_WAIT):
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    await trio.sleep(POLL)
                    continue
                except OSError:  # a file system without flock: this process's lock only
                    pass
                return fd
    except BaseException:  # cancelled while waiting (a kick): nothing held
        os.close(fd)
        raise
    os.close(fd)
    log.info("mail folder %s is held by a session of another process", location.directory)
    return _BUSY
