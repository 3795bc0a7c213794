"""The send side of a POP3 connection: replies turned into bytes by the sans-I/O
``Connection`` and written to the socket, small ones in one write, bounded in time.

A small message goes out as one write (status line, body and terminator gathered up to
``COALESCE`` octets), through ``sockio.send_now`` when the kernel takes it at once; the rest
waits for the socket under the idle timeout (and, before login, the login deadline).
Part of the transport (``inbox.py`` owns receiving, ``transport.py`` the command loop and the
listeners). Replies of pipelined commands may be held (``hold``) and sent in one write.
"""

from __future__ import annotations

from typing import Protocol

import trio

from pop3srv import sockio
from pop3srv.admission import TransportLimits
from pop3srv.protocol import events as ev
from pop3srv.protocol.connection import Connection
from pop3srv.registry import SessionRecord
from pop3srv.session import SessionDeps

COALESCE = 64 * 1024  # body bytes gathered before a write
_HELD = (ev.BeginData, ev.Data)  # replies gathered (a tuple: no union built per call)


class Handler(Protocol):
    """What the outbox reads from the connection handler (at send time: a reload may
    replace the limits)."""

    deps: SessionDeps
    limits: TransportLimits


class Closed(Exception):
    """The peer went away or was too slow; end the connection quietly."""


class SocketOutbox:
    """Turns replies into bytes with the sans-I/O connection and sends them, bounded in time."""

    def __init__(
        self, handler: Handler, conn: Connection, record: SessionRecord, stream: trio.abc.Stream
    ) -> None:
        #: replaced by the TLS stream after STLS
        self.stream = stream
        self._handler = handler
        self._conn = conn
        self._record = record
        self.record_id = record.id
        self._pending: list[bytes] = []
        #: before login, every write must also finish by this (trio) time
        self.login_deadline: float | None = None
        self._pending_size = 0
        #: set by the transport while more commands are buffered (pipelined): replies are then
        #: gathered too, up to ``COALESCE`` octets, and go out with the last one's in one write
        self.hold = False

    async def send(self, reply: ev.Reply) -> None:
        """Send a reply; the pieces of a body are gathered up to ``COALESCE`` octets, so a small
        message goes out as one write (status line, body and terminator together)."""
        data = self._conn.send(reply)
        if data:
            self._pending.append(data)
            self._pending_size += len(data)
        if (self.hold or isinstance(reply, _HELD)) and self._pending_size < COALESCE:
            return
        await self.flush()

    @property
    def holding(self) -> bool:
        """Whether replies were gathered and not sent yet."""
        return bool(self._pending)

    async def flush(self) -> None:
        """Send what was gathered."""
        pending = self._pending
        if not pending:
            return
        # one piece (a 256 KiB chunk of a big message) is sent as it is, not copied
        data = pending[0] if len(pending) == 1 else b"".join(pending)
        self._pending = []
        self._pending_size = 0
        await self.send_bytes(data)

    async def send_bytes(self, data: bytes) -> None:
        stream = self.stream
        try:
            sent = sockio.send_now(stream, data)  # most replies: taken at once, no waiting
            if sent < len(data):
                await self._send_rest(stream, memoryview(data)[sent:] if sent else data)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise Closed from exc
        self._record.bytes_sent += len(data)
        self._handler.deps.metrics.bytes_sent_total.inc(len(data))

    async def _send_rest(self, stream: trio.abc.Stream, data: bytes | memoryview) -> None:
        deadline = trio.current_time() + self._handler.limits.idle_timeout
        if self.login_deadline is not None:  # a client that does not read cannot outstay it
            deadline = min(deadline, self.login_deadline)
        # a plain CancelScope: ``trio.fail_at`` is the same plus a generator-based context
        # manager, which was a measurable share of the CPU per small message (py-spy)
        with trio.CancelScope(deadline=deadline) as scope:
            await stream.send_all(data)
        if scope.cancelled_caught:
            raise Closed
