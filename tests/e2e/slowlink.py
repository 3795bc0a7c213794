"""A TCP proxy on 127.0.0.1 that relays responses at a fixed rate: a slow link between pop3srv
and S3 (bench/delay_proxy.py delays requests; this one limits the bandwidth of replies).

    with SlowLink(("127.0.0.1", 8333), bytes_per_second=2 << 20) as link:
        endpoint = link.endpoint_url
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time

CHUNK = 32 * 1024


class SlowLink:
    """Forwards ``127.0.0.1:<port>`` to ``upstream``; upstream's bytes flow back at
    ``bytes_per_second`` per connection, requests go up at once."""

    def __init__(self, upstream: tuple[str, int], bytes_per_second: int) -> None:
        self.upstream = upstream
        self.rate = bytes_per_second
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._closed = threading.Event()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> SlowLink:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
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
            server = socket.create_connection(self.upstream)
            with self._lock:
                self._sockets += [client, server]
            threading.Thread(target=self._relay, args=(client, server, 0), daemon=True).start()
            threading.Thread(
                target=self._relay, args=(server, client, self.rate), daemon=True
            ).start()

    @staticmethod
    def _relay(source: socket.socket, sink: socket.socket, rate: int) -> None:
        started = time.monotonic()
        sent = 0
        try:
            while data := source.recv(CHUNK):
                sink.sendall(data)
                sent += len(data)
                if rate:
                    ahead = sent / rate - (time.monotonic() - started)
                    if ahead > 0:
                        time.sleep(ahead)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)
