"""A minimal blocking POP3 client over a raw socket, for byte-exact and abuse tests."""

from __future__ import annotations

import socket
import ssl


class RawClient:
    """Sends raw bytes, reads replies line by line or whole multi-line bodies."""

    def __init__(self, port: int, *, tls: ssl.SSLContext | None = None, timeout: float = 30.0):
        sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock: socket.socket = (
            tls.wrap_socket(sock, server_hostname="localhost") if tls else sock
        )
        self.file = self.sock.makefile("rb")
        self.greeting = self.line()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def line(self) -> bytes:
        return self.file.readline()

    def command(self, text: str) -> bytes:
        self.send(text.encode() + b"\r\n")
        return self.line()

    def body(self) -> bytes:
        """Read a multi-line body up to the terminator; returns it unstuffed, CRLFs kept."""
        parts: list[bytes] = []
        while True:
            raw = self.file.readline()
            if not raw:
                raise ConnectionError("connection closed inside a multi-line reply")
            assert raw.endswith(b"\r\n"), raw[-20:]
            if raw == b".\r\n":
                return b"".join(parts)
            parts.append(raw[1:] if raw.startswith(b".") else raw)

    def login(self, user: str, password: str) -> bytes:
        assert self.command(f"USER {user}").startswith(b"+OK")
        return self.command(f"PASS {password}")

    def close(self) -> None:
        self.file.close()
        self.sock.close()
