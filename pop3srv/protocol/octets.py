"""Counting the octets a message takes on the wire (RFC 1939 section 11).

``WireSize`` owns one number: how many octets ``BodyEncoder`` delivers for a message, before
dot-stuffing and without the terminating ``.`` line, which is what LIST, STAT and the RETR status
line must announce. A bare LF counts as CRLF (two octets); a last line without a terminator
counts the CRLF the encoder adds. Chunks may be split anywhere (a CRLF across two chunks counts
once). Pure: no I/O.
"""

from __future__ import annotations


class WireSize:
    """Feed a message's raw chunks in order; ``total`` is its size as RETR sends it."""

    def __init__(self) -> None:
        self._stored = 0  # octets fed
        self._bare_lf = 0  # LFs not preceded by CR
        self._last = b""  # the last octet fed (b"" before any)

    def feed(self, chunk: bytes) -> None:
        if not chunk:
            return
        lf = chunk.count(b"\n")
        if lf:
            crlf = chunk.count(b"\r\n") + (self._last == b"\r" and chunk[:1] == b"\n")
            self._bare_lf += lf - crlf
        self._stored += len(chunk)
        self._last = chunk[-1:]

    @property
    def total(self) -> int:
        unterminated = self._stored > 0 and self._last != b"\n"
        return self._stored + self._bare_lf + (2 if unterminated else 0)


def wire_size(raw: bytes) -> int:
    """The on-the-wire size of a whole message held in memory."""
    counter = WireSize()
    counter.feed(raw)
    return counter.total
