"""Cutting a raw message down to what TOP returns (RFC 1939 section 7, TOP msg n).

``TopFilter`` owns that cut only: it passes on the header block, the blank line ending it and
at most ``lines`` body lines, from raw chunks split anywhere. Lines may end with CRLF or a bare
LF; the output is raw bytes for ``BodyEncoder`` to normalise and dot-stuff. A message without a
blank line is all headers. ``done`` tells the caller it may stop reading the message.
"""

from __future__ import annotations

from enum import Enum


class _Partial(Enum):
    """What the unfinished header line holds so far."""

    EMPTY = 0  # nothing: the line would be blank if an LF came now
    CR = 1  # a single CR: still blank if an LF came now (CRLF)
    TEXT = 2  # anything else: not a blank line


class TopFilter:
    """Passes the headers, the separating blank line and the first ``lines`` body lines."""

    def __init__(self, lines: int) -> None:
        if lines < 0:
            raise ValueError("lines must be >= 0")
        self._remaining = lines  # body lines still to pass once in the body
        self._in_body = False
        self._partial = _Partial.EMPTY
        self._done = False

    @property
    def done(self) -> bool:
        """True once no further input can change the output."""
        return self._done

    def feed(self, chunk: bytes) -> bytes:
        """The part of ``chunk`` that belongs in the TOP reply (nothing once ``done``)."""
        if self._done:
            return b""
        if self._in_body:
            return self._body(chunk)
        pos = 0
        while True:
            nl = chunk.find(b"\n", pos)
            if nl < 0:
                self._partial = self._extend(self._partial, chunk[pos:])
                return chunk
            if self._extend(self._partial, chunk[pos:nl]) is not _Partial.TEXT:
                self._in_body = True
                return chunk[: nl + 1] + self._body(chunk[nl + 1 :])
            self._partial = _Partial.EMPTY
            pos = nl + 1

    def _body(self, chunk: bytes) -> bytes:
        end = 0
        while self._remaining > 0:
            nl = chunk.find(b"\n", end)
            if nl < 0:
                return chunk
            end = nl + 1
            self._remaining -= 1
        self._done = True
        return chunk[:end]

    @staticmethod
    def _extend(partial: _Partial, data: bytes) -> _Partial:
        if not data:
            return partial
        if partial is _Partial.EMPTY and data == b"\r":
            return _Partial.CR
        return _Partial.TEXT
