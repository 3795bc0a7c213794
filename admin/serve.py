"""Runs the admin app with Hypercorn's HTTP/1.1 and websocket protocol inside the caller's nursery.

No second event loop and no thread: Hypercorn's own graceful shutdown is driven by the service's
shutdown event. When it fires, live websockets are told to close with 1001 first (Hypercorn
would otherwise cut them with 1006 at the end of ``graceful_timeout``), then the app stops
accepting, lets requests in flight finish, and returns.

The accept loop is ours rather than ``hypercorn.trio.serve``'s, so that the admin port cannot
take the process's descriptors from POP3: it has its own connection cap (``max_connections``;
more connections wait in the kernel's backlog) of which one client address (an IPv6 /64) may
hold a quarter, backs off when accept runs out of descriptors, and closes every connection
when its response says ``Connection: close`` (Hypercorn's close runs in the request's task,
which Quart-Trio cancels half-way: ``_AdminConnection`` shields it).
Connections that send no complete request head are closed after ``keep_alive_timeout``, request
bodies must arrive within ``BODY_TIMEOUT``, and each write of a response must be taken by the
client within ``SEND_TIMEOUT``.

HTTP/1.1 only: a connection that switches to HTTP/2 (prior knowledge, or ``Upgrade: h2c``) is
closed. Hypercorn stops a connection's idle timer when it sees the HTTP/2 preface and restarts it
only after a stream, so idle HTTP/2 connections were never closed: 300 of them (33 bytes each)
held every admin slot and /healthz stopped answering (liveness probes fail, the pod restarts).
Browsers speak HTTP/2 only over TLS, which the app does not serve itself.
"""

from __future__ import annotations

import logging
from collections import Counter
from contextlib import AbstractContextManager
from functools import partial

import trio
from hypercorn.config import Config
from hypercorn.events import Closed, Event, RawData
from hypercorn.protocol import ProtocolWrapper
from hypercorn.protocol.h11 import H2CProtocolRequiredError, H2ProtocolAssumedError
from hypercorn.trio.lifespan import Lifespan
from hypercorn.trio.tcp_server import TCPServer
from hypercorn.trio.worker_context import WorkerContext
from hypercorn.typing import ConnectionState
from hypercorn.utils import wrap_app
from quart import Quart

from admin.auth import is_loopback
from admin.deps import admin_context
from pop3srv.fdlimits import ADMIN_MAX, BackoffListener, CappedListener
from pop3srv.netaddr import client_group
from pop3srv.tally import counted

#: seconds a connection may stay idle (also: to send a complete request head)
KEEP_ALIVE_TIMEOUT = 5.0
#: seconds for a request body to arrive (Quart answers 408 after it)
BODY_TIMEOUT = 10.0
#: the share of the admin connection cap one client address (an IPv6 /64) may hold, and the
#: least it may always hold
PER_ADDRESS_SHARE, PER_ADDRESS_MIN = 4, 8  # a browser opens ~6, plus the websocket
#: seconds each write of a response (or websocket message) may take before the client that
#: does not read it is dropped
SEND_TIMEOUT = 10.0

log = logging.getLogger(__name__)


async def serve_admin(
    app: Quart,
    host: str,
    port: int,
    shutdown: trio.Event,
    *,
    graceful_timeout: float = 10.0,
    max_connections: int = ADMIN_MAX,
    task_status: trio.TaskStatus[list[tuple[str, int]]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``app`` on ``host:port`` (0: a free port) until ``shutdown`` is set, with at most
    ``max_connections`` open; reports the bound ``(host, port)`` pairs through ``task_status``."""
    ctx = admin_context(app)
    config = _config(graceful_timeout)
    app.config["BODY_TIMEOUT"] = BODY_TIMEOUT
    if not is_loopback(host):
        log.warning(
            "the admin app listens on %s over plain HTTP: put a TLS proxy in front of it "
            "(its login cookie is sent without Secure there)",
            host or "all interfaces",
        )
    listeners = await trio.open_tcp_listeners(port, host=host or "0.0.0.0")
    binds = [_bound(listener) for listener in listeners]
    slots = trio.Semaphore(max_connections)
    guarded = [CappedListener(BackoffListener(ln, "admin app"), slots) for ln in listeners]
    asgi = wrap_app(app, config.wsgi_max_body_size, "asgi")
    lifespan_state: dict[str, object] = {}
    lifespan = Lifespan(asgi, config, lifespan_state)
    context = WorkerContext(None)

    per_address = _PerAddress(max(PER_ADDRESS_MIN, max_connections // PER_ADDRESS_SHARE))

    async def handle(stream: trio.abc.Stream) -> None:
        try:
            with per_address.admitted(stream) as admitted:
                if not admitted:  # one host may not take every slot
                    await trio.aclose_forcefully(stream)
                    return
                state = ConnectionState(lifespan_state.copy())
                await _AdminConnection(asgi, config, context, state, stream)  # type: ignore[arg-type]
        finally:
            slots.release()

    async with trio.open_nursery() as lifespan_nursery:
        await lifespan_nursery.start(lifespan.handle_lifespan)
        await lifespan.wait_for_startup()
        async with trio.open_nursery() as connections:
            async with trio.open_nursery() as accepting:
                accepting.start_soon(
                    partial(trio.serve_listeners, handle, guarded, handler_nursery=connections)
                )
                task_status.started(binds)
                await shutdown.wait()
                ctx.closing.set()
                accepting.cancel_scope.cancel()
            await context.terminated.set()
            connections.cancel_scope.deadline = trio.current_time() + graceful_timeout
        await lifespan.wait_for_shutdown()
        lifespan_nursery.cancel_scope.cancel()


def _config(graceful_timeout: float) -> Config:
    config = Config()
    config.graceful_timeout = graceful_timeout
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")
    config.include_server_header = False
    config.keep_alive_timeout = KEEP_ALIVE_TIMEOUT  # also the deadline of a request head
    return config


class _AdminConnection(TCPServer):
    """Hypercorn's connection, whose close cannot be cut short by the request's cancellation
    (which left sockets answered with ``Connection: close`` open until the client left), and
    which is released as soon as the peer goes away."""

    async def _close(self) -> None:
        with trio.CancelScope(shield=True):
            await super()._close()

    async def protocol_send(self, event: Event) -> None:
        """Hypercorn's, with a deadline on each write: a client that does not read its response
        (31 KB of /metrics into a 1 KB receive window) is dropped after ``SEND_TIMEOUT``
        instead of holding an admin slot for as long as it likes (300 such clients held them
        all). Writes stay shielded from the request's own cancellation, as in Hypercorn."""
        if not isinstance(event, RawData):
            await super().protocol_send(event)
            return
        async with self.send_lock:
            broken = False
            with trio.CancelScope(shield=True) as scope:
                scope.deadline = trio.current_time() + SEND_TIMEOUT
                try:
                    await self.stream.send_all(event.data)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    broken = True  # as Hypercorn does: close, and tell the protocol
            if broken or scope.cancelled_caught:
                with trio.CancelScope(shield=True):
                    await self.stream.aclose()
                await self.protocol.handle(Closed())

    async def _read_data(self) -> None:
        self.protocol = _Http1Only(self.protocol)
        try:
            await super()._read_data()
        except _Http2Refused:
            log.debug("admin app: HTTP/2 refused (HTTP/1.1 only), connection closed")
        await self.idle_task.stop()  # the peer has gone: do not hold its socket for the timer


class _Http2Refused(Exception):
    """The client switched to HTTP/2; the connection is to be closed."""


class _Http1Only(ProtocolWrapper):
    """Hypercorn's protocol wrapper (adopted with its state), minus the switch to HTTP/2."""

    def __init__(self, wrapper: ProtocolWrapper) -> None:  # no super().__init__: adopts
        self.__dict__.update(wrapper.__dict__)

    async def handle(self, event: Event) -> None:
        try:
            await self.protocol.handle(event)
        except (H2ProtocolAssumedError, H2CProtocolRequiredError):
            raise _Http2Refused from None


class _PerAddress:
    """Admin connections open per client address (IPv6 by /64), capped."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: Counter[str] = Counter()

    def admitted(self, stream: trio.abc.Stream) -> AbstractContextManager[bool]:
        return counted(self._open, _client_of(stream), self.limit)


def _client_of(stream: trio.abc.Stream) -> str:
    try:
        host = str(stream.socket.getpeername()[0])  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        return "unknown"
    return client_group(host)


def _bound(listener: trio.SocketListener) -> tuple[str, int]:
    host, port, *_ = listener.socket.getsockname()
    return str(host), int(port)
