"""Typed POP3 events: what the client sends (commands) and what the server replies.

Commands are named after their RFC 1939 / 2449 / 2595 / 5034 keywords. They are produced by
``Connection.next_event()``. Replies are passed to ``Connection.send()``, which turns them into
bytes. All events are frozen dataclasses; nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Final


class Sentinel(Enum):
    """Markers returned by ``next_event`` instead of an event."""

    NEED_DATA = "NEED_DATA"  # the buffer holds no complete line yet
    PAUSED = "PAUSED"  # a command is awaiting its reply; send it first


# Final, so that ``event is NEED_DATA`` narrows the type of ``event`` for mypy.
NEED_DATA: Final = Sentinel.NEED_DATA
PAUSED: Final = Sentinel.PAUSED


# --- commands (client -> server) -----------------------------------------------------------


@dataclass(frozen=True)
class User:
    name: str


@dataclass(frozen=True)
class Pass:
    password: str = field(repr=False)


@dataclass(frozen=True)
class Quit:
    pass


@dataclass(frozen=True)
class Stat:
    pass


@dataclass(frozen=True)
class List:
    msg: int | None = None


@dataclass(frozen=True)
class Retr:
    msg: int


@dataclass(frozen=True)
class Dele:
    msg: int


@dataclass(frozen=True)
class Noop:
    pass


@dataclass(frozen=True)
class Rset:
    pass


@dataclass(frozen=True)
class Top:
    msg: int
    lines: int


@dataclass(frozen=True)
class Uidl:
    msg: int | None = None


@dataclass(frozen=True)
class Capa:
    pass


@dataclass(frozen=True)
class Stls:
    pass


@dataclass(frozen=True)
class Utf8:
    """UTF8 (RFC 6856 section 2): UTF-8 user names and passwords from now on."""


@dataclass(frozen=True)
class Auth:
    """AUTH [mechanism [initial-response]]; ``mechanism`` is upper-cased, None lists mechanisms."""

    mechanism: str | None = None
    initial_response: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class AuthResponse:
    """A SASL continuation line (base64 text) sent after a ``Continue`` reply."""

    data: str = field(repr=False)


@dataclass(frozen=True)
class AuthCancel:
    """The client answered a ``Continue`` with ``*`` (RFC 5034 section 4)."""


@dataclass(frozen=True)
class BadCommand:
    """A line that is not a valid command here; ``reply`` is the -ERR to send for it.

    Covers unknown keywords, bad arguments, commands not allowed in the current state,
    undecodable bytes and over-long lines (``too_long`` is then True).
    """

    reply: Err
    too_long: bool = False


Command = (
    User
    | Pass
    | Quit
    | Stat
    | List
    | Retr
    | Dele
    | Noop
    | Rset
    | Top
    | Uidl
    | Capa
    | Stls
    | Utf8
    | Auth
    | AuthResponse
    | AuthCancel
    | BadCommand
)


@dataclass(frozen=True)
class ConnectionClosed:
    """The client closed its side (EOF) or the session is over (after QUIT or ``goodbye``).

    Returned by ``next_event`` once every complete line received before the EOF was handled, and
    from then on every time it is called. Not a command: it is never replied to.
    """


Event = Command | ConnectionClosed


# --- replies (server -> client) -------------------------------------------------------------


@dataclass(frozen=True)
class Ok:
    """``+OK text``."""

    text: str = ""


@dataclass(frozen=True)
class Err:
    """``-ERR [code] text``; ``code`` is an RFC 2449/3206 response code such as ``AUTH``,
    ``SYS/TEMP``, ``SYS/PERM``, ``IN-USE`` or ``LOGIN-DELAY``."""

    text: str
    code: str | None = None


@dataclass(frozen=True)
class Continue:
    """``+ challenge`` (SASL continuation, RFC 5034); the next line is an ``AuthResponse``."""

    challenge: str = ""


@dataclass(frozen=True)
class MultiLine:
    """``+OK text`` then each line (dot-stuffed) then ``.`` (CAPA, LIST, UIDL, AUTH list)."""

    text: str
    lines: Sequence[str] = ()


@dataclass(frozen=True)
class BeginData:
    """``+OK text`` opening a streamed body (RETR, TOP); follow with ``Data``s, then ``EndData``."""

    text: str = ""


@dataclass(frozen=True)
class Data:
    """A chunk of raw message bytes; CRLF-normalised and dot-stuffed by the writer."""

    chunk: bytes = field(repr=False)


@dataclass(frozen=True)
class EndData:
    """Ends a streamed body: completes the last line if needed, then ``.`` CRLF."""


Reply = Ok | Err | Continue | MultiLine | BeginData | Data | EndData
