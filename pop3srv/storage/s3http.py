"""HTTP/1.1 connections to one S3 endpoint, on trio, for the lean GET path (``s3get``).

h11 (python-hyper's sans-I/O HTTP/1.1, already installed with httpx) parses and frames; this
module owns the sockets: a bounded set of keep-alive connections per endpoint, connect and
read timeouts, and closing. httpx itself costs ~0.8 ms of CPU per small GET here against
~0.4 ms for h11 on a trio stream, which is why the GET path talks h11 directly.

* At most ``max_connections`` requests are in flight at once (a ``trio.CapacityLimiter``);
  idle connections are reused last-in first-out, dropped after ``IDLE_TIMEOUT`` and never
  reused once the server closed them (a readable idle socket: EOF or stray bytes), as
  urllib3 checks before reuse.
* HTTPS uses one ``ssl`` context per endpoint (the system's CAs, or ``AWS_CA_BUNDLE`` as
  botocore honours it).
* A connection goes back to the idle set only when its response was read to the end and
  both sides keep it alive; a response left half read (the reader stopped, was cancelled or
  failed) closes its connection, so no stale bytes are ever read by the next request.
* Failures leave as ``HttpError`` (connection refused/reset, a timeout, a malformed or cut
  short response); callers decide whether to retry.
"""

from __future__ import annotations

import os
import select
import ssl
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import h11
import trio

RECEIVE_SIZE = 256 * 1024
IDLE_TIMEOUT = 50.0  # S3 closes idle connections after ~20-60 s; drop them before it does


class HttpError(Exception):
    """The request failed below HTTP: connect, timeout, reset, malformed or short response.

    ``code`` names the failure as botocore would (``EndpointConnectionError``,
    ``ConnectTimeoutError``, ``ReadTimeoutError``, ``ConnectionClosedError``,
    ``ResponseStreamingError``), so logs and metrics read the same on either path.
    """

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code


@dataclass
class _Conn:
    stream: trio.abc.Stream
    h11: h11.Connection
    idle_since: float = 0.0


@dataclass
class Response:
    """A response's status and headers; its body is read with ``chunks``/``read``."""

    status: int
    headers: Sequence[tuple[bytes, bytes]]
    _conn: _Conn = field(repr=False)
    _timeout: float = field(repr=False)
    complete: bool = False

    def header(self, name: bytes) -> str | None:
        """A header's value (``name`` lower case), or None."""
        for key, value in self.headers:
            if key == name:
                return value.decode("latin-1")
        return None

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body, as it arrives."""
        conn = self._conn
        while not self.complete:
            try:
                event = conn.h11.next_event()
            except h11.ProtocolError as exc:  # e.g. the body ended before Content-Length
                raise HttpError("ResponseStreamingError", "incomplete body") from exc
            if event is h11.NEED_DATA:
                await _receive(conn, self._timeout, "ResponseStreamingError")
            elif isinstance(event, h11.Data):
                yield bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                self.complete = True
            else:
                raise HttpError("ResponseStreamingError", f"unexpected {type(event).__name__}")

    async def read(self) -> bytes:
        """The whole body (for small bodies: error documents, small messages)."""
        return b"".join([chunk async for chunk in self.chunks()])


class Endpoint:
    """Keep-alive connections to one ``scheme://host:port``."""

    def __init__(
        self,
        scheme: str,
        host: str,
        port: int,
        *,
        max_connections: int,
        connect_timeout: float,
        read_timeout: float,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.host, self.port = host, port
        self._tls = scheme == "https"
        self._ssl_context = ssl_context
        self._limiter = trio.CapacityLimiter(max_connections)
        self._idle: list[_Conn] = []
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self.connections_opened = 0

    @property
    def in_flight(self) -> int:
        return self._limiter.borrowed_tokens

    @property
    def idle(self) -> int:
        return len(self._idle)

    @asynccontextmanager
    async def request(
        self, method: str, target: str, headers: list[tuple[str, str]]
    ) -> AsyncIterator[Response]:
        """Send a bodiless request; yields the response (status and headers read)."""
        async with self._limiter:
            conn = await self._connection()
            try:
                response = await self._exchange(conn, method, target, headers)
            except BaseException:
                _close_now(conn.stream)
                raise
            try:
                yield response
            except BaseException:
                _close_now(conn.stream)
                raise
            self._release(conn, response)

    async def _exchange(
        self, conn: _Conn, method: str, target: str, headers: list[tuple[str, str]]
    ) -> Response:
        try:
            data = conn.h11.send(h11.Request(method=method, target=target, headers=headers))
            data += conn.h11.send(h11.EndOfMessage())
            with trio.fail_after(self._read_timeout):
                await conn.stream.send_all(data)
            while True:
                event = conn.h11.next_event()
                if event is h11.NEED_DATA:
                    await _receive(conn, self._read_timeout, "ConnectionClosedError")
                elif isinstance(event, h11.Response):
                    return Response(event.status_code, event.headers, conn, self._read_timeout)
                elif not isinstance(event, h11.InformationalResponse):
                    raise HttpError("ConnectionClosedError", f"unexpected {type(event).__name__}")
        except trio.TooSlowError as exc:
            raise HttpError("ReadTimeoutError") from exc
        except (OSError, trio.BrokenResourceError, h11.ProtocolError) as exc:
            raise HttpError("ConnectionClosedError", type(exc).__name__) from exc

    async def _connection(self) -> _Conn:
        now = trio.current_time()
        while self._idle:
            conn = self._idle.pop()
            if now - conn.idle_since < IDLE_TIMEOUT and not _dropped(conn.stream):
                return conn
            _close_now(conn.stream)
        try:
            with trio.fail_after(self._connect_timeout):
                stream: trio.abc.Stream = await trio.open_tcp_stream(self.host, self.port)
                if self._tls:
                    if self._ssl_context is None:
                        cafile = os.environ.get("AWS_CA_BUNDLE") or None
                        self._ssl_context = ssl.create_default_context(cafile=cafile)
                    tls = trio.SSLStream(stream, self._ssl_context, server_hostname=self.host)
                    await tls.do_handshake()
                    stream = tls
        except trio.TooSlowError as exc:
            raise HttpError("ConnectTimeoutError") from exc
        except (OSError, trio.BrokenResourceError) as exc:
            raise HttpError("EndpointConnectionError", type(exc).__name__) from exc
        self.connections_opened += 1
        return _Conn(stream, h11.Connection(h11.CLIENT, max_incomplete_event_size=64 * 1024))

    def _release(self, conn: _Conn, response: Response) -> None:
        state = conn.h11
        if response.complete and state.our_state is h11.DONE and state.their_state is h11.DONE:
            state.start_next_cycle()
            conn.idle_since = trio.current_time()
            self._idle.append(conn)
        else:
            _close_now(conn.stream)

    def close(self) -> None:
        """Close the idle connections (those in use close when their request ends)."""
        idle, self._idle = self._idle, []
        for conn in idle:
            _close_now(conn.stream)


async def _receive(conn: _Conn, timeout: float, failure: str) -> None:
    try:
        with trio.fail_after(timeout):
            data = await conn.stream.receive_some(RECEIVE_SIZE)
    except trio.TooSlowError as exc:
        raise HttpError("ReadTimeoutError") from exc
    except (OSError, trio.BrokenResourceError) as exc:
        raise HttpError(failure, type(exc).__name__) from exc
    conn.h11.receive_data(bytes(data))  # b"" marks the end; h11 then reports a short body


def _socket_of(stream: trio.abc.Stream) -> trio.socket.SocketType | None:
    inner: object = stream
    while isinstance(inner, trio.SSLStream):
        inner = inner.transport_stream
    return inner.socket if isinstance(inner, trio.SocketStream) else None


def _dropped(stream: trio.abc.Stream) -> bool:
    """An idle connection the server closed (or wrote to): readable without a request."""
    sock = _socket_of(stream)
    if sock is None or sock.fileno() < 0:
        return True
    readable, _, _ = select.select([sock.fileno()], [], [], 0)
    return bool(readable)


def _close_now(stream: trio.abc.Stream) -> None:
    """Close a connection without waiting (no TLS close_notify: it may be mid-response)."""
    sock = _socket_of(stream)
    if sock is not None:
        sock.close()
