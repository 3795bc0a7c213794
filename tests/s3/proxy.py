"""A fault-injecting HTTP proxy on 127.0.0.1 in front of an S3 server (threads, one request per
connection).

Requests are forwarded byte for byte (the ``Host`` header included, so SigV4 signatures stay
valid) with ``Connection: close`` added. Faults are chosen per S3 operation, as the proxy
classifies each request: ``list`` (ListObjectsV2), ``get`` (GetObject), ``delete``
(DeleteObjects), ``copy`` (CopyObject), ``put``, ``head``, ``other``. A fault is one of

* ``500`` / ``503`` / ``slowdown`` / ``denied`` / ``nosuchbucket``: an S3 XML error reply;
* ``error200``: a ``200 OK`` whose body is an ``<Error>`` document (``InternalError``), as S3
  answers a CopyObject that failed after its status line went out;
* ``reset``: the connection is reset (TCP RST) without a reply;
* ``stall``: the request is read and never answered (until the proxy stops);
* ``cut``: GET only, the reply is relayed for ``cut_after`` bytes, then the connection is closed
  (the body ends before its ``Content-Length``);
* ``partial``: DeleteObjects only, the keys for which ``fail_key(key)`` is true are reported in
  the reply's ``<Error>`` list and kept; the others are deleted upstream by the proxy itself.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import urllib.parse
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

_ERRORS = {
    "500": (500, "Internal Server Error", "InternalError", "We encountered an internal error."),
    "503": (503, "Service Unavailable", "ServiceUnavailable", "Please reduce your request rate."),
    "slowdown": (503, "Slow Down", "SlowDown", "Please reduce your request rate."),
    "denied": (403, "Forbidden", "AccessDenied", "Access Denied"),
    "nosuchbucket": (404, "Not Found", "NoSuchBucket", "The specified bucket does not exist"),
}
FAULTS = frozenset({*_ERRORS, "error200", "reset", "stall", "cut", "partial"})


@dataclass
class Fault:
    kind: str
    times: int | None = None  # None: every matching request until cleared
    after: int = 0  # let this many matching requests through first
    cut_after: int = 64 * 1024
    fail_key: Callable[[str], bool] = field(default=lambda key: True)
    #: only requests for object keys this accepts are faulted (None: every key)
    keys: Callable[[str], bool] | None = None


class FaultProxy:
    """Forwards to ``upstream`` (host, port) unless a fault is injected for the operation."""

    def __init__(self, upstream: tuple[str, int], *, s3_client: Any = None) -> None:
        self._upstream = upstream
        self._s3 = s3_client  # used by the "partial" fault to delete the keys that succeed
        self._faults: dict[str, Fault] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._connections: set[socket.socket] = set()
        self.seen: Counter[str] = Counter()
        self.faulted: Counter[str] = Counter()
        #: octets relayed from the server to the client, per operation (headers included)
        self.received: Counter[str] = Counter()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def inject(self, operation: str, kind: str, times: int | None = None, **options: Any) -> None:
        if kind not in FAULTS:
            raise ValueError(f"unknown fault {kind!r}")
        with self._lock:
            self._faults[operation] = Fault(kind, times, **options)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self._listener.close()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- serving ------------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._connections.add(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            request = _read_request(conn)
            if request is None:
                return
            operation = request.operation
            with self._lock:
                self.seen[operation] += 1
                fault = self._take_fault(operation, request.key)
            if fault is None:
                self.received[operation] += self._forward(conn, request)
            else:
                self.faulted[operation] += 1
                self._fail(conn, request, fault)
        except OSError:
            pass
        finally:
            with self._lock:
                self._connections.discard(conn)
            conn.close()

    def _take_fault(self, operation: str, key: str) -> Fault | None:
        fault = self._faults.get(operation)
        if fault is None or (fault.keys is not None and not fault.keys(key)):
            return None
        if fault.after > 0:
            fault.after -= 1
            return None
        if fault.times is not None:
            fault.times -= 1
            if fault.times <= 0:
                del self._faults[operation]
        return fault

    def _forward(self, conn: socket.socket, request: _Request, limit: int | None = None) -> int:
        sent = 0
        with socket.create_connection(self._upstream, timeout=30) as upstream:
            upstream.sendall(request.raw_with_close())
            while chunk := upstream.recv(65536):
                if limit is not None and sent + len(chunk) >= limit:
                    conn.sendall(chunk[: limit - sent])
                    conn.shutdown(socket.SHUT_WR)  # EOF before Content-Length is reached
                    return limit
                conn.sendall(chunk)
                sent += len(chunk)
        return sent

    def _fail(self, conn: socket.socket, request: _Request, fault: Fault) -> None:
        match fault.kind:
            case "reset":
                _reset(conn)
            case "stall":
                self._stop.wait()
            case "cut":
                self._forward(conn, request, limit=fault.cut_after)
            case "partial":
                conn.sendall(self._partial_delete(request, fault.fail_key))
            case "error200":
                conn.sendall(_error_response(200, "OK", *_ERRORS["500"][2:]))
            case kind:
                conn.sendall(_error_response(*_ERRORS[kind]))

    def _partial_delete(self, request: _Request, fail_key: Callable[[str], bool]) -> bytes:
        assert self._s3 is not None, "the partial fault needs the proxy's own S3 client"
        root = ET.fromstring(request.body)
        keys = [element.text or "" for element in root.iter() if element.tag.endswith("Key")]
        failing = [key for key in keys if fail_key(key)]
        passing = [key for key in keys if not fail_key(key)]
        if passing:
            self._s3.delete_objects(
                Bucket=request.bucket,
                Delete={"Objects": [{"Key": key} for key in passing], "Quiet": True},
            )
        errors = "".join(
            f"<Error><Key>{escape(key)}</Key><Code>InternalError</Code>"
            "<Message>We encountered an internal error.</Message></Error>"
            for key in failing
        )
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">{errors}</DeleteResult>'
        ).encode()
        return _response(200, "OK", body)


@dataclass
class _Request:
    method: str
    target: str
    head: bytes
    body: bytes
    headers: dict[str, str]

    @property
    def bucket(self) -> str:
        path = urllib.parse.urlsplit(self.target).path
        return urllib.parse.unquote(path.lstrip("/").split("/", 1)[0])

    @property
    def key(self) -> str:
        path = urllib.parse.urlsplit(self.target).path
        parts = path.lstrip("/").split("/", 1)
        return urllib.parse.unquote(parts[1]) if len(parts) == 2 else ""

    @property
    def operation(self) -> str:
        parts = urllib.parse.urlsplit(self.target)
        query = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
        has_key = "/" in parts.path.lstrip("/") and not parts.path.endswith("/")
        if self.method == "GET" and "list-type" in query:
            return "list"
        if self.method == "GET" and has_key:
            return "get"
        if self.method == "POST" and "delete" in query:
            return "delete"
        if self.method == "PUT" and "x-amz-copy-source" in self.headers:
            return "copy"
        if self.method == "PUT" and has_key:
            return "put"
        if self.method == "HEAD":
            return "head"
        return "other"

    def raw_with_close(self) -> bytes:
        head = self.head.rstrip(b"\r\n") + b"\r\nConnection: close\r\n\r\n"
        return head + self.body


def _read_request(conn: socket.socket) -> _Request | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, target, _version = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "chunked" in headers.get("transfer-encoding", ""):
        raise NotImplementedError("the fault proxy does not relay chunked request bodies")
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        rest += chunk
    kept = [line for line in lines if not line.lower().startswith("connection:")]
    return _Request(method, target, "\r\n".join(kept).encode("latin-1"), rest[:length], headers)


def _response(status: int, reason: str, body: bytes) -> bytes:
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/xml\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


def _error_response(status: int, reason: str, code: str, message: str) -> bytes:
    """An S3 XML ``<Error>`` document under the given status line."""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message>"
        "<RequestId>fault-proxy</RequestId></Error>"
    ).encode()
    return _response(status, reason, body)


def _reset(conn: socket.socket) -> None:
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()
