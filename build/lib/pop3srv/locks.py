"""Maildrop locks: one session per mailbox. Always in this process (the registry); with
``lock: s3`` also across replicas for S3 mailboxes (``storage.s3lock``)."""

from __future__ import annotations

from dataclasses import dataclass

import trio

from pop3srv.registry import SessionRecord, SessionRegistry
from pop3srv.storage.base import Location, S3Location
from pop3srv.storage.s3lock import S3Lease, S3Locks

RELEASE_TIMEOUT = 10.0


@dataclass
class Held:
    """What a session holds: the local lock on ``mailbox`` and maybe an S3 lease."""

    mailbox: str
    remote: S3Lease | None = None


class MaildropLocks:
    def __init__(self, registry: SessionRegistry, remote: S3Locks | None = None) -> None:
        self.registry = registry
        self.remote = remote

    async def acquire(self, location: Location, record: SessionRecord) -> Held | None:
        """Lock the mailbox of ``location`` for ``record``; None if another session has it.
        Store errors of the remote lock propagate (the login then fails with SYS/TEMP)."""
        mailbox = location.lock_key
        if not self.registry.acquire_mailbox(mailbox, record):
            return None
        if self.remote is None or not isinstance(location, S3Location):
            return Held(mailbox)
        try:
            lease = await self.remote.acquire(location, record.id, record.cancel_scope.cancel)
        except BaseException:
            self.registry.release_mailbox(mailbox, record)
            raise
        if lease is None:
            self.registry.release_mailbox(mailbox, record)
            return None
        return Held(mailbox, lease)

    async def release(self, held: Held, record: SessionRecord) -> None:
        self.registry.release_mailbox(held.mailbox, record)
        if held.remote is not None and self.remote is not None:
            with trio.CancelScope(shield=True), trio.move_on_after(RELEASE_TIMEOUT):
                await self.remote.release(held.remote)
