"""The only code touching POP3 sockets (with ``inbox`` and ``outbox``, its receive and send
sides, and ``sockio``): listeners, TLS and STLS, timeouts, limits, and the loop that drives a
sans-I/O ``Connection`` and a ``Session``: commands already received (pipelined) are answered
in a row, their replies gathered into one write, with a schedule point at least every
``UNCHECKED_COMMANDS`` commands or reads."""

from __future__ import annotations

import contextlib
import logging
import ssl
import time
from typing import Protocol

import trio

from pop3srv.admission import Admission, TransportLimits
from pop3srv.auth.base import LoginContext
from pop3srv.hints import refusal_hint
from pop3srv.inbox import CLOSE_TIMEOUT, Inbox
from pop3srv.netaddr import host_of, hostport
from pop3srv.netaddr import is_loopback_peer as is_loopback
from pop3srv.outbox import Closed, SocketOutbox
from pop3srv.protocol import events as ev
from pop3srv.protocol.connection import Connection
from pop3srv.proxied import ProxyGate, ProxyRefused
from pop3srv.registry import SessionRecord
from pop3srv.retrieval import StreamAborted
from pop3srv.session import Action, Session, SessionDeps, SessionPolicy
from pop3srv.sessionlog import session_ended
from pop3srv.tls import foreign_protocol

__all__ = ["ConnectionHandler", "TransportLimits", "is_loopback"]

log = logging.getLogger(__name__)

HANDSHAKE_TIMEOUT = 30.0
REFUSE_TIMEOUT = 5.0
GREETING = "pop3srv ready"
#: commands answered (or reads done) in a row, without waiting for input, before letting other
#: tasks run
UNCHECKED_COMMANDS = 16
#: commands that may wait long (login delays, the HTTP callback, QUIT's deletions): the
#: replies held for the pipelined commands before them are sent first
WAITING_COMMANDS = (ev.Pass, ev.Auth, ev.AuthResponse, ev.Quit)
#: a connection ending under the session: the ``dropped`` outcome
DROPPED = (Closed, trio.BrokenResourceError, trio.ClosedResourceError, trio.TooSlowError)


class ForeignProtocol(Exception):
    """The TLS handshake chose another protocol than POP3 by ALPN (``tls.foreign_protocol``):
    an HTTP client led to a POP3 port, the ALPACA cross-protocol attack."""


class Incrementable(Protocol):
    """A ``commands_total`` child (``labels()``'s result)."""

    def inc(self, amount: float = 1) -> None: ...


class ConnectionHandler:
    """Serves one POP3 connection per call; shared by both listeners."""

    def __init__(
        self,
        deps: SessionDeps,
        limits: TransportLimits,
        tls_context: ssl.SSLContext | None,
        proxy: ProxyGate | None = None,
    ) -> None:
        self.deps = deps
        self.limits = limits
        #: replaced on reload (SIGHUP); connections in progress keep the one they started with
        self.tls_context = tls_context
        #: PROXY protocol headers expected first on every connection (``proxy-protocol``)
        self.proxy = proxy
        self._command_counters: dict[tuple[type[ev.Command], str], Incrementable] = {}
        self.admission = Admission(
            limits.max_connections, limits.max_connections_per_ip, limits.ipv6_prefix_length
        )

    @property
    def _handshake_timeout(self) -> float:
        return min(HANDSHAKE_TIMEOUT, self.limits.login_timeout)

    async def serve_plain(self, stream: trio.abc.Stream) -> None:
        await self.serve_stream(stream, "plain", is_tls=False)

    async def serve_tls(self, stream: trio.abc.Stream) -> None:
        """Implicit TLS: ``serve_stream`` handshakes, after any PROXY header."""
        await self.serve_stream(stream, "tls", is_tls=True)

    async def serve_stream(
        self, stream: trio.abc.Stream, listener: str, is_tls: bool = False, peer: str | None = None
    ) -> None:
        """Serve one connection on any stream (memory streams in tests, which name the peer)."""
        metrics = self.deps.metrics
        peer = peer or _peer_of(stream)
        metrics.connections_total.labels(listener).inc()
        started = time.monotonic()
        outcome = "error"
        # a PROXY header and the TLS handshake share one bound, from accept
        deadline = trio.current_time() + self._handshake_timeout
        try:
            if self.proxy is not None:
                try:
                    stream, peer = await self.proxy.accept(stream, peer, deadline)
                except ProxyRefused as exc:
                    outcome = "refused"
                    if not exc.quiet:
                        self.deps.failures.connection_refused(peer, str(exc))
                    return
            refusal = self.admission.refusal(host_of(peer))
            if refusal is not None:  # one line per address and minute (failures.py)
                self.deps.failures.connection_refused(peer, refusal, refusal_hint(refusal))
                outcome = await self._refuse(stream, refusal, is_tls=is_tls)
                return
            with self.admission.admitted(host_of(peer)):
                if is_tls:  # with the context of now (a reload swaps it for later connections)
                    stream = await self._start_tls(stream, peer, listener, deadline)
                metrics.connections_active.labels(listener).inc()
                try:
                    outcome = await self._session(stream, listener, peer, is_tls=is_tls)
                finally:
                    metrics.connections_active.labels(listener).dec()
        except ForeignProtocol as exc:  # closed before any greeting (or reply to STLS's +OK)
            outcome = "refused"
            self.deps.failures.connection_refused(peer, str(exc))
        except DROPPED:
            outcome = "dropped"
        except Exception:
            log.exception("connection from %s failed", peer)
        finally:
            log.debug("connection from %s on %s ended: %s", peer, listener, outcome)
            metrics.sessions_total.labels(outcome).inc()
            metrics.session_duration_seconds.observe(time.monotonic() - started)
            await _close(stream)

    async def _refuse(self, stream: trio.abc.Stream, reason: str, *, is_tls: bool) -> str:
        """Tell an over-the-cap plaintext client why, then close (TLS ones are just closed)."""
        self.deps.metrics.connections_refused_total.labels(reason).inc()
        text = "too many connections" + (" from your address" if reason.endswith("ip") else "")
        if is_tls:  # no handshake work for connections over the cap: just close
            return "refused"
        with trio.move_on_after(REFUSE_TIMEOUT):
            await stream.send_all(f"-ERR [SYS/TEMP] {text}, try again later\r\n".encode())
        return "refused"

    async def _session(
        self, stream: trio.abc.Stream, listener: str, peer: str, *, is_tls: bool
    ) -> str:
        registry = self.deps.registry
        conn = Connection(stls_available=self.tls_context is not None, is_tls=is_tls)
        with registry.session(peer, listener) as record:
            outbox = SocketOutbox(self, conn, record, stream)
            session = Session(conn, self.deps, self._policy(peer, is_tls), record)
            outcome = "dropped"
            try:
                with record.cancel_scope:
                    async with session.background():
                        outcome = await self._loop(conn, session, outbox, record)
                        return outcome
                outcome = "taken_over" if record.ended_by else "kicked"
                return outcome
            except Exception as exc:
                outcome = "dropped" if isinstance(exc, DROPPED) else "error"
                raise
            finally:
                await session.release()
                session_ended(record, outcome, registry.shutting_down.is_set())

    async def _loop(
        self, conn: Connection, session: Session, outbox: SocketOutbox, record: SessionRecord
    ) -> str:
        await outbox.send_bytes(conn.greeting(GREETING))
        inbox = Inbox(conn, outbox, record, self.deps.registry, self.limits)
        outbox.login_deadline = inbox.login_deadline
        outcome: str | None = None
        with inbox.waits:  # cancelled only while waiting for input (see ``inbox``)
            outcome = await self._commands(conn, session, outbox, record, inbox)
        if outcome is None:  # timed out, or shutting down, while waiting for a command
            await inbox.goodbye()
            return "timeout"
        return outcome

    async def _commands(
        self,
        conn: Connection,
        session: Session,
        outbox: SocketOutbox,
        record: SessionRecord,
        inbox: Inbox,
    ) -> str | None:
        """Answers commands until the session ends (its outcome) or a wait for input ends it
        (None: the caller says goodbye)."""
        unchecked = 0  # commands answered, and reads done without a wait, since then
        while True:
            # Commands already here (pipelined, or read without waiting) are answered without
            # a trip through the scheduler each, but never more than a few in a row; reads
            # of input that makes no command (an over-long line's rest) count too.
            if unchecked >= UNCHECKED_COMMANDS:
                await trio.lowlevel.checkpoint()
                unchecked = 0
            event = conn.next_event()
            if event is ev.NEED_DATA:
                waited = await inbox.receive(session.principal is not None)
                if waited is None:
                    return None
                unchecked = 0 if waited else unchecked + 1
                continue
            if event is ev.PAUSED:
                raise RuntimeError("session left a command unanswered")
            if isinstance(event, ev.ConnectionClosed):
                return "dropped"
            unchecked += 1
            record.commands += 1
            record.last_activity = time.time()
            if outbox.login_deadline is not None and session.principal is not None:
                outbox.login_deadline = None
            if isinstance(event, WAITING_COMMANDS):
                await outbox.flush()
            # more commands buffered: their replies go out with this one, in one write
            outbox.hold = conn.command_waiting
            action = await self._dispatch(session, event, outbox)
            if action is Action.CONTINUE:
                continue
            await outbox.flush()
            if action is Action.CLOSE:
                return "completed" if isinstance(event, ev.Quit) else "closed"
            if action is Action.START_TLS:
                outbox.stream = await self._start_tls(outbox.stream, record.peer, "stls")
                session.tls_started()
                self.deps.registry.update(record, listener="stls")

    async def _dispatch(self, session: Session, event: ev.Command, outbox: SocketOutbox) -> Action:
        kind = type(event)
        try:
            action = await session.handle(event, outbox)
        except StreamAborted:
            self._command_counter(kind, "aborted").inc()
            # the replies held for the commands before it (pipelined) are whole: sent first
            await outbox.flush()
            raise Closed from None
        self._command_counter(kind, "err" if kind is ev.BadCommand else "ok").inc()
        if log.isEnabledFor(logging.DEBUG):  # the keyword only: never arguments or passwords
            log.debug("session %s: %s -> %s", outbox.record_id, kind.__name__.upper(), action.value)
        return action

    def _command_counter(self, kind: type[ev.Command], outcome: str) -> Incrementable:
        """The ``commands_total`` child for a command (its event class) and outcome, looked up
        once (``labels()`` takes a lock and builds a key on every call: once per message
        otherwise)."""
        key = (kind, outcome)
        counter = self._command_counters.get(key)
        if counter is None:
            counter = self._command_counters[key] = self.deps.metrics.commands_total.labels(
                kind.__name__.upper(), outcome
            )
        return counter

    async def _start_tls(
        self, stream: trio.abc.Stream, peer: str, listener: str, deadline: float | None = None
    ) -> trio.SSLStream[trio.abc.Stream]:
        assert self.tls_context is not None
        tls = trio.SSLStream(stream, self.tls_context, server_side=True, https_compatible=True)
        try:
            with trio.fail_at(deadline or trio.current_time() + self._handshake_timeout):
                await tls.do_handshake()
        except DROPPED as exc:  # why, with a hint (failures.py: one line per address/minute)
            self.deps.failures.tls_failed(peer, listener, exc)
            raise
        if foreign_protocol(alpn := tls.selected_alpn_protocol()):
            raise ForeignProtocol(f"TLS ALPN chose {alpn!r}: a client of another protocol")
        return tls

    def _policy(self, peer: str, is_tls: bool) -> SessionPolicy:
        # trust-loopback: false when a same-host relay (proxy, tunnel) makes every client loopback
        loopback = self.limits.trust_loopback and is_loopback(peer)
        return SessionPolicy(
            plaintext_auth_allowed=is_tls or self.limits.allow_insecure_auth or loopback,
            max_bad_commands=self.limits.max_bad_commands,
            max_auth_failures=self.limits.max_auth_failures,
            context=LoginContext(peer=peer, loopback=loopback, secure=is_tls),
        )


async def _close(stream: trio.abc.Stream) -> None:
    with trio.move_on_after(CLOSE_TIMEOUT) as scope:
        scope.shield = True
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            await stream.aclose()
    if scope.cancelled_caught:
        await trio.aclose_forcefully(stream)


def _peer_of(stream: trio.abc.Stream) -> str:
    inner: object = stream
    while isinstance(inner, trio.SSLStream):
        inner = inner.transport_stream
    if isinstance(inner, trio.SocketStream):
        try:
            host, port, *_ = inner.socket.getpeername()
        except OSError:
            return "unknown"
        return hostport(str(host), port)
    return "memory"
