"""Splitting the client's byte stream into command lines, with bounded memory.

``LineBuffer`` owns line framing only: CRLF or a bare LF ends a line, one trailing CR is
stripped, and a line whose content (terminator excluded) is longer than ``max_line`` octets is
never stored. Such a line is reported once, as ``TOO_LONG``, as soon as it is known to be too
long (even before its LF arrives), and its remaining bytes are discarded up to the next LF. The
buffer therefore never holds more than ``max_line + 1`` octets of an unfinished line, however
the data is split. What a line means is the parser's business. ``unfinished_from`` tells where
(as an offset in the byte stream) the line not finished yet began, so the transport can bound
how long one line may take (a client trickling a byte at a time).
"""

from __future__ import annotations

from collections import deque
from enum import Enum
from typing import Final


class Overlong(Enum):
    """Marker returned by ``LineBuffer.next_line`` in place of an over-long line."""

    TOO_LONG = "TOO_LONG"


TOO_LONG: Final = Overlong.TOO_LONG


class LineBuffer:
    """Accumulates received bytes and hands out complete lines, oldest first."""

    def __init__(self, max_line: int) -> None:
        if max_line < 1:
            raise ValueError("max_line must be positive")
        self._max = max_line
        self._lines: deque[bytes | Overlong] = deque()
        self._line_bytes = 0  # octets held in self._lines
        self._partial = bytearray()  # the unfinished last line
        self._discarding = False  # dropping the rest of an over-long line
        self._fed = 0  # octets fed so far: offsets in the byte stream
        self._discarded_from = 0  # where the line being discarded began

    @property
    def max_line(self) -> int:
        return self._max

    @property
    def buffered(self) -> int:
        """Octets held (complete lines plus the unfinished one); for tests and metrics."""
        return self._line_bytes + len(self._partial)

    @property
    def unfinished_from(self) -> int | None:
        """Where the line not finished yet began (an octet offset in everything ever fed, so a
        new line never has the offset of an earlier one), or None if the last octet fed ended
        a line. A line being discarded (over-long) counts: it is not
        finished until its LF."""
        if self._discarding:
            return self._discarded_from
        if self._partial:
            return self._fed - len(self._partial)
        return None

    @property
    def has_line(self) -> bool:
        """Whether a complete line (or ``TOO_LONG``) is waiting for ``next_line``."""
        return bool(self._lines)

    def feed(self, data: bytes) -> None:
        """Adds received bytes; they may end anywhere, even inside a CRLF."""
        self._fed += len(data)
        whole = data.endswith(b"\n") and data.count(b"\n") == 1
        if whole and not self._partial and not self._discarding:
            # the usual case, one whole command line: the same framing, shorter
            line = data[:-2] if data.endswith(b"\r\n") else data[:-1]
            self._push(line if len(line) <= self._max else TOO_LONG)
            return
        pos, end = 0, len(data)
        while pos < end:
            nl = data.find(b"\n", pos)
            if nl < 0:
                self._feed_unfinished(data, pos)
                return
            if self._discarding:
                self._discarding = False
            else:
                self._finish_line(data, pos, nl)
            pos = nl + 1

    def next_line(self) -> bytes | Overlong | None:
        """The oldest complete line (without its terminator), ``TOO_LONG``, or None if none."""
        if not self._lines:
            return None
        line = self._lines.popleft()
        if isinstance(line, bytes):
            self._line_bytes -= len(line)
        return line

    def clear(self) -> None:
        """Forgets everything received so far (used after STLS, see RFC 2595 section 4)."""
        self._lines.clear()
        self._line_bytes = 0
        self._partial.clear()
        self._discarding = False

    def _feed_unfinished(self, data: bytes, pos: int) -> None:
        if self._discarding:
            return
        size = len(self._partial) + len(data) - pos
        # One octet over the limit is fine while it is a CR that may turn out to precede the LF.
        if size > self._max + 1 or (size == self._max + 1 and data[-1:] != b"\r"):
            self._push(TOO_LONG)
            self._discarded_from = self._fed - len(data) + pos - len(self._partial)
            self._partial.clear()
            self._discarding = True
        else:
            self._partial += data[pos:]

    def _finish_line(self, data: bytes, pos: int, nl: int) -> None:
        size = len(self._partial) + nl - pos
        last = data[nl - 1 : nl] if nl > pos else self._partial[-1:]
        if last == b"\r":
            size -= 1
        if size > self._max:
            self._push(TOO_LONG)
        else:
            self._partial += data[pos:nl]
            self._push(bytes(self._partial[:size]))
        self._partial.clear()

    def _push(self, line: bytes | Overlong) -> None:
        self._lines.append(line)
        if isinstance(line, bytes):
            self._line_bytes += len(line)
