"""HTTP/1.1 connections to one S3 endpoint, on trio, for the lean GET path (``s3get``).

``http1`` (sans-I/O) formats requests and parses responses; this module owns the sockets: a
bounded set of keep-alive connections per endpoint, connect and read timeouts, and closing.
httpx costs ~0.8 ms of CPU per small GET here, h11 on a trio stream ~0.4 ms (h11 itself
~50 µs of it), which is why the GET path talks HTTP/1.1 this directly.

* At most ``max_connections`` requests are in flight at once (a ``trio.CapacityLimiter``);
  idle connections are reused last-in first-out, dropped after ``IDLE_TIMEOUT`` and never
  reused once the server closed them (a readable idle socket: EOF or stray bytes), as
  urllib3 checks before reuse.
* HTTPS uses one ``ssl`` context per endpoint (the system's CAs, or ``AWS_CA_BUNDLE`` as
  botocore honours it).
* A connection goes back to the idle set only when its response was read to the end, the
  server keeps it alive and sent nothing more; a response left half read (the reader
  stopped, was cancelled or failed) closes its connection, so no stale bytes are ever read
  by the next request. ``Endpoint.open`` + ``Response.release`` are plain calls (no context
  manager: they run for every small message); the caller releases however it ends.
* Failures leave as ``HttpError`` (connection refused/reset, a timeout, a malformed or cut
  short response); callers decide whether to retry.
"""

from __future__ import annotations

import os
import select
import ssl
from collections.abc import AsyncIterator

import trio

from pop3srv import sockio
from pop3srv.storage import http1
from pop3srv.storage.readtimer import ReadTimer

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


class _Conn:
    __slots__ = ("idle_since", "parser", "stream", "timed_out")

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self.parser = http1.ResponseParser()
        self.idle_since = 0.0
        self.timed_out = False


def _time_out(conn: _Conn) -> None:
    """The read timer's verdict on a wait that ran out: mark the connection (never reused)
    and wake its waiter, whose read then fails as a ``ReadTimeoutError``."""
    conn.timed_out = True
    sock = _socket_of(conn.stream)
    if sock is not None and sock.fileno() >= 0:
        trio.lowlevel.notify_closing(sock)  # its waiter: ClosedResourceError; it closes it


class Response:
    """A response's status and headers (names lower case); its body is read with
    ``chunks``/``read``. ``release`` (once, however the exchange ended) gives the connection
    back: kept alive if the body was read to its end, closed otherwise."""

    __slots__ = ("_conn", "_endpoint", "_released", "_token", "headers", "status")

    def __init__(self, head: http1.Head, conn: _Conn, endpoint: Endpoint, token: object) -> None:
        self.status = head.status
        self.headers = head.headers
        self._conn = conn
        self._endpoint = endpoint
        self._token = token  # the limiter slot this exchange holds
        self._released = False

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body, as it arrives."""
        conn = self._conn
        parser = conn.parser
        while True:
            try:
                piece = parser.next_body()
            except http1.ProtocolError as exc:  # e.g. the body ended before Content-Length
                raise HttpError("ResponseStreamingError", "incomplete body") from exc
            if piece:
                yield piece
            elif piece is None:
                await self._endpoint._receive(conn, "ResponseStreamingError")
            else:
                return

    async def read(self) -> bytes:
        """The whole body (for small bodies: error documents, small messages)."""
        return b"".join([chunk async for chunk in self.chunks()])

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._endpoint._release(self._conn, self._token)


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
        self._deadlines = ReadTimer(read_timeout, _time_out)
        self.connections_opened = 0

    @property
    def idle(self) -> int:
        return len(self._idle)

    async def open(self, method: str, target: str, headers: list[tuple[str, str]]) -> Response:
        """Send a bodiless request and read the response's head; the caller must
        ``release()`` the response (a plain method, not a context manager: this runs for
        every small message, see ``s3get``)."""
        data = http1.request(method, target, headers)
        token = object()
        try:  # no schedule point when a slot is free: the exchange below has its own
            self._limiter.acquire_on_behalf_of_nowait(token)
        except trio.WouldBlock:
            await self._limiter.acquire_on_behalf_of(token)
        try:
            conn = await self._connection()
        except BaseException:
            self._limiter.release_on_behalf_of(token)
            raise
        try:
            head = await self._exchange(conn, data)
        except BaseException:
            _close_now(conn.stream)
            self._limiter.release_on_behalf_of(token)
            raise
        return Response(head, conn, self, token)

    async def _exchange(self, conn: _Conn, data: bytes) -> http1.Head:
        try:
            sent = sockio.send_now(conn.stream, data)  # a request fits the socket buffer
            if sent < len(data):
                with trio.CancelScope(deadline=trio.current_time() + self._read_timeout) as scope:
                    await conn.stream.send_all(memoryview(data)[sent:])
                if scope.cancelled_caught:
                    raise trio.TooSlowError
            parser = conn.parser
            # the answer cannot be here yet (the request has just gone out): wait for it
            # first instead of a read that finds nothing (a system call per GET)
            waited = False
            while (head := parser.next_head()) is None:
                await self._receive(conn, "ConnectionClosedError", not waited)
                waited = True
            return head
        except trio.TooSlowError as exc:
            raise HttpError("ReadTimeoutError") from exc
        except (OSError, trio.BrokenResourceError, http1.ProtocolError) as exc:
            raise HttpError("ConnectionClosedError", type(exc).__name__) from exc

    async def _connection(self) -> _Conn:
        now = trio.current_time()
        while self._idle:
            conn = self._idle.pop()
            if now - conn.idle_since < IDLE_TIMEOUT and not _dropped(conn.stream):
                conn.parser = http1.ResponseParser()
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
        return _Conn(stream)

    def _release(self, conn: _Conn, token: object) -> None:
        if conn.parser.reusable and not conn.timed_out:
            conn.idle_since = trio.current_time()
            self._idle.append(conn)
        else:
            _close_now(conn.stream)
        self._limiter.release_on_behalf_of(token)

    def close(self) -> None:
        """Close the idle connections (those in use close when their request ends)."""
        idle, self._idle = self._idle, []
        for conn in idle:
            _close_now(conn.stream)
        self._deadlines.close()

    async def _receive(self, conn: _Conn, failure: str, wait_first: bool = False) -> None:
        """More of the response into ``conn``'s parser, within the read timeout. Bytes already
        waiting are read at once (still a schedule point); ``wait_first``: none can be. A
        plaintext socket is read through ``sockio`` with the deadline kept by
        ``ReadTimer``, a TLS stream under a cancel scope."""
        stream = conn.stream
        try:
            data = None if wait_first else sockio.read_now(stream, RECEIVE_SIZE)
            if data is not None:
                await trio.lowlevel.checkpoint()
            elif type(stream) is trio.SocketStream:
                data = await self._wait_and_read(conn, stream)
            else:
                deadline = trio.current_time() + self._read_timeout
                with trio.CancelScope(deadline=deadline) as scope:
                    data = await sockio.receive_some(stream, RECEIVE_SIZE, wait_first=True)
                if scope.cancelled_caught:
                    raise HttpError("ReadTimeoutError")
        except (OSError, trio.BrokenResourceError) as exc:
            raise HttpError(failure, type(exc).__name__) from exc
        assert data is not None
        conn.parser.receive_data(data)  # b"" marks the end; the parser then reports a short body

    async def _wait_and_read(self, conn: _Conn, stream: trio.SocketStream) -> bytes:
        sock = stream.socket
        if sock.fileno() == -1:
            raise trio.ClosedResourceError("socket was already closed")
        deadlines = self._deadlines
        deadlines.arm(conn)
        try:
            while True:
                await trio.lowlevel.wait_readable(sock)
                data = sockio.read_now(stream, RECEIVE_SIZE)
                if data is not None:  # else a spurious wake-up
                    return data
        except trio.ClosedResourceError as exc:
            if conn.timed_out:  # the ReadTimer woke this wait: the read timed out
                raise HttpError("ReadTimeoutError") from exc
            raise
        finally:
            deadlines.disarm(conn)


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
