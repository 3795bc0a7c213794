"""The receive side of a POP3 connection: client bytes read into the sans-I/O ``Connection``,
each wait for them bounded by the idle timer (after login) or the login deadline, and the
notice sent when a wait ends the session (timeout, shutdown).

Input already waiting is read at once (``sockio.read_now``, no wait, no cancel scope: under
load the usual case), with the login deadline checked by hand. Otherwise the connection task
waits inside ``waits``, one cancel scope for the whole session whose deadline is set only while
waiting (entering and leaving a scope per wait was ~15 % of the Python time per command): so it
can only be cancelled during a wait (deadline passed, or ``SessionRegistry.drain``), never in
the middle of a command. Part of the transport (``transport.py`` owns the loop and listeners,
``outbox.py`` the send side).

After login the wait's deadline is RFC 1939's idle timer, restarted by every wait, except
while a command line has come in part: then it is ``idle_timeout`` after the first wait for
the rest of that line (its first byte, or the end of the commands received before it), so a
client trickling a byte now and then cannot hold the session (no client needs longer than the
idle timeout to send one line). It ends the session as the idle timer does (the same
autologout reply, outcome and metric; nothing deleted). Before login, ``login_deadline`` bounds
the whole phase, however the bytes come.
"""

from __future__ import annotations

import math

import trio

from pop3srv import sockio
from pop3srv.admission import TransportLimits
from pop3srv.outbox import SocketOutbox
from pop3srv.protocol import events as ev
from pop3srv.protocol.connection import Connection
from pop3srv.registry import SessionRecord, SessionRegistry

RECEIVE_SIZE = 64 * 1024
CLOSE_TIMEOUT = 2.0


class Inbox:
    """Reads one connection's commands into its ``Connection``; see the module docstring.

    The transport runs the session's commands inside ``with inbox.waits:``; when a wait ends
    the session, ``waits`` is cancelled (or ``receive`` returns None) and the transport sends
    ``goodbye`` after leaving it.
    """

    def __init__(
        self,
        conn: Connection,
        outbox: SocketOutbox,
        record: SessionRecord,
        registry: SessionRegistry,
        limits: TransportLimits,
    ) -> None:
        self._conn = conn
        self._outbox = outbox
        self._record = record
        self._registry = registry
        self._limits = limits
        #: the whole login must be over by then (trio time); a byte now and then does not help
        self.login_deadline = trio.current_time() + limits.login_timeout
        self.waits = trio.CancelScope()
        #: the line received in part (its offset, ``Connection.unfinished_line_from``) and
        #: when it was first waited for
        self._line_from: int | None = None
        self._line_since = 0.0

    async def receive(self, logged_in: bool) -> bool | None:
        """Reads more input: True after waiting for it, False if it was already there; None
        after a timeout or when shutting down (nothing read). After login the wait is bounded
        by ``idle_deadline``; before it, by ``login_deadline``."""
        if self._registry.shutting_down.is_set():
            return None
        if self._outbox.holding:  # never, in fact (no command was waiting): for safety
            await self._outbox.flush()
        stream = self._outbox.stream
        data = sockio.read_now(stream, RECEIVE_SIZE)
        if data is not None:
            if not logged_in and trio.current_time() >= self.login_deadline:
                return None
            self._conn.receive_data(data)
            return False
        waits = self.waits
        if logged_in:
            waits.deadline = self.idle_deadline()
        else:
            waits.deadline = self.login_deadline
        self._record.wait_scope = waits
        try:
            data = await sockio.receive_some(stream, RECEIVE_SIZE, wait_first=True)
        finally:
            self._record.wait_scope = None
            waits.deadline = math.inf
        if waits.cancel_called:  # the deadline passed, or a drain began, as the data came
            return None
        self._conn.receive_data(data)
        return True

    def idle_deadline(self) -> float:
        """When a wait after login ends the session: ``idle_timeout`` from now, or from the
        first wait for the rest of the line received in part (see the module docstring)."""
        now = trio.current_time()
        line_from = self._conn.unfinished_line_from
        if line_from is None:
            return now + self._limits.idle_timeout
        if line_from != self._line_from:  # a line begun since the last wait
            self._line_from, self._line_since = line_from, now
        return self._line_since + self._limits.idle_timeout

    async def goodbye(self) -> None:
        """The notice of a connection closed for shutting down or for a timeout (outside
        ``waits``)."""
        if self._registry.shutting_down.is_set():
            notice = ev.Err("server shutting down, try again later", "SYS/TEMP")
        else:
            notice = ev.Err("autologout; idle for too long")
        self._outbox.login_deadline = None  # the notice has its own short bound
        with trio.move_on_after(CLOSE_TIMEOUT):
            await self._outbox.send_bytes(self._conn.goodbye(notice))
