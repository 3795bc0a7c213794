"""HTTP/1.1 for the lean S3 GET path, sans-I/O: a bodiless request's bytes, and the responses of
one connection parsed from the bytes it receives (status, headers, body framing, keep-alive).

h11 did this job first; it cost ~50 µs of CPU per small GET here (event objects, header
validation by regular expression, a state machine for both peers), a tenth of the server's
CPU per small message retrieved from S3. This codec does only what a client of S3 needs, and
checks what matters to it:

* a response head (status line and headers) is at most ``MAX_HEAD`` octets, lines end in CRLF,
  the version is ``HTTP/1.x``, the status three digits, every header ``name: value`` with a
  token name; 1xx responses are skipped; anything else is a ``ProtocolError``;
* the body is framed as RFC 9112 section 6.3 says: none for 204/304 (and HEAD), chunked
  transfer coding, else ``Content-Length`` (all copies equal, digits only), else up to the
  connection's end; a body cut short (the connection ends early) is a ``ProtocolError``;
* a connection is reusable after a response only if it was HTTP/1.1 without
  ``Connection: close``, its body was read to its end, and nothing else arrived after it;
* header names and values we send never contain CR or LF (``ValueError``).
"""

from __future__ import annotations

import re

MAX_HEAD = 64 * 1024
MAX_CHUNK_LINE = 4 * 1024
_STATUS = re.compile(r"HTTP/1\.([0-9]) ([0-9]{3})(?: [^\r\n]*)?")
_HEAD = re.compile(
    r"HTTP/1\.([0-9]) ([0-9]{3})(?: [^\r\n]*)?\r\n"
    r"((?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[^\r\n]*\r\n)*)"
)
_HEX = re.compile(rb"[0-9A-Fa-f]{1,16}")

# body framing
_NONE, _LENGTH, _CHUNKED, _TO_CLOSE = range(4)
# chunked states
_SIZE, _DATA, _DATA_END, _TRAILER = range(4)


class ProtocolError(Exception):
    """The peer sent something that is not a well-formed HTTP/1.1 response (or ended early)."""


def request(method: str, target: str, headers: list[tuple[str, str]]) -> bytes:
    """The bytes of a bodiless request (the caller includes ``host``)."""
    lines = [f"{method} {target} HTTP/1.1\r\n"]
    for name, value in headers:
        if "\n" in value or "\r" in value or "\n" in name or "\r" in name:
            raise ValueError(f"line break in the header {name!r}")
        lines.append(f"{name}: {value}\r\n")
    lines.append("\r\n")
    text = "".join(lines)
    if " " in target or "\n" in target or "\r" in target:
        raise ValueError("the request target contains a space or a line break")
    return text.encode("ascii")


class Head:
    """A response's status line and headers (names lower case, repeated ones joined by ``, ``)."""

    __slots__ = ("headers", "status")

    def __init__(self, status: int, headers: dict[str, str]) -> None:
        self.status = status
        self.headers = headers


class ResponseParser:
    """The responses arriving on one client connection, one after another.

    Feed what the socket gave with ``receive_data`` (``b""``: the peer closed), then take the
    head with ``next_head`` and the body with ``next_body`` (both None: more data needed);
    ``complete`` says the body was read to its end.
    """

    def __init__(self, *, head_request: bool = False) -> None:
        self._buffer = b""
        self._eof = False
        self._head_request = head_request
        self._framing = _NONE
        self._remaining = 0
        self._chunk_state = _SIZE
        self._keep_alive = False
        self.complete = False
        self.head: Head | None = None

    @property
    def reusable(self) -> bool:
        """Whether the connection may carry another request now."""
        return self.complete and self._keep_alive and not self._eof and not self._buffer

    def receive_data(self, data: bytes) -> None:
        if not data:
            self._eof = True
        elif self._buffer:
            self._buffer += data
        else:
            self._buffer = data

    def next_head(self) -> Head | None:
        """The response's head once it is all here (1xx responses skipped), else None."""
        while self.head is None:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > MAX_HEAD:
                    raise ProtocolError("response head too long")
                if self._eof:
                    raise ProtocolError("connection closed before a response")
                return None
            if end > MAX_HEAD:
                raise ProtocolError("response head too long")
            block, self._buffer = self._buffer[:end], self._buffer[end + 4 :]
            head, version = _parse_head(block)
            if 100 <= head.status < 200:
                continue  # an interim response (100 Continue, ...): the real one follows
            self._start_body(head, version)
            self.head = head
        return self.head

    def _start_body(self, head: Head, version: int) -> None:
        headers = head.headers
        connection = headers.get("connection")
        if connection is None:
            self._keep_alive = version == 1
        else:
            tokens = {t.strip() for t in connection.lower().split(",")}
            self._keep_alive = version == 1 and "close" not in tokens
        coding = headers.get("transfer-encoding")
        length = headers.get("content-length")
        if self._head_request or head.status in (204, 304):
            self._framing = _NONE
        elif coding is not None:
            if coding.lower().rsplit(",", 1)[-1].strip() == "chunked":
                self._framing = _CHUNKED
            else:
                self._framing, self._keep_alive = _TO_CLOSE, False
        elif length is not None:
            if "," in length:
                values = {v.strip() for v in length.split(",")}
                value = values.pop() if len(values) == 1 else ""
            else:
                value = length.strip()
            if not value.isdigit() or not value.isascii() or len(value) > 18:
                raise ProtocolError("bad Content-Length")
            self._framing, self._remaining = _LENGTH, int(value)
        else:
            self._framing, self._keep_alive = _TO_CLOSE, False
        self.complete = self._framing == _NONE or (
            self._framing == _LENGTH and self._remaining == 0
        )

    def next_body(self) -> bytes | None:
        """The next piece of the body: non-empty bytes; ``b""`` at its end (``complete``);
        None when more data is needed."""
        if self.complete:
            return b""
        if self._framing == _LENGTH:
            return self._length_piece()
        if self._framing == _CHUNKED:
            return self._chunked_piece()
        if self._buffer:  # up to the connection's end
            piece, self._buffer = self._buffer, b""
            return piece
        if self._eof:
            self.complete = True
            return b""
        return None

    def _length_piece(self) -> bytes | None:
        piece = self._take()
        if piece is not None:
            self.complete = self._remaining == 0
        return piece

    def _take(self) -> bytes | None:
        """Up to ``_remaining`` buffered body bytes (None: none buffered yet)."""
        buffer = self._buffer
        if not buffer:
            if self._eof:
                raise ProtocolError("incomplete body")
            return None
        if len(buffer) <= self._remaining:
            piece, self._buffer = buffer, b""
        else:
            piece, self._buffer = buffer[: self._remaining], buffer[self._remaining :]
        self._remaining -= len(piece)
        return piece

    def _chunked_piece(self) -> bytes | None:
        while True:
            if self._chunk_state == _DATA:
                piece = self._take()
                if piece is not None and not self._remaining:
                    self._chunk_state = _DATA_END
                return piece
            line = self._line()
            if line is None:
                return None
            if self._chunk_state == _SIZE:
                size_text = line.split(b";", 1)[0].strip()
                if not _HEX.fullmatch(size_text):
                    raise ProtocolError("bad chunk size")
                self._remaining = int(size_text, 16)
                self._chunk_state = _DATA if self._remaining else _TRAILER
            elif self._chunk_state == _DATA_END:
                if line:
                    raise ProtocolError("chunk longer than its size")
                self._chunk_state = _SIZE
            elif not line:  # _TRAILER: trailer fields end with an empty line
                self.complete = True
                return b""

    def _line(self) -> bytes | None:
        end = self._buffer.find(b"\r\n")
        if end < 0:
            if len(self._buffer) > MAX_CHUNK_LINE:
                raise ProtocolError("chunk line too long")
            if self._eof:
                raise ProtocolError("incomplete body")
            return None
        line, self._buffer = self._buffer[:end], self._buffer[end + 2 :]
        return line


def _parse_head(block: bytes) -> tuple[Head, int]:
    # one regular expression checks the status line and every header line at once (token
    # name, no CR or LF in a value): a check per line was most of this function's cost
    text = block.decode("latin-1") + "\r\n"
    head = _HEAD.fullmatch(text)
    if head is None:
        if _STATUS.fullmatch(text.partition("\r\n")[0]) is None:
            raise ProtocolError("malformed status line")
        raise ProtocolError("malformed header line")
    version, status, rest = head.groups()
    headers: dict[str, str] = {}
    if rest:
        for line in rest[:-2].split("\r\n"):
            name, _, value = line.partition(":")
            key, value = name.lower(), value.strip(" \t")
            if key in headers:
                headers[key] = f"{headers[key]}, {value}"
            else:
                headers[key] = value
    return Head(int(status), headers), int(version)
