"""Process-wide session registry: live sessions, maildrop locks, cancel scopes, snapshots.

One instance, created by the composition root and shared by the transport (which registers
sessions) and the admin app (which reads snapshots, ends sessions and watches changes).
All methods run in the trio thread; nothing here does I/O.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import trio


@dataclass(frozen=True)
class SessionSnapshot:
    """A read-only view of one session for the admin app."""

    id: str
    peer: str
    listener: str
    user: str | None
    state: str
    since: float
    commands: int
    bytes_sent: int
    last_activity: float
    #: the mailbox the session holds (a ``mailboxes`` name, else where it is); ``user`` is
    #: the name the client sent
    mailbox: str | None = None
    #: why the server is ending the session (e.g. taken over by a new login), else None
    ended_by: str | None = None


@dataclass
class SessionRecord:
    """Mutable state of one live session, owned by its connection task."""

    id: str
    peer: str
    listener: str
    since: float = field(default_factory=time.time)
    user: str | None = None
    mailbox: str | None = None
    state: str = "AUTHORIZATION"
    commands: int = 0
    bytes_sent: int = 0
    last_activity: float = field(default_factory=time.time)
    cancel_scope: trio.CancelScope = field(default_factory=trio.CancelScope)
    wait_scope: trio.CancelScope | None = None
    #: the minted password the login used (``Principal.token_id``): revoking it ends the session
    token_id: str | None = None
    ended_by: str | None = None
    #: what the session did to mail, for its ``logout`` line (``sessionlog``): messages sent
    #: whole (RETR) and in part (TOP), their octets, and at its end the messages marked
    #: deleted and those of them removed at QUIT
    retr: int = 0
    top: int = 0
    mail_bytes: int = 0
    marked: int = 0
    deleted: int = 0

    @property
    def idle(self) -> bool:
        """Logged in and waiting for the next command: not in the middle of one, not
        committing a QUIT. Ending such a session loses nothing but its deletion marks."""
        return self.wait_scope is not None and self.state == "TRANSACTION"

    def snapshot(self) -> SessionSnapshot:
        return SessionSnapshot(
            id=self.id,
            peer=self.peer,
            listener=self.listener,
            user=self.user,
            state=self.state,
            since=self.since,
            commands=self.commands,
            bytes_sent=self.bytes_sent,
            last_activity=self.last_activity,
            mailbox=self.mailbox,
            ended_by=self.ended_by,
        )


Listener = Callable[[str, SessionSnapshot | None, str], None]


class SessionRegistry:
    """Live sessions and the maildrop locks they hold."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self._sessions: dict[str, SessionRecord] = {}
        self._locks: dict[str, str] = {}
        self._released: dict[str, trio.Event] = {}  # mailbox -> set when its lock is freed
        self._watchers: list[Listener] = []
        self.shutting_down = trio.Event()

    def __len__(self) -> int:
        return len(self._sessions)

    @contextmanager
    def session(self, peer: str, listener: str) -> Iterator[SessionRecord]:
        """Register a session for the duration of the block; its locks are freed at the end."""
        record = SessionRecord(id=f"s{next(self._ids)}", peer=peer, listener=listener)
        self._sessions[record.id] = record
        self._notify("open", record)
        try:
            yield record
        finally:
            del self._sessions[record.id]
            for mailbox in [m for m, owner in self._locks.items() if owner == record.id]:
                self._free(mailbox)
            self._notify("close", record)

    def update(self, record: SessionRecord, **changes: object) -> None:
        """Change fields of a live session and tell watchers."""
        for name, value in changes.items():
            setattr(record, name, value)
        self._notify("update", record)

    def acquire_mailbox(self, mailbox: str, record: SessionRecord) -> bool:
        """Lock ``mailbox`` for ``record``; False if another session holds it."""
        owner = self._locks.setdefault(mailbox, record.id)
        return owner == record.id

    def release_mailbox(self, mailbox: str, record: SessionRecord) -> None:
        if self._locks.get(mailbox) == record.id:
            self._free(mailbox)

    def mailbox_holder(self, mailbox: str) -> SessionRecord | None:
        """The live session holding ``mailbox``'s lock, if any."""
        owner = self._locks.get(mailbox)
        return self._sessions.get(owner) if owner is not None else None

    async def mailbox_released(self, mailbox: str) -> None:
        """Wait until ``mailbox``'s lock is freed (at once if nobody holds it)."""
        if mailbox in self._locks:
            await self._released.setdefault(mailbox, trio.Event()).wait()

    def end(self, record: SessionRecord, reason: str) -> None:
        """End a live session for ``reason`` (shown to watchers): its connection is cut and
        nothing it marked is deleted, as for a kick."""
        self.update(record, ended_by=reason)
        record.cancel_scope.cancel()

    def _free(self, mailbox: str) -> None:
        del self._locks[mailbox]
        if (released := self._released.pop(mailbox, None)) is not None:
            released.set()

    def snapshots(self) -> list[SessionSnapshot]:
        return [record.snapshot() for record in self._sessions.values()]

    def kick(self, session_id: str) -> bool:
        """End a session: its connection is cut and nothing it marked is deleted."""
        record = self._sessions.get(session_id)
        if record is None:
            return False
        record.cancel_scope.cancel()
        return True

    def kick_where(self, matches: Callable[[SessionRecord], bool]) -> list[str]:
        """End every session ``matches`` selects; their ids."""
        ended = [record.id for record in self._sessions.values() if matches(record)]
        for session_id in ended:
            self.kick(session_id)
        return ended

    def drain(self) -> None:
        """Begin a graceful shutdown: sessions waiting for input are told and closed at once;
        busy ones finish their command first."""
        self.shutting_down.set()
        for record in self._sessions.values():
            if record.wait_scope is not None:
                record.wait_scope.cancel()

    def watch(self, callback: Listener) -> Callable[[], None]:
        """Call ``callback(kind, snapshot, id)`` on every change; returns the unsubscribe."""
        self._watchers.append(callback)
        return lambda: self._watchers.remove(callback)

    def _notify(self, kind: str, record: SessionRecord) -> None:
        snap = None if kind == "close" else record.snapshot()
        for callback in list(self._watchers):
            callback(kind, snap, record.id)


__all__ = ["SessionRecord", "SessionRegistry", "SessionSnapshot"]
