"""A TCP proxy on loopback that adds a fixed delay to every request it forwards.

It stands for the network between pop3srv and a remote S3 endpoint (10-30 ms from EC2, more
from outside AWS): each burst of bytes from the client that starts a new request (the first
bytes after the previous response began, or on a new connection) waits ``delay`` seconds
before it goes upstream; responses flow back at once. Every connection gets its own pair of
threads, so parallel requests are delayed in parallel, as on a real network.

    with DelayProxy(("127.0.0.1", 8333), delay=0.020) as proxy:
        endpoint = proxy.endpoint_url
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time


class DelayProxy:
    """Forwards ``127.0.0.1:<port>`` to ``upstream``, delaying each request by ``delay`` s."""

    def __init__(self, upstream: tuple[str, int], delay: float) -> None:
        self.upstream = upstream
        self.delay = delay
        self.requests = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._closed = threading.Event()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> DelayProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._closed.set()
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.upstream)
            for sock in (client, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._sockets += [client, upstream]
            # the request direction knows when a response started, to tell requests apart
            answered = threading.Event()
            answered.set()
            threading.Thread(
                target=self._requests, args=(client, upstream, answered), daemon=True
            ).start()
            threading.Thread(
                target=self._responses, args=(upstream, client, answered), daemon=True
            ).start()

    def _requests(
        self, source: socket.socket, sink: socket.socket, answered: threading.Event
    ) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                if answered.is_set():  # the first bytes of a new request
                    answered.clear()
                    self.requests += 1
                    time.sleep(self.delay)
                sink.sendall(data)
        _shutdown(sink)

    def _responses(
        self, source: socket.socket, sink: socket.socket, answered: threading.Event
    ) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                answered.set()
                sink.sendall(data)
        _shutdown(sink)


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_WR)
